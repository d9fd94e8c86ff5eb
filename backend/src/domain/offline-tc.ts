/**
 * The settlement server's check of an offline approval a till forwards (pure; the store and the
 * exactly-once forwarding are the caller's): the card's proof first, then the card company's own
 * view of the card at the time of the sale. Every forwarded TC ends as one of:
 * - `settle`: the card's TC holds (certificate chain under the scheme CA, CDA signature over the
 *   TC, amount and UN, the AC recomputed under the card's AC key, a TC by its signed CVR) with an
 *   ATC not seen before for this card, and the card was active, unexpired and within its limit
 *   when the till approved it;
 * - `merchant_loss` with the reason: the till approved offline what the card company does not
 *   honour — a TC that does not hold (forged, altered, another card's, not a TC), a replayed ATC,
 *   a card unknown, blocked before the sale, expired at the sale, in another currency, or over its
 *   limit. The merchant bears these (offline approval is the merchant's risk) and is told each, with
 *   its reason; nothing is dropped silently.
 */
import {
  CARD_AIP,
  CURRENCY_NUMERIC,
  cardAcInput,
  computeCardAc,
  decodeIad,
  deriveCardAcMasterKey,
  equalBytes,
  verifyOfflineTc,
  type AcAlgorithm,
  type CardKeyCache,
  type Money,
  type OfflineTcEvidence,
  type OfflineTcRefusal,
  type RsaPublicKey,
  type VerifiedOfflineTc,
} from '@bluetill/protocol';
import { isExpired } from './rules';

/** What the card company knew of the card at the time of the sale, from its own records. */
export type CardAtSale = {
  /** When the card was blocked (lost, stolen, blocked), ms since the epoch; absent while it is active. */
  readonly blockedSinceMs?: number;
  /** Credit available to the card for this sale (limit − balance − earlier offline sales settled), minor units. */
  readonly availableMinor: number;
  /** The card account's currency (ISO 4217 alphabetic). */
  readonly currency: string;
};

export type OfflineLossReason =
  | OfflineTcRefusal
  | 'cryptogram_invalid'
  | 'atc_replayed'
  | 'amount_mismatch'
  | 'sale_date_mismatch'
  | 'unknown_card'
  | 'card_blocked'
  | 'card_expired'
  | 'currency_mismatch'
  | 'over_limit';

export type OfflineTcOutcome =
  | { readonly kind: 'settle'; readonly tc: VerifiedOfflineTc }
  | { readonly kind: 'merchant_loss'; readonly reason: OfflineLossReason; readonly tc?: VerifiedOfflineTc };

export interface ForwardedOfflineTc {
  readonly evidence: OfflineTcEvidence;
  /** The sale as the till journaled it: its amount and when it approved it (the till's clock). */
  readonly amount: Money;
  readonly approvedAtMs: number;
}

const DAY_MS = 86_400_000;

/** The signed transaction date (YYMMDD) as the UTC midnight it names; undefined when not a date. */
function saleDateMs(yymmdd: string): number | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})$/.exec(yymmdd);
  if (!m) return undefined;
  const [y, mo, d] = [2000 + Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d
    ? t
    : undefined;
}

export function classifyForwardedTc(i: {
  readonly forwarded: ForwardedOfflineTc;
  /** Scheme CA public keys by index (8F). */
  readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
  /** Issuer master keys for application cryptograms. */
  readonly acMasterKeys: Readonly<Record<AcAlgorithm, Uint8Array>>;
  readonly cardKeys?: CardKeyCache;
  /** The card company's record of the card (by PAN and PSN), undefined when it knows none. */
  readonly cardAtSale: (pan: string, psn: number) => CardAtSale | undefined;
  /** Whether this card's ATC has been seen already (online or offline). */
  readonly atcSeen: (pan: string, psn: number, atc: number) => boolean;
}): OfflineTcOutcome {
  const f = i.forwarded;
  // Certificates are judged at the sale, not at forwarding: a card may expire in between.
  const verified = verifyOfflineTc({ evidence: f.evidence, caKeys: i.caKeys, now: new Date(f.approvedAtMs) });
  if (!verified.ok) {
    // A card past its expiry has certificates past theirs: name the card's expiry when that is all.
    const regardless =
      verified.reason === 'card_certificates'
        ? verifyOfflineTc({ evidence: f.evidence, caKeys: i.caKeys, now: null })
        : verified;
    const expired = regardless.ok && isExpired(regardless.tc.expiry, f.approvedAtMs);
    return expired
      ? { kind: 'merchant_loss', reason: 'card_expired', tc: regardless.tc }
      : { kind: 'merchant_loss', reason: verified.reason };
  }
  const tc = verified.tc;
  const loss = (reason: OfflineLossReason): OfflineTcOutcome => ({ kind: 'merchant_loss', reason, tc });
  const iad = decodeIad(tc.iad);
  if (!iad) return loss('cryptogram_invalid');
  const atc = Uint8Array.of((tc.atc >> 8) & 0xff, tc.atc & 0xff);
  const imk = i.acMasterKeys[iad.algorithm];
  const mk = i.cardKeys
    ? i.cardKeys.derive(imk, tc.pan, tc.psn, iad.algorithm)
    : deriveCardAcMasterKey(imk, tc.pan, tc.psn, iad.algorithm);
  const expected = computeCardAc({
    iccMasterKey: mk,
    algorithm: iad.algorithm,
    atc,
    data: cardAcInput(f.evidence.cdol1Data, CARD_AIP, atc, tc.iad),
  });
  if (!equalBytes(expected, tc.ac)) return loss('cryptogram_invalid');
  if (tc.amountMinor !== f.amount.minor || tc.currency !== CURRENCY_NUMERIC[f.amount.currency])
    return loss('amount_mismatch');
  // The date the card signed must be the till's day of approval (a day either side for time zones).
  const signedDay = saleDateMs(tc.transactionDate);
  if (signedDay === undefined || Math.abs(signedDay - (f.approvedAtMs - (f.approvedAtMs % DAY_MS))) > DAY_MS)
    return loss('sale_date_mismatch');
  if (i.atcSeen(tc.pan, tc.psn, tc.atc)) return loss('atc_replayed');
  const card = i.cardAtSale(tc.pan, tc.psn);
  if (!card) return loss('unknown_card');
  if (card.blockedSinceMs !== undefined && card.blockedSinceMs <= f.approvedAtMs) return loss('card_blocked');
  if (isExpired(tc.expiry, f.approvedAtMs)) return loss('card_expired');
  if (card.currency !== f.amount.currency) return loss('currency_mismatch');
  if (f.amount.minor > card.availableMinor) return loss('over_limit');
  return { kind: 'settle', tc };
}
