import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstAcDecision, ZERO_OFFLINE_COUNTERS, type RiskInput } from './card-risk-management';

const LIMITS = { lowerConsecutive: 2, upperConsecutive: 4, amountMinor: 10_000, currency: 978 };
const base: RiskInput = {
  requested: 'tc',
  limits: LIMITS,
  counters: ZERO_OFFLINE_COUNTERS,
  amountMinor: 1_250,
  currency: 978,
  cvmFailed: false,
};

describe('card risk management at the first GENERATE AC', () => {
  it('a TC request within all limits is a TC and moves both counters', () => {
    const d = firstAcDecision(base);
    expect(d).toMatchObject({
      acType: 'tc',
      lowerConsecutiveOfflineLimitExceeded: false,
      upperConsecutiveOfflineLimitExceeded: false,
      offlineAmountLimitExceeded: false,
    });
    expect(d.counters).toEqual({ consecutive: 1, cumulativeMinor: 1_250 });
  });

  it('beyond the lower consecutive limit: ARQC (go online), counters unchanged, CVR bit set', () => {
    const counters = { consecutive: 2, cumulativeMinor: 2_500 };
    const d = firstAcDecision({ ...base, counters });
    expect(d).toMatchObject({
      acType: 'arqc',
      lowerConsecutiveOfflineLimitExceeded: true,
      upperConsecutiveOfflineLimitExceeded: false,
    });
    expect(d.counters).toBe(counters);
  });

  it('beyond the upper consecutive limit: AAC (decline), both bits set', () => {
    const d = firstAcDecision({ ...base, counters: { consecutive: 4, cumulativeMinor: 0 } });
    expect(d).toMatchObject({
      acType: 'aac',
      lowerConsecutiveOfflineLimitExceeded: true,
      upperConsecutiveOfflineLimitExceeded: true,
    });
  });

  it('the cumulative amount: up to the limit is a TC, one minor unit more an ARQC', () => {
    expect(firstAcDecision({ ...base, counters: { consecutive: 1, cumulativeMinor: 8_750 } }).acType).toBe(
      'tc',
    );
    const d = firstAcDecision({ ...base, counters: { consecutive: 1, cumulativeMinor: 8_751 } });
    expect(d).toMatchObject({ acType: 'arqc', offlineAmountLimitExceeded: true });
  });

  it('another currency or an unreadable amount is never approved offline', () => {
    expect(firstAcDecision({ ...base, currency: 840 })).toMatchObject({
      acType: 'arqc',
      offlineAmountLimitExceeded: true,
    });
    expect(firstAcDecision({ ...base, amountMinor: undefined })).toMatchObject({
      acType: 'arqc',
      offlineAmountLimitExceeded: true,
    });
  });

  it('a failed or locked on-card verification sends a TC request online', () => {
    expect(firstAcDecision({ ...base, cvmFailed: true }).acType).toBe('arqc');
  });

  it('a card without offline limits is online-only: TC request → ARQC', () => {
    expect(firstAcDecision({ ...base, limits: undefined })).toMatchObject({
      acType: 'arqc',
      lowerConsecutiveOfflineLimitExceeded: false,
    });
  });

  it('never answers above the request: AAC → AAC, ARQC → ARQC even within limits; limits still reported', () => {
    expect(firstAcDecision({ ...base, requested: 'aac' }).acType).toBe('aac');
    expect(firstAcDecision({ ...base, requested: 'arqc' }).acType).toBe('arqc');
    expect(
      firstAcDecision({ ...base, requested: 'arqc', counters: { consecutive: 9, cumulativeMinor: 0 } }),
    ).toMatchObject({ acType: 'arqc', upperConsecutiveOfflineLimitExceeded: true });
  });

  it('property: a run of TC requests never approves more than the lower limit in a row, nor more than the amount limit in sum', () => {
    fc.assert(
      fc.property(
        fc.record({
          lower: fc.integer({ min: 0, max: 10 }),
          extra: fc.integer({ min: 0, max: 10 }),
          amountLimit: fc.integer({ min: 0, max: 50_000 }),
        }),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 40 }),
        ({ lower, extra, amountLimit }, amounts) => {
          const limits = {
            lowerConsecutive: lower,
            upperConsecutive: lower + extra,
            amountMinor: amountLimit,
            currency: 978,
          };
          let counters = ZERO_OFFLINE_COUNTERS;
          let approved = 0;
          let sum = 0;
          for (const amountMinor of amounts) {
            const d = firstAcDecision({ ...base, limits, counters, amountMinor });
            if (d.acType === 'tc') {
              approved += 1;
              sum += amountMinor;
            } else expect(d.counters).toBe(counters);
            counters = d.counters;
          }
          expect(approved).toBeLessThanOrEqual(lower);
          expect(sum).toBeLessThanOrEqual(amountLimit);
          expect(counters).toEqual({ consecutive: approved, cumulativeMinor: sum });
        },
      ),
    );
  });
});
