import { CountedCache } from './counted-cache';
import type { CardData } from '../gen/bluetill/v1/common';
import { equalBytes } from '../bytes';
import { BLUETILL_AID, BLUETILL_LABEL, cardStaticData } from './card-layout';
import {
  checkIccKeyUse,
  checkIssuerKeyUse,
  recoverIccPublicKey,
  recoverIssuerPublicKey,
  verifyDda,
  type CardCounters,
  type IccPublicKeyInfo,
  type IssuerPublicKeyInfo,
} from './oda';
import type { IssuerKeyCache } from './issuer-key-cache';
import type { RsaPublicKey } from './rsa';
import { decodeTlv, flattenTlv, type Tlv } from './tlv';

/**
 * Offline data authentication of a bluetill card from the CardData the phone hands on (its READ
 * RECORD templates and its signature over the unpredictable number), done the same way by the
 * phone before any card data leaves it (claim 10) and by the authorization server online:
 * the issuer certificate recovers under the scheme CA key the card names (8F), the ICC certificate
 * under the issuer key over the card's static data, and the DDA signature over the UN verifies.
 * The PAN, expiry and PSN of CardData must be the ones in the signed records.
 * Returns a value; the reason names the step, never card data. A card that signs its try counters
 * in the DDA (see oda.ts CardCounters) has them returned, as signed over this UN; an older card none.
 */
export type CardDataAuthentication =
  | { readonly ok: true; readonly counters?: CardCounters }
  | {
      readonly ok: false;
      readonly reason:
        | 'records_unreadable'
        | 'records_not_bluetill'
        | 'data_mismatch'
        | 'unknown_ca'
        | 'certificate_missing'
        | 'issuer_certificate'
        | 'icc_certificate'
        | 'dynamic_signature';
    };

const hex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('hex').toUpperCase() : '');

/** Tags that name the card's application or brand (AID, DF name, AID-terminal, label, preferred name). */
const APPLICATION_NAMES: Readonly<Record<string, Uint8Array>> = {
  '4F': BLUETILL_AID,
  '84': BLUETILL_AID,
  '9F06': BLUETILL_AID,
  '50': new Uint8Array(Buffer.from(BLUETILL_LABEL, 'latin1')),
  '9F12': new Uint8Array(Buffer.from(BLUETILL_LABEL, 'latin1')),
};

function primitives(nodes: readonly Tlv[], out: Tlv[] = []): Tlv[] {
  for (const n of nodes) {
    if (n.children) primitives(n.children, out);
    else out.push(n);
  }
  return out;
}

/**
 * The card's records as the phone forwarded them, or null when they are not a bluetill card's
 * records: only record templates (70), each data object once (no second PAN, CA index or
 * certificate to pick from), and no application or brand other than bluetill's (no brand mix-up:
 * the card's kernel and checks are bluetill's, whatever another AID in the data would claim).
 */
function bluetillRecords(nodes: readonly Tlv[]): Map<string, Uint8Array> | null {
  if (nodes.some((n) => n.tag !== '70')) return null;
  const seen = new Set<string>();
  for (const p of primitives(nodes)) {
    if (seen.has(p.tag)) return null;
    seen.add(p.tag);
    const name = APPLICATION_NAMES[p.tag];
    if (name && !equalBytes(name, p.value)) return null;
  }
  return flattenTlv(nodes);
}

export function authenticateCardData(i: {
  readonly card: CardData;
  readonly unpredictableNumber: Uint8Array;
  /** Scheme CA public keys by index (tag 8F). */
  readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
  readonly now: Date;
  /** Recovered issuer keys kept across calls (expiry and PAN still checked on every use). */
  readonly issuerKeys?: IssuerKeyCache;
  /** Cards' records already read and their certificates recovered (expiry still checked on every use). */
  readonly cardRecords?: CardRecordsCache;
}): CardDataAuthentication {
  const cached = i.cardRecords?.get(i.card.records, i.caKeys);
  const recovered = cached ?? recoverCardRecords(i);
  if (!recovered.ok) return recovered;
  const c = recovered.card;
  if (c.pan !== i.card.pan || c.expiry !== i.card.expiry || c.psn !== i.card.panSequence)
    return { ok: false, reason: 'data_mismatch' };
  try {
    checkIssuerKeyUse(c.issuer, c.pan, i.now);
  } catch {
    return { ok: false, reason: 'issuer_certificate' };
  }
  try {
    checkIccKeyUse(c.icc, i.now);
  } catch {
    return { ok: false, reason: 'icc_certificate' };
  }
  if (!cached) i.cardRecords?.set(i.card.records, c);
  let counters: CardCounters | undefined;
  try {
    counters = verifyDda({
      iccPublicKey: c.icc.publicKey,
      signedDynamicData: i.card.signedDynamicData,
      terminalData: i.unpredictableNumber,
    }).counters;
  } catch {
    return { ok: false, reason: 'dynamic_signature' };
  }
  return counters ? { ok: true, counters } : { ok: true };
}

/**
 * What a card's records say once read and their certificates recovered: what depends on the
 * records and the CA key alone, so it may be kept (CardRecordsCache). Every use still checks the
 * PAN, expiry and PSN against the CardData, both certificates' expiry, and the DDA signature.
 */
export interface RecoveredCard {
  readonly ca: RsaPublicKey;
  readonly caIndex: number;
  readonly pan: string;
  readonly expiry: string;
  readonly psn: number;
  readonly issuer: IssuerPublicKeyInfo;
  readonly icc: IccPublicKeyInfo;
}

export type Recovery =
  { readonly ok: true; readonly card: RecoveredCard } | Exclude<CardDataAuthentication, { ok: true }>;

export function recoverCardRecords(i: {
  readonly card: Pick<CardData, 'records'>;
  readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
  readonly issuerKeys?: IssuerKeyCache;
}): Recovery {
  let nodes: Tlv[];
  try {
    nodes = decodeTlv(i.card.records);
  } catch {
    return { ok: false, reason: 'records_unreadable' };
  }
  const t = bluetillRecords(nodes);
  if (!t) return { ok: false, reason: 'records_not_bluetill' };
  const pan = hex(t.get('5A')).replace(/F+$/, '');
  const expiry = hex(t.get('5F24')).slice(0, 4);
  const psn = Number(hex(t.get('5F34')) || '0');
  // Whether the request's PAN, expiry and PSN are these is checked by the caller, on every use.
  const caIndex = t.get('8F')?.[0];
  const ca = caIndex === undefined ? undefined : i.caKeys.get(caIndex);
  if (!ca) return { ok: false, reason: 'unknown_ca' };
  const issuerCert = t.get('90');
  const issuerExp = t.get('9F32');
  const iccCert = t.get('9F46');
  const iccExp = t.get('9F47');
  if (!issuerCert || !issuerExp || !iccCert || !iccExp) return { ok: false, reason: 'certificate_missing' };
  let issuer;
  try {
    // Expiry is checked by the caller, on every use.
    const cert = {
      caPublicKey: ca,
      certificate: issuerCert,
      remainder: t.get('92'),
      exponent: issuerExp,
      pan,
    };
    issuer = i.issuerKeys
      ? i.issuerKeys.recover({ caIndex: caIndex!, ...cert })
      : recoverIssuerPublicKey(cert);
  } catch {
    return { ok: false, reason: 'issuer_certificate' };
  }
  let icc;
  try {
    icc = recoverIccPublicKey({
      issuerPublicKey: issuer.publicKey,
      certificate: iccCert,
      remainder: t.get('9F48'),
      exponent: iccExp,
      pan,
      // A merchant card's id (9F16) is in its ODA record: the ICC certificate covers it too.
      staticData: cardStaticData({
        pan,
        psn,
        expiry,
        ...(t.has('9F16') ? { merchantId: Buffer.from(t.get('9F16')!).toString('latin1') } : {}),
      }),
    });
  } catch {
    return { ok: false, reason: 'icc_certificate' };
  }
  return { ok: true, card: { ca, caIndex: caIndex!, pan, expiry, psn, issuer, icc } };
}

/**
 * Cards' records already authenticated, by their exact bytes (the authorization server sees the
 * same card many times): reading the records and recovering both certificates is skipped, not
 * the checks of each use (see RecoveredCard). Only records that passed are kept, so garbage
 * cannot fill it; an entry is used only while the CA key it was recovered under is still the one
 * configured for its index. Least recently used entries go first.
 */
export class CardRecordsCache extends CountedCache<RecoveredCard> {
  constructor(maxEntries = 4096) {
    super(maxEntries);
  }

  /** @internal the recovered card for these records, if kept and its CA key is still current. */
  get(records: Uint8Array, caKeys: ReadonlyMap<number, RsaPublicKey>): Recovery | undefined {
    const card = this.lookup(keyOf(records), (e) => caKeys.get(e.caIndex) === e.ca);
    return card && { ok: true, card };
  }

  /** @internal */
  set(records: Uint8Array, card: RecoveredCard): void {
    this.keep(keyOf(records), card);
  }
}

const keyOf = (records: Uint8Array): string =>
  Buffer.from(records.buffer, records.byteOffset, records.byteLength).toString('base64');
