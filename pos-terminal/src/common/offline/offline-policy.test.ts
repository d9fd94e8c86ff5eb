import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { businessDate, businessDayBounds } from '../business-day';
import {
  checkOfflinePolicyLimits,
  decideOffline,
  EMPTY_OFFLINE_STATE,
  OfflinePolicyError,
  releaseExposure,
  type BackendReachability,
  type BlockList,
  type OfflinePolicyLimits,
  type OfflinePolicyState,
} from './offline-policy';

const ZONE = 'Europe/Berlin';
const LIMITS: OfflinePolicyLimits = {
  currency: 'EUR',
  floorLimitMinor: 5_000,
  perCardDailyCount: 3,
  perCardDailyAmountMinor: 8_000,
  exposureMinor: 20_000,
  timeZone: ZONE,
};
const NOON = Date.parse('2026-12-07T11:00:00Z');
const noBlocks: BlockList = { has: () => false };
const eur = (minor: number) => ({ minor, currency: 'EUR' });
const sale = (
  o: {
    nowMs?: number;
    backend?: BackendReachability;
    cardKey?: string;
    minor?: number;
    currency?: string;
  } = {},
) => ({
  nowMs: o.nowMs ?? NOON,
  backend: o.backend ?? 'unreachable',
  cardKey: o.cardKey ?? 'card-a',
  amount: { minor: o.minor ?? 1_000, currency: o.currency ?? 'EUR' },
});

function run(
  sales: ReturnType<typeof sale>[],
  limits = LIMITS,
  blocks: BlockList = noBlocks,
  state: OfflinePolicyState = EMPTY_OFFLINE_STATE,
) {
  const decisions = [];
  for (const s of sales) {
    const r = decideOffline(state, limits, blocks, s);
    decisions.push(r.decision);
    state = r.state;
  }
  return { decisions, state };
}

describe('offline policy: one limit at a time', () => {
  it("unreachable, not blocked, under every limit: approved, exposure and the card's day move", () => {
    const { decisions, state } = run([sale()]);
    expect(decisions).toEqual([{ approved: true }]);
    expect(state.exposureMinor).toBe(1_000);
    expect(state.cards.get('card-a')).toEqual({ day: '2026-12-07', count: 1, amountMinor: 1_000 });
  });

  it.each([
    ['reachable', 'card_company_reachable'],
    ['slow', 'card_company_slow'],
  ] as const)('a card company that is %s: declined, nothing moves', (backend, limit) => {
    const { decisions, state } = run([sale({ backend })]);
    expect(decisions).toEqual([{ approved: false, decline: 'card_company_unreachable', limit }]);
    expect(state.exposureMinor).toBe(0);
  });

  it('a card on the block-list copy, another currency, over the floor limit: declined, each named', () => {
    expect(run([sale()], LIMITS, { has: (k) => k === 'card-a' }).decisions[0]).toMatchObject({
      limit: 'card_blocked',
    });
    expect(run([sale({ currency: 'USD' })]).decisions[0]).toMatchObject({ limit: 'currency' });
    expect(run([sale({ minor: 5_000 })]).decisions[0]).toEqual({ approved: true });
    expect(run([sale({ minor: 5_001 })]).decisions[0]).toMatchObject({ limit: 'floor_limit' });
  });

  it('per card per business day: the 4th sale, or an amount past 80.00, is declined; another card is not', () => {
    expect(run([sale(), sale(), sale(), sale()]).decisions[3]).toMatchObject({ limit: 'card_daily_count' });
    const amounts = run([
      sale({ minor: 5_000 }),
      sale({ minor: 3_000 }),
      sale({ minor: 1 }),
      sale({ minor: 1, cardKey: 'card-b' }),
    ]).decisions;
    expect(amounts).toEqual([
      { approved: true },
      { approved: true },
      expect.objectContaining({ limit: 'card_daily_amount' }),
      { approved: true },
    ]);
  });

  it("the next business day in the shop's zone starts the card's allowance again (Berlin midnight, not UTC)", () => {
    const { startMs } = businessDayBounds('2026-12-08', ZONE);
    const r = run([sale(), sale(), sale(), sale({ nowMs: startMs - 1 }), sale({ nowMs: startMs })]);
    expect(r.decisions.slice(3)).toEqual([
      expect.objectContaining({ limit: 'card_daily_count' }),
      { approved: true },
    ]);
  });

  it("the till's exposure: declined past it, released by a settlement", () => {
    const limits = { ...LIMITS, exposureMinor: 2_500 };
    const r = run([sale(), sale({ cardKey: 'b' }), sale({ cardKey: 'c' })], limits);
    expect(r.decisions[2]).toMatchObject({ limit: 'till_exposure' });
    const after = decideOffline(releaseExposure(r.state, 1_000), limits, noBlocks, sale({ cardKey: 'c' }));
    expect(after.decision).toEqual({ approved: true });
    expect(() => releaseExposure(r.state, 2_001)).toThrow(OfflinePolicyError);
  });

  it('a clock set back to yesterday does not give the card its allowance again (the day is counted by the highest time seen)', () => {
    const yesterday = NOON - 24 * 3600_000;
    const r = run([
      sale(),
      sale(),
      sale(),
      sale({ nowMs: yesterday }),
      sale({ nowMs: yesterday - 3600_000 }),
    ]);
    expect(r.decisions.slice(3)).toEqual([
      expect.objectContaining({ limit: 'card_daily_count' }),
      expect.objectContaining({ limit: 'card_daily_count' }),
    ]);
    expect(r.state.highestTimeMs).toBe(NOON);
  });

  it('bad limits and bad sales are clear errors with codes', () => {
    expect(() => checkOfflinePolicyLimits({ ...LIMITS, floorLimitMinor: -1 })).toThrow(
      expect.objectContaining({ code: 'bad_limits' }),
    );
    expect(() => checkOfflinePolicyLimits({ ...LIMITS, timeZone: 'Mars/Olympus' })).toThrow(
      expect.objectContaining({ code: 'bad_limits' }),
    );
    expect(() => checkOfflinePolicyLimits(LIMITS)).not.toThrow();
    expect(() => decideOffline(EMPTY_OFFLINE_STATE, LIMITS, noBlocks, sale({ minor: 0 }))).toThrow(
      expect.objectContaining({ code: 'bad_sale' }),
    );
    expect(() =>
      decideOffline(EMPTY_OFFLINE_STATE, LIMITS, noBlocks, { ...sale(), amount: eur(1.5) }),
    ).toThrow(OfflinePolicyError);
    expect(() => decideOffline(EMPTY_OFFLINE_STATE, LIMITS, noBlocks, sale({ cardKey: '' }))).toThrow(
      OfflinePolicyError,
    );
  });
});

describe('offline policy: invariants (fast-check)', () => {
  const arbLimits = fc.record({
    currency: fc.constant('EUR'),
    floorLimitMinor: fc.integer({ min: 0, max: 10_000 }),
    perCardDailyCount: fc.integer({ min: 0, max: 5 }),
    perCardDailyAmountMinor: fc.integer({ min: 0, max: 20_000 }),
    exposureMinor: fc.integer({ min: 0, max: 50_000 }),
    timeZone: fc.constantFrom(ZONE, 'UTC', 'America/New_York'),
  });
  const arbSale = fc.record({
    nowMs: fc.integer({ min: NOON - 5 * 86_400_000, max: NOON + 5 * 86_400_000 }),
    backend: fc.constantFrom<BackendReachability>(
      'reachable',
      'slow',
      'unreachable',
      'unreachable',
      'unreachable',
    ),
    cardKey: fc.constantFrom('a', 'b', 'c', 'blocked'),
    amount: fc.record({
      minor: fc.integer({ min: 1, max: 12_000 }),
      currency: fc.constantFrom('EUR', 'EUR', 'EUR', 'USD'),
    }),
  });
  const blocks = { has: (k: string) => k === 'blocked' };

  it('whatever the order of sales and clock readings: exposure within its limit and equal to the approvals; each approval unreachable, unblocked, in currency, under the floor', () => {
    fc.assert(
      fc.property(arbLimits, fc.array(arbSale, { maxLength: 60 }), (limits, sales) => {
        let state = EMPTY_OFFLINE_STATE;
        let approvedSum = 0;
        for (const s of sales) {
          const r = decideOffline(state, limits, blocks, s);
          expect(r.state.exposureMinor).toBeLessThanOrEqual(limits.exposureMinor);
          expect(r.state.highestTimeMs).toBeGreaterThanOrEqual(state.highestTimeMs);
          if (r.decision.approved) {
            approvedSum += s.amount.minor;
            expect(s.backend).toBe('unreachable');
            expect(s.cardKey).not.toBe('blocked');
            expect(s.amount.currency).toBe('EUR');
            expect(s.amount.minor).toBeLessThanOrEqual(limits.floorLimitMinor);
          } else expect(r.state.exposureMinor).toBe(state.exposureMinor);
          state = r.state;
        }
        expect(state.exposureMinor).toBe(approvedSum);
      }),
    );
  });

  it('per card, the approvals counted on each business day of the highest clock reading stay within the daily count and amount, the clock going back and forth', () => {
    fc.assert(
      fc.property(arbLimits, fc.array(arbSale, { maxLength: 60 }), (limits, sales) => {
        let state = EMPTY_OFFLINE_STATE;
        let highest = 0;
        const perDay = new Map<string, { count: number; amount: number }>();
        for (const s of sales) {
          const r = decideOffline(state, { ...limits, exposureMinor: Number.MAX_SAFE_INTEGER }, blocks, s);
          highest = Math.max(highest, s.nowMs);
          if (r.decision.approved) {
            const key = `${s.cardKey}/${businessDate(highest, limits.timeZone)}`;
            const d = perDay.get(key) ?? { count: 0, amount: 0 };
            perDay.set(key, { count: d.count + 1, amount: d.amount + s.amount.minor });
          }
          state = r.state;
        }
        for (const d of perDay.values()) {
          expect(d.count).toBeLessThanOrEqual(limits.perCardDailyCount);
          expect(d.amount).toBeLessThanOrEqual(limits.perCardDailyAmountMinor);
        }
      }),
    );
  });

  it("a clock set back never approves more for a card than one day's allowance, however far back and however often", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10 * 86_400_000 }), { minLength: 1, maxLength: 30 }),
        (backs) => {
          // The first sale at noon, then every later reading the same or earlier.
          const { decisions } = run([sale(), ...backs.map((b) => sale({ nowMs: NOON - b }))]);
          expect(decisions.filter((d) => d.approved).length).toBeLessThanOrEqual(LIMITS.perCardDailyCount);
        },
      ),
    );
  });
});
