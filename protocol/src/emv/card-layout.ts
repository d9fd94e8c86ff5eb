import { parseDol, type DolEntry } from './dol';
import { PersonalizationError } from './errors';
import { concatBytes } from '../bytes';
import { TAG } from './tags';
import { encodeTlv, type Tlv } from './tlv';

/**
 * The fixed file layout of a bluetill payment card: which data objects sit in which record, the
 * AFL, AIP, PDOL, CDOL1 and CDOL2. Shared by the simulated card (to answer READ RECORD) and the card
 * company's admin tool (to compute the static data the ICC certificate signs) so both agree.
 */

/** bluetill's own AID: RID A000000999 (unregistered demo RID) ‖ PIX 0101. */
export const BLUETILL_AID = Uint8Array.from([0xa0, 0x00, 0x00, 0x09, 0x99, 0x01, 0x01]);
export const BLUETILL_LABEL = 'BLUETILL';

/** AIP 3900: DDA (20), cardholder verification (10), terminal risk management (08), CDA (01). */
export const CARD_AIP = Uint8Array.from([0x39, 0x00]);

/** PDOL: amount (9F02, 6), currency (5F2A, 2), unpredictable number (9F37, 4), country (9F1A, 2). */
export const CARD_PDOL = Uint8Array.from([
  0x9f, 0x02, 0x06, 0x5f, 0x2a, 0x02, 0x9f, 0x37, 0x04, 0x9f, 0x1a, 0x02,
]);

/**
 * CDOL1: amount 9F02(6), other amount 9F03(6), country 9F1A(2), TVR 95(5), currency 5F2A(2),
 * date 9A(3), type 9C(1), unpredictable number 9F37(4), terminal CVM results 9F34(3).
 */
export const CARD_CDOL1 = Uint8Array.from([
  0x9f, 0x02, 0x06, 0x9f, 0x03, 0x06, 0x9f, 0x1a, 0x02, 0x95, 0x05, 0x5f, 0x2a, 0x02, 0x9a, 0x03, 0x9c, 0x01,
  0x9f, 0x37, 0x04, 0x9f, 0x34, 0x03,
]);

/**
 * CDOL2 (EMV Book 3 §6.5.5: mandatory with CDOL1), the data of the second GENERATE AC after the
 * online answer: authorisation response code 8A(2), TVR 95(5), unpredictable number 9F37(4).
 */
export const CARD_CDOL2 = Uint8Array.from([0x8a, 0x02, 0x95, 0x05, 0x9f, 0x37, 0x04]);

/** DDOL: the terminal's unpredictable number (9F37, 4). */
export const CARD_DDOL = Uint8Array.from([0x9f, 0x37, 0x04]);

/**
 * CVM list: amounts X = Y = 0; "online enciphered PIN, if the terminal supports it, else next"
 * (42 03), then "plaintext PIN verified by the ICC, if supported" (01 03), fail otherwise.
 */
export const CARD_CVM_LIST = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0x42, 0x03, 0x01, 0x03]);

export const cardPdol = (): DolEntry[] => parseDol(CARD_PDOL);
export const cardCdol1 = (): DolEntry[] => parseDol(CARD_CDOL1);
export const cardCdol2 = (): DolEntry[] => parseDol(CARD_CDOL2);
/** CARD_CDOL1 parsed once (frozen), for the issuer's checks of every cryptogram. */
export const CARD_CDOL1_ENTRIES: readonly DolEntry[] = Object.freeze(
  cardCdol1().map((e) => Object.freeze(e)),
);

/** AFL: SFI 1 records 1-2 (record 1 in ODA), SFI 2 records 1-4 (certificates, not in ODA). */
export const CARD_AFL = Uint8Array.from([0x08, 0x01, 0x02, 0x01, 0x10, 0x01, 0x04, 0x00]);

/** The public data of a card, as the issuer personalizes it. */
export type CardPublicData = {
  pan: string;
  psn: number;
  /** YYMM */
  expiry: string;
  cardholderName: string;
  caPublicKeyIndex: number;
  issuerCertificate: { certificate: Uint8Array; remainder: Uint8Array; exponent: Uint8Array };
  iccCertificate: { certificate: Uint8Array; remainder: Uint8Array; exponent: Uint8Array };
  /**
   * A merchant card (claims 2, 7, 8) carries its merchant establishment id in 9F16, inside the
   * ODA record, so the ICC certificate signs it. Absent on a payment card.
   */
  merchantId?: string;
};

/** A merchant establishment id as a merchant card carries it: 1-15 of A-Z a-z 0-9 - (9F16 is an 15). */
export const isMerchantCardId = (s: string): boolean => /^[A-Za-z0-9-]{1,15}$/.test(s);

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const bcd = (digits: string): Uint8Array =>
  new Uint8Array(Buffer.from(digits.length % 2 ? `${digits}F` : digits, 'hex'));

function lastDayOfMonth(yymm: string): string {
  const year = 2000 + Number(yymm.slice(0, 2));
  const month = Number(yymm.slice(2, 4));
  return String(new Date(Date.UTC(year, month, 0)).getUTCDate()).padStart(2, '0');
}

export function checkPublicBasics(
  d: Pick<CardPublicData, 'pan' | 'psn' | 'expiry' | 'cardholderName' | 'merchantId'>,
): void {
  if (d.merchantId !== undefined && !isMerchantCardId(d.merchantId))
    throw new PersonalizationError('bad_data', 'merchant id must be 1-15 of A-Z a-z 0-9 -');
  if (!/^[0-9]{12,19}$/.test(d.pan)) throw new PersonalizationError('bad_data', 'PAN must be 12-19 digits');
  if (!Number.isInteger(d.psn) || d.psn < 0 || d.psn > 99)
    throw new PersonalizationError('bad_data', 'PSN must be 0-99');
  if (!/^[0-9]{2}(0[1-9]|1[0-2])$/.test(d.expiry))
    throw new PersonalizationError('bad_data', 'expiry must be YYMM');
  if (!/^[\x20-\x7e]{2,26}$/.test(d.cardholderName))
    throw new PersonalizationError('bad_data', 'cardholder name must be 2-26 printable ASCII characters');
}

/** Expiry as 5F24 (YYMMDD, last day of the month). */
export const expiryDate = (yymm: string): Uint8Array => bcd(`${yymm}${lastDayOfMonth(yymm)}`);

/** Expiry of a certificate as MMYY. */
export const certificateExpiry = (yymm: string): Uint8Array => bcd(`${yymm.slice(2, 4)}${yymm.slice(0, 2)}`);

/** Track 2 equivalent data (57): PAN D YYMM service code 201, discretionary zeros, F-padded. */
export function track2Equivalent(pan: string, yymm: string): Uint8Array {
  return bcd(`${pan}D${yymm}201${'0'.repeat(5)}`);
}

/** SFI 1 record 1: the one record covered by offline data authentication. */
export function odaRecord(d: Pick<CardPublicData, 'pan' | 'psn' | 'expiry' | 'merchantId'>): Uint8Array {
  return encodeTlv([{ tag: TAG.RECORD_TEMPLATE, value: new Uint8Array(), children: odaRecordObjects(d) }]);
}

/** The data objects inside the ODA record's template 70. */
function odaRecordObjects(d: Pick<CardPublicData, 'pan' | 'psn' | 'expiry' | 'merchantId'>): Tlv[] {
  return [
    { tag: TAG.TRACK2_EQUIVALENT, value: track2Equivalent(d.pan, d.expiry) },
    { tag: TAG.PAN, value: bcd(d.pan) },
    { tag: TAG.EXPIRY, value: expiryDate(d.expiry) },
    { tag: TAG.PSN, value: Uint8Array.of(Number.parseInt(String(d.psn).padStart(2, '0'), 16)) },
    { tag: TAG.CDOL1, value: CARD_CDOL1 },
    { tag: TAG.CDOL2, value: CARD_CDOL2 },
    { tag: TAG.CVM_LIST, value: CARD_CVM_LIST },
    { tag: TAG.DDOL, value: CARD_DDOL },
    { tag: TAG.SDA_TAG_LIST, value: Uint8Array.of(0x82) },
    ...(d.merchantId !== undefined ? [{ tag: TAG.MERCHANT_ID, value: ascii(d.merchantId) }] : []),
  ];
}

/**
 * Static data to be authenticated for a card with this layout (SFI 1 record 1 ‖ AIP): what
 * staticDataToAuthenticate makes of odaRecord (the template's value), without encoding the
 * template to decode it again (card-layout.test checks the two agree).
 */
export function cardStaticData(d: Pick<CardPublicData, 'pan' | 'psn' | 'expiry' | 'merchantId'>): Uint8Array {
  return concatBytes(encodeTlv(odaRecordObjects(d)), CARD_AIP);
}

const record = (children: Tlv[]): Uint8Array =>
  encodeTlv([{ tag: TAG.RECORD_TEMPLATE, value: new Uint8Array(), children }]);

/** All records of the card, keyed "sfi:record". */
export function cardRecords(d: CardPublicData): Map<string, Uint8Array> {
  checkPublicBasics(d);
  const m = new Map<string, Uint8Array>();
  m.set('1:1', odaRecord(d));
  m.set('1:2', record([{ tag: TAG.CARDHOLDER_NAME, value: ascii(d.cardholderName) }]));
  const ic = d.issuerCertificate;
  m.set(
    '2:1',
    record([
      { tag: TAG.CA_PUBLIC_KEY_INDEX, value: Uint8Array.of(d.caPublicKeyIndex) },
      { tag: TAG.ISSUER_PK_EXPONENT, value: ic.exponent },
      ...(ic.remainder.length > 0 ? [{ tag: TAG.ISSUER_PK_REMAINDER, value: ic.remainder }] : []),
    ]),
  );
  m.set('2:2', record([{ tag: TAG.ISSUER_PK_CERTIFICATE, value: ic.certificate }]));
  const cc = d.iccCertificate;
  m.set(
    '2:3',
    record([
      { tag: TAG.ICC_PK_EXPONENT, value: cc.exponent },
      ...(cc.remainder.length > 0 ? [{ tag: TAG.ICC_PK_REMAINDER, value: cc.remainder }] : []),
    ]),
  );
  m.set('2:4', record([{ tag: TAG.ICC_PK_CERTIFICATE, value: cc.certificate }]));
  for (const r of m.values()) {
    if (r.length > 256)
      throw new PersonalizationError('too_large', 'a record does not fit a short response APDU');
  }
  return m;
}

/** Parsed AFL entry: SFI, first and last record, how many from the first are in ODA. */
export type AflEntry = { sfi: number; first: number; last: number; odaCount: number };

/** Parses an AFL (4 bytes per entry); undefined when malformed. */
export function parseAfl(afl: Uint8Array): AflEntry[] | undefined {
  if (afl.length === 0 || afl.length % 4 !== 0) return undefined;
  const out: AflEntry[] = [];
  for (let i = 0; i < afl.length; i += 4) {
    const sfi = (afl[i] as number) >> 3;
    const first = afl[i + 1] as number;
    const last = afl[i + 2] as number;
    const odaCount = afl[i + 3] as number;
    if (
      sfi < 1 ||
      sfi > 30 ||
      ((afl[i] as number) & 0x07) !== 0 ||
      first === 0 ||
      last < first ||
      odaCount > last - first + 1
    )
      return undefined;
    out.push({ sfi, first, last, odaCount });
  }
  return out;
}
