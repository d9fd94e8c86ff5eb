/**
 * The till's check of an offline approval, before it tells the shopper "approved offline" (pure).
 * The card's proof is checked the way the card company will check it again (protocol's
 * verifyOfflineTc: certificate chain under a CA key the till holds, the CDA signature over the TC,
 * amount and UN, the signed cryptogram type); then what only the till knows: that it asked the
 * card for a TC at all (a phone that hands over a TC when the till asked the card to go online is
 * not approved), that the amount, currency and UN are the till's own for this sale, that the ATC
 * is new for this card in the till's offline journal (no replayed TC), and that the card verified
 * the cardholder itself (offline PIN, or a fingerprint or knowledge secret on the card: its signed
 * CVR). Any refusal is a value naming the check, never card data.
 */
import {
  CURRENCY_NUMERIC,
  equalBytes,
  verifyOfflineTc,
  type Money,
  type OfflineTcEvidence,
  type OfflineTcRefusal,
  type RsaPublicKey,
  type VerifiedOfflineTc,
} from '@bluetill/protocol';

/** What the till asked of the card for this sale, and with which data. */
export type TillAcRequest = {
  /** The cryptogram the till asked for at the first GENERATE AC: only 'tc' can end in an offline approval. */
  readonly requested: 'tc' | 'arqc' | 'aac';
  readonly amount: Money;
  /** The UN the till drew from its own CSPRNG for this sale (4 bytes). */
  readonly unpredictableNumber: Uint8Array;
};

export type OfflineApprovalRefusal =
  | OfflineTcRefusal
  | 'not_requested'
  | 'amount_mismatch'
  | 'unpredictable_number_mismatch'
  | 'atc_replayed'
  | 'cardholder_not_verified';

export type OfflineApprovalCheck =
  | { readonly ok: true; readonly tc: VerifiedOfflineTc }
  | { readonly ok: false; readonly reason: OfflineApprovalRefusal };

/** The till's offline journal as this check reads it: has this card's ATC been approved offline here before? */
export interface OfflineAtcJournal {
  hasAtc(card: { readonly pan: string; readonly psn: number }, atc: number): boolean;
}

export function checkOfflineApproval(i: {
  readonly request: TillAcRequest;
  readonly evidence: OfflineTcEvidence;
  /** The scheme CA public keys the till holds, by index (8F). */
  readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
  readonly journal: OfflineAtcJournal;
  readonly now: Date;
}): OfflineApprovalCheck {
  if (i.request.requested !== 'tc') return { ok: false, reason: 'not_requested' };
  const verified = verifyOfflineTc({ evidence: i.evidence, caKeys: i.caKeys, now: i.now });
  if (!verified.ok) return verified;
  const tc = verified.tc;
  if (
    tc.amountMinor !== i.request.amount.minor ||
    tc.currency !== CURRENCY_NUMERIC[i.request.amount.currency]
  )
    return { ok: false, reason: 'amount_mismatch' };
  if (!equalBytes(tc.unpredictableNumber, i.request.unpredictableNumber))
    return { ok: false, reason: 'unpredictable_number_mismatch' };
  if (i.journal.hasAtc({ pan: tc.pan, psn: tc.psn }, tc.atc)) return { ok: false, reason: 'atc_replayed' };
  const c = tc.cvr;
  const verifiedOnCard =
    (c.offlinePinPerformed && !c.offlinePinFailed) ||
    (c.biometricPerformed === true && !c.biometricFailed) ||
    (c.knowledgePerformed === true && !c.knowledgeFailed);
  if (!verifiedOnCard) return { ok: false, reason: 'cardholder_not_verified' };
  return { ok: true, tc };
}
