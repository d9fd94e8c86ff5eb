import { assertNever, type OfflineLimits } from '@bluetill/protocol';

/**
 * Card risk management at the first GENERATE AC: which cryptogram the card answers, given what the
 * terminal asked for, the card's offline limits and its persistent offline counters. Pure.
 *
 * The rules (EMV Book 3 §9, GENERATE AC: the card never answers above what was asked —
 * AAC < ARQC < TC — and may answer below it; Book 3 §10.6.3 velocity checking with the lower and
 * upper consecutive offline limits 9F14 / 9F23; the EMV Common Payment Application's card risk
 * management: a consecutive offline transaction counter and a cumulative offline amount counter,
 * both reset after an online approval the issuer authenticated; CVR bits as Book 3 Annex C7.3
 * byte 3):
 * - an AAC request gets an AAC; an ARQC request an ARQC (going online is what resets the counters);
 * - a TC request is an offline approval only if the card has offline limits and, after it, the
 *   consecutive offline count stays within the lower limit and the cumulative offline amount within
 *   the amount limit, in the card's currency, and no on-card cardholder verification failed or is
 *   locked in this session; beyond the upper limit the card declines (AAC); beyond the lower limit,
 *   the amount limit, in another currency or after a failed verification it asks to go online (ARQC);
 * - a card without offline limits is online-only: a TC request gets an ARQC.
 * The CVR bits say which limit was reached, whatever was asked.
 */

export type AcType = 'aac' | 'arqc' | 'tc';

/** The card's persistent offline counters: offline approvals since the last online approval, and their sum. */
export type OfflineCounters = { readonly consecutive: number; readonly cumulativeMinor: number };

export const ZERO_OFFLINE_COUNTERS: OfflineCounters = Object.freeze({ consecutive: 0, cumulativeMinor: 0 });

export type RiskInput = {
  readonly requested: AcType;
  readonly limits: OfflineLimits | undefined;
  readonly counters: OfflineCounters;
  /** The transaction's amount in minor units (9F02), undefined when it is not valid BCD. */
  readonly amountMinor: number | undefined;
  /** The transaction's currency (5F2A, ISO 4217 numeric), undefined when it is not valid BCD. */
  readonly currency: number | undefined;
  /** An on-card cardholder verification failed in this session, or one is locked (try limit reached). */
  readonly cvmFailed: boolean;
};

export type RiskDecision = {
  readonly acType: AcType;
  readonly lowerConsecutiveOfflineLimitExceeded: boolean;
  readonly upperConsecutiveOfflineLimitExceeded: boolean;
  readonly offlineAmountLimitExceeded: boolean;
  /** The counters after this GENERATE AC (moved only by an offline approval). */
  readonly counters: OfflineCounters;
};

export function firstAcDecision(i: RiskInput): RiskDecision {
  const l = i.limits;
  const next = i.counters.consecutive + 1;
  const upper = l !== undefined && next > l.upperConsecutive;
  const lower = l !== undefined && next > l.lowerConsecutive;
  const amount =
    l !== undefined &&
    (i.amountMinor === undefined ||
      i.currency !== l.currency ||
      i.counters.cumulativeMinor + i.amountMinor > l.amountMinor);
  const bits = {
    lowerConsecutiveOfflineLimitExceeded: lower,
    upperConsecutiveOfflineLimitExceeded: upper,
    offlineAmountLimitExceeded: amount,
  };
  const keep = { ...bits, counters: i.counters };
  switch (i.requested) {
    case 'aac':
      return { acType: 'aac', ...keep };
    case 'arqc':
      return { acType: 'arqc', ...keep };
    case 'tc':
      if (l === undefined || i.cvmFailed) return { acType: 'arqc', ...keep };
      if (upper) return { acType: 'aac', ...keep };
      if (lower || amount) return { acType: 'arqc', ...keep };
      return {
        acType: 'tc',
        ...bits,
        counters: {
          consecutive: next,
          cumulativeMinor: i.counters.cumulativeMinor + (i.amountMinor as number),
        },
      };
    default:
      return assertNever(i.requested, 'GENERATE AC request');
  }
}
