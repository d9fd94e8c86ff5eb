import { createHash, type KeyObject } from 'node:crypto';
import { concatBytes, equalBytes } from '../bytes';
import { OdaError } from './errors';
import { modulusLength, rsaRecover, rsaSign, type RsaPublicKey } from './rsa';
import { decodeTlv, encodeTlv, type Tlv } from './tlv';

/**
 * Offline data authentication, EMV Book 2 sections 5 and 6: RSA "signatures with message
 * recovery" in the ISO 9796-2 style: 6A ‖ recovered data ‖ SHA-1 hash (20) ‖ BC, the size of the
 * signer's modulus. Only hash algorithm 01 (SHA-1) and public key algorithm 01 (RSA) exist.
 */

const HEADER = 0x6a;
const TRAILER = 0xbc;
const SHA1 = 0x01;
const RSA = 0x01;

const sha1 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** Signs `body` (format byte first) the EMV way; body must be modulus length − 22 bytes. */
function signRecord(privateKey: KeyObject, body: Uint8Array, hashTail: Uint8Array[]): Uint8Array {
  const n = modulusLength(privateKey);
  if (body.length !== n - 22) throw new OdaError('bad_length', 'data to sign does not fit the key');
  return rsaSign(
    privateKey,
    concatBytes(Uint8Array.of(HEADER), body, sha1(body, ...hashTail), Uint8Array.of(TRAILER)),
  );
}

/** Recovers and checks header, trailer and format; returns the body (format byte first) and the hash. */
function recoverRecord(
  key: RsaPublicKey,
  signed: Uint8Array,
  format: number,
): { body: Uint8Array; hash: Uint8Array } {
  const x = rsaRecover(key, signed);
  if (x[0] !== HEADER) throw new OdaError('bad_header', 'recovered data header is not 6A');
  if (x[x.length - 1] !== TRAILER) throw new OdaError('bad_trailer', 'recovered data trailer is not BC');
  if (x[1] !== format)
    throw new OdaError('bad_format', `recovered data format is not ${format.toString(16).padStart(2, '0')}`);
  return { body: x.subarray(1, x.length - 21), hash: x.subarray(x.length - 21, x.length - 1) };
}

function checkHash(hash: Uint8Array, ...parts: Uint8Array[]): void {
  if (!equalBytes(hash, sha1(...parts)))
    throw new OdaError('hash_mismatch', 'hash of the recovered data does not match');
}

function fill(length: number, byte: number): Uint8Array {
  return new Uint8Array(length).fill(byte);
}

/** Digits of a compressed-numeric field (BCD, right-padded with F). */
export function cnDigits(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().replace(/F+$/, '');
}

/** Encodes digits as compressed numeric of `length` bytes, right-padded with F. */
export function cnEncode(digits: string, length: number): Uint8Array {
  if (!/^[0-9]*$/.test(digits) || digits.length > length * 2)
    throw new OdaError('bad_format', 'not a digit string that fits');
  return new Uint8Array(Buffer.from(digits.padEnd(length * 2, 'F'), 'hex'));
}

/** MMYY (BCD, 2 bytes) still valid in the month of `now` (UTC)? */
function checkNotExpired(mmyy: Uint8Array, now: Date | undefined): void {
  if (!now) return;
  const s = Buffer.from(mmyy).toString('hex');
  const mm = Number(s.slice(0, 2));
  const yy = Number(s.slice(2, 4));
  if (!/^[0-9]{4}$/.test(s) || mm < 1 || mm > 12)
    throw new OdaError('bad_format', 'certificate expiry is not MMYY');
  const expiry = (2000 + yy) * 12 + (mm - 1);
  const current = now.getUTCFullYear() * 12 + now.getUTCMonth();
  if (current > expiry) throw new OdaError('certificate_expired', 'certificate expired');
}

/** The part of a modulus that sits in the certificate, padded with BB, and the remainder. */
function splitModulus(modulus: Uint8Array, room: number): { inCert: Uint8Array; remainder: Uint8Array } {
  if (modulus.length <= room)
    return { inCert: concatBytes(modulus, fill(room - modulus.length, 0xbb)), remainder: new Uint8Array(0) };
  return { inCert: modulus.slice(0, room), remainder: modulus.slice(room) };
}

function joinModulus(inCert: Uint8Array, remainder: Uint8Array | undefined, length: number): Uint8Array {
  if (length <= inCert.length) return inCert.slice(0, length);
  const rest = remainder ?? new Uint8Array(0);
  if (inCert.length + rest.length !== length)
    throw new OdaError('missing_remainder', 'public key remainder missing or of the wrong length');
  return concatBytes(inCert, rest);
}

/** A certified public key as carried on the card: certificate, remainder, exponent. */
export type PublicKeyCertificate = { certificate: Uint8Array; remainder: Uint8Array; exponent: Uint8Array };

/** What an issuer public key certificate (tag 90, format 02) says. */
export type IssuerPublicKeyInfo = {
  publicKey: RsaPublicKey;
  issuerIdentifier: string;
  expiry: Uint8Array;
  serial: Uint8Array;
};

/**
 * Card-scheme CA side: issuer public key certificate (tag 90, format 02, Book 2 table 6)
 * under the CA private key; returns the certificate, the remainder (tag 92) and exponent (9F32).
 * `issuerIdentifier` is the leftmost 3-8 PAN digits; `expiry` MMYY BCD; `serial` 3 bytes.
 */
export function createIssuerCertificate(input: {
  caPrivateKey: KeyObject;
  issuerPublicKey: RsaPublicKey;
  issuerIdentifier: string;
  expiry: Uint8Array;
  serial: Uint8Array;
}): PublicKeyCertificate {
  const nCa = modulusLength(input.caPrivateKey);
  const { modulus, exponent } = input.issuerPublicKey;
  if (modulus.length > 248 || input.serial.length !== 3 || input.expiry.length !== 2)
    throw new OdaError('bad_length', 'issuer key, serial or expiry of the wrong size');
  if (!/^[0-9]{3,8}$/.test(input.issuerIdentifier))
    throw new OdaError('bad_format', 'issuer identifier must be 3-8 digits');
  const { inCert, remainder } = splitModulus(modulus, nCa - 36);
  const body = concatBytes(
    Uint8Array.of(0x02),
    cnEncode(input.issuerIdentifier, 4),
    input.expiry,
    input.serial,
    Uint8Array.of(SHA1, RSA, modulus.length, exponent.length),
    inCert,
  );
  return { certificate: signRecord(input.caPrivateKey, body, [remainder, exponent]), remainder, exponent };
}

/** An issuer public key certificate (tag 90) with what recovering and checking it needs. */
export interface IssuerCertificateInput {
  readonly caPublicKey: RsaPublicKey;
  readonly certificate: Uint8Array;
  readonly remainder?: Uint8Array;
  readonly exponent: Uint8Array;
  readonly pan: string;
  readonly now?: Date;
}

/**
 * Terminal side: recovers the issuer public key from its certificate (tag 90) under the CA
 * public key, EMV Book 2 section 5.3 / 6.3: header, format 02, hash over the recovered data ‖
 * remainder ‖ exponent, issuer identifier = leftmost PAN digits, not expired (when `now` given).
 */
export function recoverIssuerPublicKey(input: IssuerCertificateInput): IssuerPublicKeyInfo {
  const info = recoverIssuerCertificate(input);
  checkIssuerKeyUse(info, input.pan, input.now);
  return info;
}

/**
 * The part of recoverIssuerPublicKey that depends on the certificate alone (CA key, certificate,
 * remainder, exponent): what an issuer key cache may keep. Every use must then pass
 * checkIssuerKeyUse (the card's PAN, today's date).
 */
export function recoverIssuerCertificate(input: {
  caPublicKey: RsaPublicKey;
  certificate: Uint8Array;
  remainder?: Uint8Array;
  exponent: Uint8Array;
}): IssuerPublicKeyInfo {
  const { body, hash } = recoverRecord(input.caPublicKey, input.certificate, 0x02);
  checkHash(hash, body, input.remainder ?? new Uint8Array(0), input.exponent);
  const issuerIdentifier = cnDigits(body.subarray(1, 5));
  const expiry = body.slice(5, 7);
  const serial = body.slice(7, 10);
  if (body[10] !== SHA1 || body[11] !== RSA)
    throw new OdaError('unsupported_algorithm', 'unknown hash or public key algorithm');
  const length = body[12] as number;
  if (body[13] !== input.exponent.length)
    throw new OdaError('bad_format', 'exponent length differs from the certificate');
  const modulus = joinModulus(body.subarray(14), input.remainder, length);
  return { publicKey: { modulus, exponent: input.exponent }, issuerIdentifier, expiry, serial };
}

/** Checks of a recovered issuer key made on every use: issuer identifier = leftmost PAN digits, not expired (when `now` given). */
export function checkIssuerKeyUse(info: IssuerPublicKeyInfo, pan: string, now?: Date): void {
  if (info.issuerIdentifier.length < 3 || !pan.startsWith(info.issuerIdentifier))
    throw new OdaError('pan_mismatch', 'issuer identifier does not match the PAN');
  checkNotExpired(info.expiry, now);
}

/** What an ICC public key certificate (tag 9F46, format 04) says. */
export type IccPublicKeyInfo = {
  publicKey: RsaPublicKey;
  pan: string;
  expiry: Uint8Array;
  serial: Uint8Array;
};

/** The check of a recovered ICC key made on every use: not expired (when `now` given). */
export function checkIccKeyUse(info: IccPublicKeyInfo, now?: Date): void {
  checkNotExpired(info.expiry, now);
}

/**
 * Issuer side: ICC public key certificate (9F46, format 04, Book 2 table 14) under the issuer
 * private key, covering the static data to be authenticated; returns 9F46, 9F48, 9F47.
 */
export function createIccCertificate(input: {
  issuerPrivateKey: KeyObject;
  iccPublicKey: RsaPublicKey;
  pan: string;
  expiry: Uint8Array;
  serial: Uint8Array;
  staticData: Uint8Array;
}): PublicKeyCertificate {
  const nI = modulusLength(input.issuerPrivateKey);
  const { modulus, exponent } = input.iccPublicKey;
  if (modulus.length > 248 || input.serial.length !== 3 || input.expiry.length !== 2)
    throw new OdaError('bad_length', 'ICC key, serial or expiry of the wrong size');
  if (!/^[0-9]{12,19}$/.test(input.pan)) throw new OdaError('bad_format', 'PAN must be 12-19 digits');
  const { inCert, remainder } = splitModulus(modulus, nI - 42);
  const body = concatBytes(
    Uint8Array.of(0x04),
    cnEncode(input.pan, 10),
    input.expiry,
    input.serial,
    Uint8Array.of(SHA1, RSA, modulus.length, exponent.length),
    inCert,
  );
  return {
    certificate: signRecord(input.issuerPrivateKey, body, [remainder, exponent, input.staticData]),
    remainder,
    exponent,
  };
}

/**
 * Terminal side: recovers the ICC public key from 9F46 under the issuer public key (Book 2
 * section 6.4): format 04, hash over recovered data ‖ remainder ‖ exponent ‖ static data to be
 * authenticated, PAN equal to the card's PAN, not expired (when `now` given).
 */
export function recoverIccPublicKey(input: {
  issuerPublicKey: RsaPublicKey;
  certificate: Uint8Array;
  remainder?: Uint8Array;
  exponent: Uint8Array;
  pan: string;
  staticData: Uint8Array;
  now?: Date;
}): IccPublicKeyInfo {
  const { body, hash } = recoverRecord(input.issuerPublicKey, input.certificate, 0x04);
  const pan = cnDigits(body.subarray(1, 11));
  if (pan !== input.pan) throw new OdaError('pan_mismatch', 'certificate PAN does not match the card PAN');
  checkHash(hash, body, input.remainder ?? new Uint8Array(0), input.exponent, input.staticData);
  if (body[16] !== SHA1 || body[17] !== RSA)
    throw new OdaError('unsupported_algorithm', 'unknown hash or public key algorithm');
  if (body[19] !== input.exponent.length)
    throw new OdaError('bad_format', 'exponent length differs from the certificate');
  const expiry = body.slice(11, 13);
  checkNotExpired(expiry, input.now);
  const modulus = joinModulus(body.subarray(20), input.remainder, body[18] as number);
  return { publicKey: { modulus, exponent: input.exponent }, pan, expiry, serial: body.slice(13, 16) };
}

/** Issuer side, SDA: Signed Static Application Data (tag 93, format 03) over the static data. */
export function signStaticData(input: {
  issuerPrivateKey: KeyObject;
  dataAuthenticationCode: Uint8Array;
  staticData: Uint8Array;
}): Uint8Array {
  const nI = modulusLength(input.issuerPrivateKey);
  if (input.dataAuthenticationCode.length !== 2)
    throw new OdaError('bad_length', 'data authentication code is 2 bytes');
  const body = concatBytes(Uint8Array.of(0x03, SHA1), input.dataAuthenticationCode, fill(nI - 26, 0xbb));
  return signRecord(input.issuerPrivateKey, body, [input.staticData]);
}

/** Terminal side, SDA (Book 2 section 5.4): verifies tag 93; returns the data authentication code (9F45). */
export function verifySda(input: {
  issuerPublicKey: RsaPublicKey;
  signedStaticData: Uint8Array;
  staticData: Uint8Array;
}): { dataAuthenticationCode: Uint8Array } {
  const { body, hash } = recoverRecord(input.issuerPublicKey, input.signedStaticData, 0x03);
  if (body[1] !== SHA1) throw new OdaError('unsupported_algorithm', 'unknown hash algorithm');
  checkHash(hash, body, input.staticData);
  return { dataAuthenticationCode: body.slice(2, 4) };
}

function dynamicBody(nIc: number, iccDynamicData: Uint8Array): Uint8Array {
  if (iccDynamicData.length > nIc - 25)
    throw new OdaError('bad_length', 'ICC dynamic data too long for the key');
  return concatBytes(
    Uint8Array.of(0x05, SHA1, iccDynamicData.length),
    iccDynamicData,
    fill(nIc - iccDynamicData.length - 25, 0xbb),
  );
}

function dynamicNumberField(iccDynamicNumber: Uint8Array): Uint8Array {
  if (iccDynamicNumber.length < 2 || iccDynamicNumber.length > 8)
    throw new OdaError('bad_length', 'ICC dynamic number is 2-8 bytes');
  return concatBytes(Uint8Array.of(iccDynamicNumber.length), iccDynamicNumber);
}

function recoverDynamic(
  iccPublicKey: RsaPublicKey,
  signature: Uint8Array,
  terminalData: Uint8Array,
): Uint8Array {
  const { body, hash } = recoverRecord(iccPublicKey, signature, 0x05);
  if (body[1] !== SHA1) throw new OdaError('unsupported_algorithm', 'unknown hash algorithm');
  checkHash(hash, body, terminalData);
  const ldd = body[2] as number;
  if (3 + ldd > body.length) throw new OdaError('bad_format', 'ICC dynamic data length runs past the data');
  return body.slice(3, 3 + ldd);
}

/**
 * The card's verification counters as it signs them in its ICC Dynamic Data, after the fields EMV
 * fixes (Book 2 §6.5.2 lets the payment system define further data): BER-TLV, `9F17` PIN Try
 * Counter (offline PIN tries left), `DF21` fingerprint tries left, `DF22` knowledge-secret tries
 * left (each 1 byte; the last two only on a card that holds a template or a secret). Signed with the
 * terminal's unpredictable number, so a verifier knows them for this very transaction.
 */
export type CardCounters = {
  readonly pinTriesLeft: number;
  readonly biometricTriesLeft?: number;
  readonly knowledgeTriesLeft?: number;
};

const COUNTER_TAGS = {
  pinTriesLeft: '9F17',
  biometricTriesLeft: 'DF21',
  knowledgeTriesLeft: 'DF22',
} as const;

/** The TLV bytes of a card's counters (each 0-255). */
export function encodeCardCounters(c: CardCounters): Uint8Array {
  const nodes: Tlv[] = [];
  for (const [name, tag] of Object.entries(COUNTER_TAGS) as [keyof CardCounters, string][]) {
    const v = c[name];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0 || v > 255)
      throw new OdaError('bad_format', 'a try counter is one byte');
    nodes.push({ tag, value: Uint8Array.of(v) });
  }
  return encodeTlv(nodes);
}

/**
 * The counters from the data after ICC Dynamic Data's fixed fields: undefined when there is none
 * (a card issued before counters were signed); OdaError bad_format when it is not the layout above
 * (unknown or repeated tag, a value not 1 byte, no 9F17).
 */
export function decodeCardCounters(bytes: Uint8Array): CardCounters | undefined {
  if (bytes.length === 0) return undefined;
  let nodes: Tlv[];
  try {
    nodes = decodeTlv(bytes);
  } catch (cause) {
    throw new OdaError('bad_format', 'card counters are not TLV', { cause });
  }
  const out: { pinTriesLeft?: number; biometricTriesLeft?: number; knowledgeTriesLeft?: number } = {};
  for (const n of nodes) {
    const name = (Object.keys(COUNTER_TAGS) as (keyof CardCounters)[]).find((k) => COUNTER_TAGS[k] === n.tag);
    if (!name || out[name] !== undefined || n.value.length !== 1)
      throw new OdaError('bad_format', 'card counters malformed');
    out[name] = n.value[0] as number;
  }
  if (out.pinTriesLeft === undefined)
    throw new OdaError('bad_format', 'card counters without the PIN try counter');
  return out as CardCounters;
}

/**
 * Card side, DDA (INTERNAL AUTHENTICATE): Signed Dynamic Application Data (9F4B, format 05)
 * over the ICC dynamic number, the card's counters when given, and the terminal's DDOL data
 * (normally its unpredictable number).
 */
export function signDynamicData(input: {
  iccPrivateKey: KeyObject;
  iccDynamicNumber: Uint8Array;
  terminalData: Uint8Array;
  counters?: CardCounters;
}): Uint8Array {
  const dd = concatBytes(
    dynamicNumberField(input.iccDynamicNumber),
    input.counters ? encodeCardCounters(input.counters) : new Uint8Array(0),
  );
  const body = dynamicBody(modulusLength(input.iccPrivateKey), dd);
  return signRecord(input.iccPrivateKey, body, [input.terminalData]);
}

/**
 * Terminal side, DDA (Book 2 section 6.5): verifies 9F4B over the DDOL data; returns the ICC
 * dynamic number and the card's counters (undefined from a card that signs none).
 */
export function verifyDda(input: {
  iccPublicKey: RsaPublicKey;
  signedDynamicData: Uint8Array;
  terminalData: Uint8Array;
}): { iccDynamicNumber: Uint8Array; counters?: CardCounters } {
  const dd = recoverDynamic(input.iccPublicKey, input.signedDynamicData, input.terminalData);
  const l = dd[0];
  if (l === undefined || l < 2 || l > 8 || dd.length < 1 + l)
    throw new OdaError('bad_format', 'ICC dynamic number malformed');
  const counters = decodeCardCounters(dd.subarray(1 + l));
  return { iccDynamicNumber: dd.slice(1, 1 + l), ...(counters ? { counters } : {}) };
}

/**
 * CDA Transaction Data Hash Code (Book 2 section 6.6.1): SHA-1 over the PDOL data ‖ CDOL1 data ‖
 * the GENERATE AC response data objects (TLV-encoded, in order) other than 9F4B.
 */
export function cdaTransactionDataHash(
  pdolData: Uint8Array,
  cdolData: Uint8Array,
  responseObjectsWithout9F4B: Uint8Array,
): Uint8Array {
  return sha1(pdolData, cdolData, responseObjectsWithout9F4B);
}

/**
 * Card side, CDA (GENERATE AC with CDA requested): 9F4B over ICC dynamic number ‖ CID ‖ AC ‖
 * transaction data hash code ‖ the card's counters when given, hashed with the terminal's
 * unpredictable number.
 */
export function signCda(input: {
  iccPrivateKey: KeyObject;
  iccDynamicNumber: Uint8Array;
  cid: number;
  ac: Uint8Array;
  transactionDataHash: Uint8Array;
  unpredictableNumber: Uint8Array;
  counters?: CardCounters;
}): Uint8Array {
  if (input.ac.length !== 8 || input.transactionDataHash.length !== 20)
    throw new OdaError('bad_length', 'AC is 8 bytes, transaction data hash 20');
  const dd = concatBytes(
    dynamicNumberField(input.iccDynamicNumber),
    Uint8Array.of(input.cid & 0xff),
    input.ac,
    input.transactionDataHash,
    input.counters ? encodeCardCounters(input.counters) : new Uint8Array(0),
  );
  return signRecord(input.iccPrivateKey, dynamicBody(modulusLength(input.iccPrivateKey), dd), [
    input.unpredictableNumber,
  ]);
}

/**
 * Terminal side, CDA (Book 2 section 6.6.2): verifies 9F4B with the UN, checks the CID matches
 * the one in the response and the transaction data hash matches the one computed by the
 * terminal; returns the ICC dynamic number, the AC, which is only trusted from here, and the
 * card's counters (undefined from a card that signs none).
 */
export function verifyCda(input: {
  iccPublicKey: RsaPublicKey;
  signedDynamicData: Uint8Array;
  unpredictableNumber: Uint8Array;
  cid: number;
  transactionDataHash: Uint8Array;
}): { iccDynamicNumber: Uint8Array; ac: Uint8Array; counters?: CardCounters } {
  const dd = recoverDynamic(input.iccPublicKey, input.signedDynamicData, input.unpredictableNumber);
  const l = dd[0];
  if (l === undefined || l < 2 || l > 8 || dd.length < 1 + l + 1 + 8 + 20)
    throw new OdaError('bad_format', 'CDA dynamic data malformed');
  const at = 1 + l;
  if (dd[at] !== (input.cid & 0xff)) throw new OdaError('data_mismatch', 'CID differs from the signed CID');
  if (!equalBytes(dd.subarray(at + 9, at + 29), input.transactionDataHash))
    throw new OdaError('data_mismatch', 'transaction data hash differs');
  const counters = decodeCardCounters(dd.subarray(at + 29));
  return {
    iccDynamicNumber: dd.slice(1, at),
    ac: dd.slice(at + 1, at + 9),
    ...(counters ? { counters } : {}),
  };
}

/** A record as read with READ RECORD: the SFI it came from and the full record bytes (template 70). */
export type ReadRecord = { sfi: number; record: number; data: Uint8Array };

/**
 * Static data to be authenticated (Book 3 section 10.3): for SFI 1-10, the value of template
 * '70' (tag and length excluded); for SFI 11-30, the whole record; then the AIP when the SDA Tag
 * List (9F4A) names it. Throws OdaError when an SFI 1-10 record is not one '70' template.
 */
export function staticDataToAuthenticate(records: readonly ReadRecord[], aip?: Uint8Array): Uint8Array {
  const parts = records.map((r) => {
    if (r.sfi > 10) return r.data;
    let nodes;
    try {
      nodes = decodeTlv(r.data);
    } catch (cause) {
      throw new OdaError('bad_format', 'record for ODA is not TLV', { cause });
    }
    const only = nodes[0];
    if (nodes.length !== 1 || only === undefined || only.tag !== '70')
      throw new OdaError('bad_format', 'record for ODA is not one 70 template');
    return only.value;
  });
  return concatBytes(...parts, aip ?? new Uint8Array(0));
}
