import { concatBytes, equalBytes } from '../bytes';
import { storeDataCommand } from '../apdu/builders';
import { type AcAlgorithm } from './cryptogram';
import { checkPublicBasics, type CardPublicData } from './card-layout';
import { PersonalizationError } from './errors';
import { aesCmac } from './mac';
import {
  checkBiometricTemplate,
  CvmDataError,
  encodeKnowledgeSecret,
  templateBytes,
  templateFromBytes,
} from './cvm';
import { decodeTlv, encodeTlv, findTag, type Tlv } from './tlv';

/**
 * Personalization of a bluetill card: the issuer's admin tool turns card data and keys into a
 * chain of STORE DATA commands (80 E2, P1 bit 8 = last, P2 = sequence); the card checks each
 * command's MAC under its card-specific personalization key (AES-128) and only commits the data
 * when the whole chain has arrived intact. A personalized card refuses further STORE DATA.
 *
 * Command data = chunk ‖ MAC, MAC = left 8 bytes of AES-CMAC(K_perso, previous MAC ‖ CLA INS P1 P2 ‖ chunk)
 * (previous MAC = 8 zero bytes for the first command), so chunks cannot be reordered, dropped,
 * replayed from another chain, or replayed on another card.
 *
 * The data is one TLV list: the public data objects (5A, 5F34, 5F24 as YYMM, 5F20, 8F, 90, 92,
 * 9F32, 9F46, 9F48, 9F47) and the secrets in private tags: DF01 ICC private key (PKCS#8 DER),
 * DF02 AC master key, DF03 AC algorithm (01 TDES, 02 AES), DF04 PIN (digits, BCD, F-padded),
 * DF05 PIN try limit, DF06 initial ATC (2 bytes); optional cardholder-verification data (claims 16, 17):
 * DF08 biometric template (64 signed bytes), DF0A its try limit, DF09 knowledge secret (UTF-8, 4-64
 * bytes), DF0B its try limit (see cvm.ts); a merchant card also 9F16 (merchant id). Optional offline
 * limits for the card's own risk management (EMV Book 3 §10.6.3 velocity data; see OfflineLimits):
 * 9F14 lower and 9F23 upper consecutive offline limit (1 byte each), 9F42 application currency code
 * (n3, 2 bytes) and DF0C the cumulative offline amount limit (n12, 6 bytes, minor units of 9F42);
 * all four or none (none: an online-only card).
 */

/**
 * The card's offline limits (card risk management at the first GENERATE AC): how many offline
 * approvals in a row before it asks to go online (lower) or declines (upper), and how much money
 * in its own currency it approves offline between two online approvals.
 */
export type OfflineLimits = {
  /** Lower consecutive offline limit (9F14): beyond it a TC request gets an ARQC. 0-255. */
  lowerConsecutive: number;
  /** Upper consecutive offline limit (9F23): beyond it a TC request gets an AAC. lowerConsecutive-255. */
  upperConsecutive: number;
  /** Cumulative offline amount limit in minor units of `currency` (DF0C): beyond it a TC request gets an ARQC. */
  amountMinor: number;
  /** ISO 4217 numeric code of the card's currency (9F42); another currency is never approved offline. */
  currency: number;
};

/** The largest amount an n12 field holds (999 999 999 999 minor units). */
export const MAX_N12 = 999_999_999_999;

/** Throws PersonalizationError when the limits are not a coherent set. */
export function checkOfflineLimits(l: OfflineLimits): void {
  const count = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 255;
  if (!count(l.lowerConsecutive))
    throw new PersonalizationError('bad_data', 'lower consecutive offline limit must be 0-255');
  if (!count(l.upperConsecutive) || l.upperConsecutive < l.lowerConsecutive)
    throw new PersonalizationError(
      'bad_data',
      'upper consecutive offline limit must be 0-255 and not below the lower one',
    );
  if (!Number.isSafeInteger(l.amountMinor) || l.amountMinor < 0 || l.amountMinor > MAX_N12)
    throw new PersonalizationError('bad_data', 'offline amount limit must be 0-999999999999 minor units');
  if (!Number.isInteger(l.currency) || l.currency < 1 || l.currency > 999)
    throw new PersonalizationError('bad_data', 'card currency must be an ISO 4217 numeric code (1-999)');
}

export type CardPersonalization = CardPublicData & {
  /** ICC RSA private key, PKCS#8 DER. */
  iccPrivateKey: Uint8Array;
  /** ICC master key for application cryptograms (16 bytes). */
  acMasterKey: Uint8Array;
  acAlgorithm: AcAlgorithm;
  /** Offline PIN, 4-12 digits. */
  pin: string;
  pinTryLimit: number;
  initialAtc?: number;
  /** Fingerprint template for match-on-card (DF08); none = the card refuses VERIFY P2 90. */
  biometricTemplate?: Int8Array;
  biometricTryLimit?: number;
  /** Knowledge secret as encodeKnowledgeSecret gives it (DF09); none = the card refuses VERIFY P2 91. */
  knowledgeSecret?: Uint8Array;
  knowledgeTryLimit?: number;
  /** The card's offline limits; none = an online-only card (a TC request gets an ARQC). */
  offlineLimits?: OfflineLimits;
};

export const PERSO_MAC_LENGTH = 8;
const CHUNK = 200;

const T = {
  ICC_PRIVATE_KEY: 'DF01',
  AC_MASTER_KEY: 'DF02',
  AC_ALGORITHM: 'DF03',
  PIN: 'DF04',
  PIN_TRY_LIMIT: 'DF05',
  INITIAL_ATC: 'DF06',
  EXPIRY_YYMM: 'DF07',
  BIOMETRIC_TEMPLATE: 'DF08',
  KNOWLEDGE_SECRET: 'DF09',
  BIOMETRIC_TRY_LIMIT: 'DF0A',
  KNOWLEDGE_TRY_LIMIT: 'DF0B',
  LOWER_CONSECUTIVE_OFFLINE_LIMIT: '9F14',
  UPPER_CONSECUTIVE_OFFLINE_LIMIT: '9F23',
  APPLICATION_CURRENCY: '9F42',
  OFFLINE_AMOUNT_LIMIT: 'DF0C',
} as const;

const n = (value: number, digits: number): Uint8Array =>
  new Uint8Array(Buffer.from(String(value).padStart(digits, '0'), 'hex'));
const fromN = (bytes: Uint8Array): number | undefined => {
  const digits = Buffer.from(bytes).toString('hex');
  return /^[0-9]+$/.test(digits) ? Number(digits) : undefined;
};

function offlineLimitNodes(l: OfflineLimits): Tlv[] {
  return [
    { tag: T.LOWER_CONSECUTIVE_OFFLINE_LIMIT, value: Uint8Array.of(l.lowerConsecutive) },
    { tag: T.UPPER_CONSECUTIVE_OFFLINE_LIMIT, value: Uint8Array.of(l.upperConsecutive) },
    { tag: T.APPLICATION_CURRENCY, value: n(l.currency, 4) },
    { tag: T.OFFLINE_AMOUNT_LIMIT, value: n(l.amountMinor, 12) },
  ];
}

function decodeOfflineLimits(nodes: Tlv[]): OfflineLimits | undefined {
  const tags = [
    T.LOWER_CONSECUTIVE_OFFLINE_LIMIT,
    T.UPPER_CONSECUTIVE_OFFLINE_LIMIT,
    T.APPLICATION_CURRENCY,
    T.OFFLINE_AMOUNT_LIMIT,
  ];
  const [lower, upper, currency, amount] = tags.map((t) => findTag(nodes, t));
  if (lower === undefined && upper === undefined && currency === undefined && amount === undefined)
    return undefined;
  if (lower === undefined || upper === undefined || currency === undefined || amount === undefined)
    throw new PersonalizationError(
      'missing_field',
      'offline limits must be all of 9F14, 9F23, 9F42, DF0C or none',
    );
  if (lower.length !== 1 || upper.length !== 1 || currency.length !== 2 || amount.length !== 6)
    throw new PersonalizationError('bad_data', 'offline limits of the wrong length');
  const c = fromN(currency);
  const a = fromN(amount);
  if (c === undefined || a === undefined)
    throw new PersonalizationError('bad_data', 'offline currency or amount is not BCD');
  return {
    lowerConsecutive: lower[0] as number,
    upperConsecutive: upper[0] as number,
    currency: c,
    amountMinor: a,
  };
}

const tryLimit = (n: number | undefined, what: string): void => {
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 15))
    throw new PersonalizationError('bad_data', `${what} try limit must be 1-15`);
};

const bcd = (digits: string): Uint8Array =>
  new Uint8Array(Buffer.from(digits.length % 2 ? `${digits}F` : digits, 'hex'));
const digitsOf = (bytes: Uint8Array): string =>
  Buffer.from(bytes).toString('hex').toUpperCase().replace(/F+$/, '');

/** Encodes the personalization data as one TLV list (the chain's payload). */
export function encodePersonalizationData(p: CardPersonalization): Uint8Array {
  checkPublicBasics(p);
  if (!/^[0-9]{4,12}$/.test(p.pin)) throw new PersonalizationError('bad_data', 'PIN must be 4-12 digits');
  if (!Number.isInteger(p.pinTryLimit) || p.pinTryLimit < 1 || p.pinTryLimit > 15)
    throw new PersonalizationError('bad_data', 'PIN try limit must be 1-15');
  if (p.acMasterKey.length !== 16)
    throw new PersonalizationError('bad_data', 'AC master key must be 16 bytes');
  const atc = p.initialAtc ?? 0;
  if (!Number.isInteger(atc) || atc < 0 || atc > 0xfffe)
    throw new PersonalizationError('bad_data', 'initial ATC out of range');
  tryLimit(p.biometricTryLimit, 'biometric');
  tryLimit(p.knowledgeTryLimit, 'knowledge');
  if (p.offlineLimits !== undefined) checkOfflineLimits(p.offlineLimits);
  try {
    if (p.biometricTemplate !== undefined) checkBiometricTemplate(p.biometricTemplate);
    if (p.knowledgeSecret !== undefined)
      encodeKnowledgeSecret(Buffer.from(p.knowledgeSecret).toString('utf8'));
  } catch (cause) {
    throw new PersonalizationError(
      'bad_data',
      cause instanceof CvmDataError ? cause.message : 'bad cardholder-verification data',
      { cause },
    );
  }
  if (
    p.knowledgeSecret !== undefined &&
    !equalBytes(encodeKnowledgeSecret(Buffer.from(p.knowledgeSecret).toString('utf8')), p.knowledgeSecret)
  )
    throw new PersonalizationError('bad_data', 'knowledge secret must be the UTF-8 of its NFC form');
  const nodes: Tlv[] = [
    { tag: '5A', value: bcd(p.pan) },
    { tag: '5F34', value: Uint8Array.of(p.psn) },
    { tag: T.EXPIRY_YYMM, value: new Uint8Array(Buffer.from(p.expiry, 'ascii')) },
    { tag: '5F20', value: new Uint8Array(Buffer.from(p.cardholderName, 'latin1')) },
    { tag: '8F', value: Uint8Array.of(p.caPublicKeyIndex) },
    { tag: '90', value: p.issuerCertificate.certificate },
    { tag: '92', value: p.issuerCertificate.remainder },
    { tag: '9F32', value: p.issuerCertificate.exponent },
    { tag: '9F46', value: p.iccCertificate.certificate },
    { tag: '9F48', value: p.iccCertificate.remainder },
    { tag: '9F47', value: p.iccCertificate.exponent },
    { tag: T.ICC_PRIVATE_KEY, value: p.iccPrivateKey },
    { tag: T.AC_MASTER_KEY, value: p.acMasterKey },
    { tag: T.AC_ALGORITHM, value: Uint8Array.of(p.acAlgorithm === 'tdes' ? 1 : 2) },
    { tag: T.PIN, value: bcd(p.pin) },
    { tag: T.PIN_TRY_LIMIT, value: Uint8Array.of(p.pinTryLimit) },
    { tag: T.INITIAL_ATC, value: Uint8Array.of(atc >> 8, atc & 0xff) },
    ...(p.biometricTemplate !== undefined
      ? [{ tag: T.BIOMETRIC_TEMPLATE, value: templateBytes(p.biometricTemplate) }]
      : []),
    ...(p.biometricTryLimit !== undefined
      ? [{ tag: T.BIOMETRIC_TRY_LIMIT, value: Uint8Array.of(p.biometricTryLimit) }]
      : []),
    ...(p.knowledgeSecret !== undefined ? [{ tag: T.KNOWLEDGE_SECRET, value: p.knowledgeSecret }] : []),
    ...(p.knowledgeTryLimit !== undefined
      ? [{ tag: T.KNOWLEDGE_TRY_LIMIT, value: Uint8Array.of(p.knowledgeTryLimit) }]
      : []),
    ...(p.merchantId !== undefined
      ? [{ tag: '9F16', value: new Uint8Array(Buffer.from(p.merchantId, 'latin1')) }]
      : []),
    ...(p.offlineLimits !== undefined ? offlineLimitNodes(p.offlineLimits) : []),
  ];
  return encodeTlv(nodes);
}

/** Parses the chain's payload back (the card does this). Throws PersonalizationError. */
export function decodePersonalizationData(bytes: Uint8Array): CardPersonalization {
  let nodes: Tlv[];
  try {
    nodes = decodeTlv(bytes);
  } catch (cause) {
    throw new PersonalizationError('bad_data', 'personalization data is not TLV', { cause });
  }
  const need = (tag: string): Uint8Array => {
    const v = findTag(nodes, tag);
    if (!v) throw new PersonalizationError('missing_field', `personalization data lacks tag ${tag}`);
    return v;
  };
  const one = (tag: string): number => {
    const v = need(tag);
    if (v.length !== 1) throw new PersonalizationError('bad_data', `tag ${tag} must be one byte`);
    return v[0] as number;
  };
  const alg = one(T.AC_ALGORITHM);
  if (alg !== 1 && alg !== 2) throw new PersonalizationError('bad_data', 'unknown AC algorithm');
  const atc = need(T.INITIAL_ATC);
  if (atc.length !== 2) throw new PersonalizationError('bad_data', 'initial ATC must be 2 bytes');
  const p: CardPersonalization = {
    pan: digitsOf(need('5A')),
    psn: one('5F34'),
    expiry: Buffer.from(need(T.EXPIRY_YYMM)).toString('latin1'),
    cardholderName: Buffer.from(need('5F20')).toString('latin1'),
    caPublicKeyIndex: one('8F'),
    issuerCertificate: { certificate: need('90'), remainder: need('92'), exponent: need('9F32') },
    iccCertificate: { certificate: need('9F46'), remainder: need('9F48'), exponent: need('9F47') },
    iccPrivateKey: need(T.ICC_PRIVATE_KEY),
    acMasterKey: need(T.AC_MASTER_KEY),
    acAlgorithm: alg === 1 ? 'tdes' : 'aes',
    pin: digitsOf(need(T.PIN)),
    pinTryLimit: one(T.PIN_TRY_LIMIT),
    initialAtc: ((atc[0] as number) << 8) | (atc[1] as number),
  };
  const template = findTag(nodes, T.BIOMETRIC_TEMPLATE);
  const secret = findTag(nodes, T.KNOWLEDGE_SECRET);
  const optionalOne = (tag: string): number | undefined =>
    findTag(nodes, tag) === undefined ? undefined : one(tag);
  const biometricTryLimit = optionalOne(T.BIOMETRIC_TRY_LIMIT);
  const knowledgeTryLimit = optionalOne(T.KNOWLEDGE_TRY_LIMIT);
  if (template !== undefined) {
    try {
      p.biometricTemplate = templateFromBytes(template);
    } catch (cause) {
      throw new PersonalizationError('bad_data', 'biometric template must be 64 bytes, not all zero', {
        cause,
      });
    }
  }
  if (biometricTryLimit !== undefined) p.biometricTryLimit = biometricTryLimit;
  if (secret !== undefined) p.knowledgeSecret = secret;
  if (knowledgeTryLimit !== undefined) p.knowledgeTryLimit = knowledgeTryLimit;
  const merchantId = findTag(nodes, '9F16');
  if (merchantId) p.merchantId = Buffer.from(merchantId).toString('latin1');
  const offlineLimits = decodeOfflineLimits(nodes);
  if (offlineLimits !== undefined) p.offlineLimits = offlineLimits;
  // Re-validate through the encoder's checks (PAN, PSN, expiry, name, PIN, key sizes).
  encodePersonalizationData(p);
  return p;
}

/** MAC over one personalization command (see the module comment). */
export function personalizationMac(
  key: Uint8Array,
  previousMac: Uint8Array,
  header: Uint8Array,
  chunk: Uint8Array,
): Uint8Array {
  return aesCmac(key, concatBytes(previousMac, header, chunk)).slice(0, PERSO_MAC_LENGTH);
}

/**
 * Builds the STORE DATA chain that personalizes a card (the admin tool sends these in order and
 * expects 9000 to each). `personalizationKey` is the card's AES-128 personalization key.
 */
export function buildPersonalizationCommands(
  p: CardPersonalization,
  personalizationKey: Uint8Array,
): Uint8Array[] {
  if (personalizationKey.length !== 16)
    throw new PersonalizationError('bad_data', 'personalization key must be 16 bytes');
  const data = encodePersonalizationData(p);
  const count = Math.ceil(data.length / CHUNK);
  if (count > 256) throw new PersonalizationError('too_large', 'personalization data too large');
  const out: Uint8Array[] = [];
  let prev: Uint8Array = new Uint8Array(PERSO_MAC_LENGTH);
  for (let i = 0; i < count; i += 1) {
    const chunk = data.subarray(i * CHUNK, (i + 1) * CHUNK);
    const last = i === count - 1;
    const header = Uint8Array.of(0x80, 0xe2, last ? 0x80 : 0x00, i);
    const mac = personalizationMac(personalizationKey, prev, header, chunk);
    out.push(storeDataCommand(concatBytes(chunk, mac), i, last));
    prev = mac;
  }
  return out;
}

/** Constant-time-enough comparison of MACs (lengths are public). */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0 && equalBytes(a, b);
}
