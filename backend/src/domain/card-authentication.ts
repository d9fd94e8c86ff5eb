/**
 * The issuer's checks of what the card itself proved (pure; EMV Book 2 and the bluetill card
 * profile in protocol/src/emv):
 * - card legitimacy: the issuer certificate recovers under the scheme CA key named by the card,
 *   the ICC certificate under the issuer key (over the card's static data), and the card's
 *   signature over the authorization server's unpredictable number verifies (DDA); the try
 *   counters a card signs in that DDA (PIN Try Counter, fingerprint and secret tries left) are
 *   handed to the authorization decision, as signed over this UN (none from an older card);
 * - the application cryptogram: the ARQC recomputed under the ICC master key derived from the
 *   issuer master key, over CDOL1 data that must carry this payment's amount, currency and UN;
 *   its type (ARQC, TC, AAC) is the one in the CVR it covers, not the unsigned CID.
 * Any failure is a decline, never a weaker fallback.
 */
import {
  CARD_AIP,
  CARD_CDOL1_ENTRIES,
  CURRENCY_NUMERIC,
  authenticateCardData,
  cardAcInput,
  computeCardAc,
  decodeIad,
  deriveCardAcMasterKey,
  equalBytes,
  splitDolData,
  type AcAlgorithm,
  type CardCounters,
  type CardData,
  type CardKeyCache,
  type IssuerKeyCache,
  type CardRecordsCache,
  type Cryptogram,
  type DeclineCode,
  type Money,
  type RsaPublicKey,
} from '@bluetill/protocol';

export interface CardAuthenticationInput {
  readonly card: CardData;
  readonly unpredictableNumber: Uint8Array;
  /** Scheme CA public keys by index (tag 8F). */
  readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
  readonly now: Date;
  /** Issuer keys recovered before (per certificate; expiry and issuer identifier re-checked on every use). */
  readonly issuerKeys?: IssuerKeyCache;
  /** Cards' records already authenticated (reading and certificate recovery skipped; every use still checked). */
  readonly cardRecords?: CardRecordsCache;
}

/**
 * The card's proof: `decline` null when it proved itself, with the try counters it signed over this
 * UN (`counters` absent from a card issued before counters were signed).
 */
export type CardProof =
  { readonly decline: null; readonly counters?: CardCounters } | { readonly decline: DeclineCode };

/** Offline-style data authentication, done by the issuer online, with the counters the card signed. */
export function proveCard(i: CardAuthenticationInput): CardProof {
  // The same check the phone does before card data leaves it (protocol's authenticateCardData).
  const r = authenticateCardData(i);
  if (!r.ok) return { decline: 'card_authentication_failed' };
  return r.counters ? { decline: null, counters: r.counters } : { decline: null };
}

/** Offline-style data authentication, done by the issuer online: returns null when the card proved itself. */
export function authenticateCard(i: CardAuthenticationInput): DeclineCode | null {
  return proveCard(i).decline;
}

export interface CryptogramInput {
  readonly cryptogram: Cryptogram | undefined;
  readonly pan: string;
  readonly panSequence: number;
  readonly amount: Money;
  /** The UN the authorization was issued for: the ARQC must cover it. */
  readonly unpredictableNumber: Uint8Array;
  readonly acMasterKeys: Readonly<Record<AcAlgorithm, Uint8Array>>;
  /** ICC master keys derived before (per card, under these very issuer master keys; see protocol's CardKeyCache). */
  readonly cardKeys?: CardKeyCache;
}

const bcd = (digits: string): Uint8Array => new Uint8Array(Buffer.from(digits, 'hex'));

/** Verifies the ARQC and that it binds this amount, currency and UN; null when valid. */
export function verifyCryptogram(i: CryptogramInput): DeclineCode | null {
  const c = i.cryptogram;
  if (!c || c.arqc.length !== 8 || c.cid !== 0x80) return 'cryptogram_invalid';
  const iad = decodeIad(c.iad);
  const fields = splitDolData(CARD_CDOL1_ENTRIES, c.cdolData);
  if (!iad || !fields) return 'cryptogram_invalid';
  const currency = CURRENCY_NUMERIC[i.amount.currency];
  if (
    currency === undefined ||
    !equalBytes(fields.get('9F02') ?? new Uint8Array(), bcd(String(i.amount.minor).padStart(12, '0'))) ||
    !equalBytes(fields.get('5F2A') ?? new Uint8Array(), bcd(String(currency).padStart(4, '0'))) ||
    !equalBytes(fields.get('9F37') ?? new Uint8Array(), i.unpredictableNumber)
  )
    return 'cryptogram_invalid';
  const atc = Uint8Array.of((c.atc >> 8) & 0xff, c.atc & 0xff);
  const imk = i.acMasterKeys[iad.algorithm];
  const mk = i.cardKeys
    ? i.cardKeys.derive(imk, i.pan, i.panSequence, iad.algorithm)
    : deriveCardAcMasterKey(imk, i.pan, i.panSequence, iad.algorithm);
  const expected = computeCardAc({
    iccMasterKey: mk,
    algorithm: iad.algorithm,
    atc,
    data: cardAcInput(c.cdolData, CARD_AIP, atc, c.iad),
  });
  if (!equalBytes(expected, c.arqc)) return 'cryptogram_invalid';
  // The cryptogram's type is what the card MACed (the CVR inside the IAD), never the CID byte
  // beside it, which a phone can edit: an AAC (the card declined) or a TC is not an online request.
  return iad.cvr.acType === 'arqc' ? null : 'card_declined';
}
