import { createHash } from 'node:crypto';
import { CvmMethod } from '../gen/bluetill/v1/common';
import { ProtocolError } from '../errors';
import { encodeTlv, decodeTlv } from './tlv';
import type { Cvr } from './card-cryptogram';

/**
 * Cardholder verification methods (claims 10, 16, 17) as the phone, the card and the backend
 * name them, and the data the card checks itself:
 *  - offline PIN: VERIFY P2 80, plaintext PIN block (see plaintext-pin.ts);
 *  - biometric match-on-card: VERIFY P2 90, data = biometric data template 7F2E { 81 template },
 *    the template a vector of 64 signed bytes; the card matches by cosine similarity against the
 *    template personalized in DF08, threshold BIOMETRIC_MATCH_THRESHOLD;
 *  - knowledge secret: VERIFY P2 91, data = the secret (UTF-8 of its NFC form, 4-64 bytes), compared
 *    with DF09.
 * Each has its own try counter on the card; the result goes into the CVR (byte 2 for the PIN,
 * byte 4 for biometric and knowledge), which the ARQC covers.
 */

export type CvmName = 'online_pin' | 'offline_pin' | 'biometric' | 'knowledge';

export const CVM_NAMES: readonly CvmName[] = ['online_pin', 'offline_pin', 'biometric', 'knowledge'];

/** The wire enum for a method name. */
export function cvmMethodOf(name: CvmName): CvmMethod {
  switch (name) {
    case 'online_pin':
      return CvmMethod.CVM_METHOD_UNSPECIFIED;
    case 'offline_pin':
      return CvmMethod.CVM_METHOD_OFFLINE_PIN;
    case 'biometric':
      return CvmMethod.CVM_METHOD_BIOMETRIC;
    case 'knowledge':
      return CvmMethod.CVM_METHOD_KNOWLEDGE;
  }
}

/** The method named by a wire value; undefined for anything outside the enum (refuse at the edge). */
export function cvmNameOf(method: number): CvmName | undefined {
  switch (method) {
    case CvmMethod.CVM_METHOD_UNSPECIFIED:
      return 'online_pin';
    case CvmMethod.CVM_METHOD_OFFLINE_PIN:
      return 'offline_pin';
    case CvmMethod.CVM_METHOD_BIOMETRIC:
      return 'biometric';
    case CvmMethod.CVM_METHOD_KNOWLEDGE:
      return 'knowledge';
    default:
      return undefined;
  }
}

/** VERIFY P2 qualifiers (ISO 7816-4 "specific reference data": 80 is EMV's plaintext PIN; 90, 91 are bluetill's). */
export const VERIFY_P2 = { offlinePin: 0x80, biometric: 0x90, knowledge: 0x91 } as const;

/** Card CVM results (9F34) method codes; 20 and 21 are in EMV's range for payment systems (Book 3 C3). */
export const CVM_CODE = {
  plaintextPinByIcc: 0x01,
  biometricOnCard: 0x20,
  knowledgeOnCard: 0x21,
  noCvmPerformed: 0x3f,
} as const;

export type CvmDataErrorCode = 'bad_template' | 'bad_secret';

/** Biometric or knowledge data that cannot be used. Never carries the data itself. */
export class CvmDataError extends ProtocolError<CvmDataErrorCode> {}

export const BIOMETRIC_TEMPLATE_LENGTH = 64;
/** Cosine similarity at or above which the card accepts a fingerprint. */
export const BIOMETRIC_MATCH_THRESHOLD = 0.9;
export const KNOWLEDGE_SECRET_MIN_BYTES = 4;
export const KNOWLEDGE_SECRET_MAX_BYTES = 64;
/** Default try limits when personalization does not set them. */
export const DEFAULT_BIOMETRIC_TRY_LIMIT = 5;
export const DEFAULT_KNOWLEDGE_TRY_LIMIT = 3;

/** A fingerprint template: 64 signed components. */
export function checkBiometricTemplate(template: Int8Array): Int8Array {
  if (template.length !== BIOMETRIC_TEMPLATE_LENGTH)
    throw new CvmDataError(
      'bad_template',
      `a biometric template has ${BIOMETRIC_TEMPLATE_LENGTH} components`,
    );
  if (template.every((v) => v === 0))
    throw new CvmDataError('bad_template', 'a biometric template is not all zeros');
  return template;
}

/** The raw bytes of a template (two's complement), as stored in DF08. */
export const templateBytes = (template: Int8Array): Uint8Array =>
  new Uint8Array(template.buffer.slice(template.byteOffset, template.byteOffset + template.byteLength));

/** A template from its raw bytes (DF08 or a template file). Throws CvmDataError. */
export function templateFromBytes(bytes: Uint8Array): Int8Array {
  return checkBiometricTemplate(new Int8Array(Uint8Array.from(bytes).buffer));
}

/** VERIFY P2 90 command data: 7F2E { 81 template }. */
export function encodeBiometricVerifyData(template: Int8Array): Uint8Array {
  checkBiometricTemplate(template);
  return encodeTlv([
    { tag: '7F2E', value: new Uint8Array(), children: [{ tag: '81', value: templateBytes(template) }] },
  ]);
}

/** Parses VERIFY P2 90 command data (the card does this). Throws CvmDataError only. */
export function parseBiometricVerifyData(data: Uint8Array): Int8Array {
  let nodes;
  try {
    nodes = decodeTlv(data);
  } catch (cause) {
    throw new CvmDataError('bad_template', 'biometric data is not BER-TLV', { cause });
  }
  const outer = nodes[0];
  if (
    nodes.length !== 1 ||
    outer?.tag !== '7F2E' ||
    outer.children?.length !== 1 ||
    outer.children[0]?.tag !== '81'
  )
    throw new CvmDataError('bad_template', 'biometric data must be one 7F2E template holding one 81');
  return templateFromBytes(outer.children[0].value);
}

/** Cosine similarity of two templates, in [-1, 1]; 0 when either is all zeros. */
export function biometricSimilarity(a: Int8Array, b: Int8Array): number {
  if (a.length !== b.length) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

export const biometricMatches = (enrolled: Int8Array, presented: Int8Array): boolean =>
  biometricSimilarity(enrolled, presented) >= BIOMETRIC_MATCH_THRESHOLD;

/** The bytes of a knowledge secret as the card stores and checks them: UTF-8 of the NFC form. Throws CvmDataError. */
export function encodeKnowledgeSecret(secret: string): Uint8Array {
  const bytes = new Uint8Array(Buffer.from(secret.normalize('NFC'), 'utf8'));
  if (bytes.length < KNOWLEDGE_SECRET_MIN_BYTES || bytes.length > KNOWLEDGE_SECRET_MAX_BYTES)
    throw new CvmDataError(
      'bad_secret',
      `a knowledge secret is ${KNOWLEDGE_SECRET_MIN_BYTES}-${KNOWLEDGE_SECRET_MAX_BYTES} bytes of UTF-8`,
    );
  return bytes;
}

/** Which CVR bits say a method passed, failed, or is locked. Online PIN is not the card's: it has none. */
export function cvrResultOf(
  method: Exclude<CvmName, 'online_pin'>,
  cvr: Cvr,
): { performed: boolean; failed: boolean; locked: boolean } {
  switch (method) {
    case 'offline_pin':
      return {
        performed: cvr.offlinePinPerformed,
        failed: cvr.offlinePinFailed,
        locked: cvr.pinTryLimitExceeded,
      };
    case 'biometric':
      return {
        performed: cvr.biometricPerformed === true,
        failed: cvr.biometricFailed === true,
        locked: cvr.biometricTryLimitExceeded === true,
      };
    case 'knowledge':
      return {
        performed: cvr.knowledgePerformed === true,
        failed: cvr.knowledgeFailed === true,
        locked: cvr.knowledgeTryLimitExceeded === true,
      };
  }
}

/** True when any method the card checked in this session failed (its last attempt). */
export const cvrShowsFailure = (cvr: Cvr): boolean =>
  cvr.offlinePinFailed || cvr.biometricFailed === true || cvr.knowledgeFailed === true;

/**
 * A demo fingerprint template derived from a name (SHA-256 in counter mode, components in
 * -100..100): the same finger always gives the same template. Tests and demos only.
 */
export function demoFingerprint(name: string): Int8Array {
  const out = new Int8Array(BIOMETRIC_TEMPLATE_LENGTH);
  for (let block = 0; block * 32 < out.length; block++) {
    const h = createHash('sha256').update(`bluetill-demo-finger|${name}|${block}`).digest();
    for (let i = 0; i < 32 && block * 32 + i < out.length; i++)
      out[block * 32 + i] = ((h[i] as number) % 201) - 100;
  }
  return checkBiometricTemplate(out);
}
