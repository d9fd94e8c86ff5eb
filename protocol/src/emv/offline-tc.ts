import { equalBytes } from '../bytes';
import { CARD_CDOL1_ENTRIES, cardPdol } from './card-layout';
import { decodeIad, type Cvr } from './card-cryptogram';
import { recoverCardRecords } from './card-data-authentication';
import { splitDolData } from './dol';
import { cdaTransactionDataHash, checkIccKeyUse, checkIssuerKeyUse, verifyCda } from './oda';
import type { RsaPublicKey } from './rsa';
import { decodeTlv, encodeTlv, type Tlv } from './tlv';

/**
 * An offline approval as the card gave it: what a till keeps of a card session that ended in a TC
 * (first GENERATE AC with CDA), and what it forwards to the card company. Everything the checks
 * need is in the card's own bytes: its records (certificates), the PDOL and CDOL1 data it was given,
 * and its GENERATE AC answer (template 77 with 9F27, 9F36, 9F10, 9F34 and the CDA signature 9F4B).
 */
export type OfflineTcEvidence = {
  /** The card's records as read (record templates 70, concatenated), as CardData carries them. */
  readonly records: Uint8Array;
  /** The PDOL data of GET PROCESSING OPTIONS (amount, currency, UN, country). */
  readonly pdolData: Uint8Array;
  /** The CDOL1 data of the first GENERATE AC (amount, currency, date, UN, ...). */
  readonly cdol1Data: Uint8Array;
  /** The GENERATE AC response data: template 77, objects in the card's order, 9F4B last. */
  readonly response: Uint8Array;
};

/** What a verified offline approval says, every field covered by the card's signature or certificates. */
export type VerifiedOfflineTc = {
  readonly pan: string;
  readonly psn: number;
  /** YYMM, from the signed records. */
  readonly expiry: string;
  readonly atc: number;
  /** The application cryptogram (recovered from the CDA signature). */
  readonly ac: Uint8Array;
  readonly cid: number;
  readonly iad: Uint8Array;
  readonly cvr: Cvr;
  /** CDOL1 fields: amount (minor units), currency (ISO 4217 numeric), UN, transaction date (YYMMDD). */
  readonly amountMinor: number;
  readonly currency: number;
  readonly unpredictableNumber: Uint8Array;
  readonly transactionDate: string;
};

/**
 * Why an offline approval does not hold: its bytes are not a bluetill GENERATE AC answer with CDA
 * (`malformed`); the certificate chain does not recover under the CA key it names, or a certificate
 * has expired (`card_certificates`); the CDA signature does not verify over this UN and these data
 * (`cda_signature`); the card did not approve (its signed CVR or CID is not a TC: `not_a_tc`); or
 * the PDOL and CDOL1 data disagree on amount, currency or UN (`data_mismatch`).
 */
export type OfflineTcRefusal =
  'malformed' | 'card_certificates' | 'cda_signature' | 'not_a_tc' | 'data_mismatch';

export type OfflineTcVerification =
  | { readonly ok: true; readonly tc: VerifiedOfflineTc }
  | { readonly ok: false; readonly reason: OfflineTcRefusal };

const number = (b: Uint8Array | undefined): number | undefined => {
  const digits = b === undefined ? '' : Buffer.from(b).toString('hex');
  return /^[0-9]+$/.test(digits) ? Number(digits) : undefined;
};

/**
 * The checks of an offline approval that need no secret (EMV Book 2 §6.6.2, CDA; Book 3 §10.3):
 * the issuer certificate under the CA key the card names (8F), the ICC certificate under the issuer
 * key over the card's static data, both unexpired at `now`; the CDA signature over the card's
 * dynamic number, the CID, the AC and the hash of PDOL ‖ CDOL1 ‖ response objects, with the UN of
 * the CDOL1 data; and the cryptogram type the card signed (CID 40 and a CVR saying TC). The till
 * checks these before it approves offline, the card company again when the approval is forwarded.
 * What is the till's own (its request, amount, UN, its journal) its callers check against the result.
 */
export function verifyOfflineTc(i: {
  readonly evidence: OfflineTcEvidence;
  readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
  /** When the certificates must be valid; null: their expiry is not checked (the caller judges it). */
  readonly now: Date | null;
}): OfflineTcVerification {
  const e = i.evidence;
  let top: Tlv[];
  try {
    top = decodeTlv(e.response);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const template = top[0];
  if (top.length !== 1 || template?.tag !== '77' || !template.children)
    return { ok: false, reason: 'malformed' };
  const objects = template.children;
  const tags = objects.map((o) => o.tag);
  // An AAC (or ARQC) without CDA is no approval whatever else it holds: say so rather than "malformed".
  const unsignedCid = objects.find((o) => o.tag === '9F27')?.value;
  if (!tags.includes('9F4B') && unsignedCid?.length === 1 && unsignedCid[0] !== 0x40)
    return { ok: false, reason: 'not_a_tc' };
  if (
    new Set(tags).size !== tags.length ||
    objects.some((o) => o.children) ||
    tags.includes('9F26') ||
    tags[tags.length - 1] !== '9F4B'
  )
    return { ok: false, reason: 'malformed' };
  const get = (tag: string): Uint8Array | undefined => objects.find((o) => o.tag === tag)?.value;
  const cidBytes = get('9F27');
  const atcBytes = get('9F36');
  const iad = get('9F10');
  const signature = get('9F4B');
  const decodedIad = iad && decodeIad(iad);
  const pdol = splitDolData(cardPdol(), e.pdolData);
  const cdol1 = splitDolData(CARD_CDOL1_ENTRIES, e.cdol1Data);
  if (
    cidBytes?.length !== 1 ||
    atcBytes?.length !== 2 ||
    !iad ||
    !decodedIad ||
    !signature ||
    !pdol ||
    !cdol1
  )
    return { ok: false, reason: 'malformed' };
  const amountMinor = number(cdol1.get('9F02'));
  const currency = number(cdol1.get('5F2A'));
  const transactionDate = cdol1.get('9A');
  const un = cdol1.get('9F37');
  if (
    amountMinor === undefined ||
    currency === undefined ||
    !transactionDate ||
    number(transactionDate) === undefined ||
    !un
  )
    return { ok: false, reason: 'malformed' };

  const recovered = recoverCardRecords({ card: { records: e.records }, caKeys: i.caKeys });
  if (!recovered.ok)
    return {
      ok: false,
      reason:
        recovered.reason === 'records_unreadable' || recovered.reason === 'records_not_bluetill'
          ? 'malformed'
          : 'card_certificates',
    };
  const card = recovered.card;
  try {
    checkIssuerKeyUse(card.issuer, card.pan, i.now ?? undefined);
    checkIccKeyUse(card.icc, i.now ?? undefined);
  } catch {
    return { ok: false, reason: 'card_certificates' };
  }
  const cid = cidBytes[0] as number;
  let ac: Uint8Array;
  try {
    ac = verifyCda({
      iccPublicKey: card.icc.publicKey,
      signedDynamicData: signature,
      unpredictableNumber: un,
      cid,
      transactionDataHash: cdaTransactionDataHash(e.pdolData, e.cdol1Data, encodeTlv(objects.slice(0, -1))),
    }).ac;
  } catch {
    return { ok: false, reason: 'cda_signature' };
  }
  // Both are signed (the CID in the signature, the CVR in the hashed IAD): both must say TC.
  if (cid !== 0x40 || decodedIad.cvr.acType !== 'tc') return { ok: false, reason: 'not_a_tc' };
  const same = (tag: string): boolean =>
    equalBytes(pdol.get(tag) ?? new Uint8Array(), cdol1.get(tag) ?? Uint8Array.of(0xff));
  if (!same('9F02') || !same('5F2A') || !same('9F37')) return { ok: false, reason: 'data_mismatch' };
  return {
    ok: true,
    tc: {
      pan: card.pan,
      psn: card.psn,
      expiry: card.expiry,
      atc: ((atcBytes[0] as number) << 8) | (atcBytes[1] as number),
      ac,
      cid,
      iad,
      cvr: decodedIad.cvr,
      amountMinor,
      currency,
      unpredictableNumber: un,
      transactionDate: Buffer.from(transactionDate).toString('hex'),
    },
  };
}
