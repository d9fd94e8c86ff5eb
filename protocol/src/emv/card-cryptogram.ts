import { concatBytes } from '../bytes';
import { generateAc, type AcAlgorithm } from './cryptogram';
import { EmvCryptoError } from './errors';
import { deriveAesIccMasterKey, deriveAesSessionKey, deriveIccMasterKeyA, deriveSessionKey } from './keys';

/**
 * bluetill card cryptogram profile (shared by the card and the authorization server):
 *  - ICC AC master key: TDES Option A (`tdes`), or bluetill's AES derivation (`aes`), from the
 *    issuer master key for AC, PAN and PSN;
 *  - session key per ATC (EMV common session key derivation, R = ATC ‖ 00..);
 *  - AC over CDOL1 data ‖ AIP ‖ ATC ‖ IAD: retail MAC (`tdes`) or AES-CMAC left 8 bytes (`aes`).
 * Issuer Application Data (9F10): length 06 ‖ key index ‖ CVN (01 tdes, 02 aes) ‖ CVR (4 bytes).
 */

/** Card Verification Results as bluetill cards report them (in the IAD). */
export type Cvr = {
  /** The cryptogram type returned. */
  acType: 'aac' | 'tc' | 'arqc';
  offlinePinPerformed: boolean;
  offlinePinFailed: boolean;
  pinTryLimitExceeded: boolean;
  /** INTERNAL AUTHENTICATE answered in this session. */
  ddaPerformed: boolean;
  cdaPerformed: boolean;
  pinTriesLeft: number;
  /** Fingerprint match-on-card (VERIFY P2 90) attempted in this session / its last attempt failed / locked (absent = false; decodeCvr sets all). */
  biometricPerformed?: boolean;
  biometricFailed?: boolean;
  biometricTryLimitExceeded?: boolean;
  /** Knowledge secret (VERIFY P2 91) attempted in this session / its last attempt failed / locked. */
  knowledgePerformed?: boolean;
  knowledgeFailed?: boolean;
  knowledgeTryLimitExceeded?: boolean;
  /**
   * Card risk management at the first GENERATE AC (EMV Book 3 Annex C7.3, CVR byte 3 bits 8-6, here
   * in the high nibble of bluetill's byte 3): the lower or upper consecutive offline limit would be
   * exceeded by another offline approval, or the cumulative offline amount (or the transaction is
   * not in the card's currency).
   */
  lowerConsecutiveOfflineLimitExceeded?: boolean;
  upperConsecutiveOfflineLimitExceeded?: boolean;
  offlineAmountLimitExceeded?: boolean;
  /** The card's last issuer authentication (EXTERNAL AUTHENTICATE) failed (byte 1 b1, as in the EMV CCD CVR). */
  issuerAuthenticationFailed?: boolean;
};

/** A CVR with nothing performed (a base for building one). */
export const EMPTY_CVR: Cvr = {
  acType: 'arqc',
  offlinePinPerformed: false,
  offlinePinFailed: false,
  pinTryLimitExceeded: false,
  ddaPerformed: false,
  cdaPerformed: false,
  pinTriesLeft: 0,
  biometricPerformed: false,
  biometricFailed: false,
  biometricTryLimitExceeded: false,
  knowledgePerformed: false,
  knowledgeFailed: false,
  knowledgeTryLimitExceeded: false,
  lowerConsecutiveOfflineLimitExceeded: false,
  upperConsecutiveOfflineLimitExceeded: false,
  offlineAmountLimitExceeded: false,
  issuerAuthenticationFailed: false,
};

export const CVN = { tdes: 0x01, aes: 0x02 } as const;

export function encodeCvr(c: Cvr): Uint8Array {
  const b1 =
    (c.acType === 'arqc' ? 0x80 : c.acType === 'tc' ? 0x40 : 0x00) |
    (c.issuerAuthenticationFailed ? 0x01 : 0);
  const b2 =
    (c.offlinePinPerformed ? 0x80 : 0) |
    (c.offlinePinFailed ? 0x40 : 0) |
    (c.pinTryLimitExceeded ? 0x20 : 0) |
    (c.ddaPerformed ? 0x08 : 0) |
    (c.cdaPerformed ? 0x04 : 0);
  const b4 =
    (c.biometricPerformed ? 0x80 : 0) |
    (c.biometricFailed ? 0x40 : 0) |
    (c.biometricTryLimitExceeded ? 0x20 : 0) |
    (c.knowledgePerformed ? 0x08 : 0) |
    (c.knowledgeFailed ? 0x04 : 0) |
    (c.knowledgeTryLimitExceeded ? 0x02 : 0);
  const b3 =
    (c.lowerConsecutiveOfflineLimitExceeded ? 0x80 : 0) |
    (c.upperConsecutiveOfflineLimitExceeded ? 0x40 : 0) |
    (c.offlineAmountLimitExceeded ? 0x20 : 0) |
    Math.max(0, Math.min(15, c.pinTriesLeft));
  return Uint8Array.of(b1, b2, b3, b4);
}

export function decodeCvr(bytes: Uint8Array): Cvr | undefined {
  if (bytes.length !== 4) return undefined;
  const [b1, b2, b3, b4] = [bytes[0] as number, bytes[1] as number, bytes[2] as number, bytes[3] as number];
  const acBits = b1 & 0xc0;
  const acType = acBits === 0x80 ? 'arqc' : acBits === 0x40 ? 'tc' : acBits === 0x00 ? 'aac' : undefined;
  if (!acType) return undefined;
  return {
    acType,
    offlinePinPerformed: (b2 & 0x80) !== 0,
    offlinePinFailed: (b2 & 0x40) !== 0,
    pinTryLimitExceeded: (b2 & 0x20) !== 0,
    ddaPerformed: (b2 & 0x08) !== 0,
    cdaPerformed: (b2 & 0x04) !== 0,
    pinTriesLeft: b3 & 0x0f,
    biometricPerformed: (b4 & 0x80) !== 0,
    biometricFailed: (b4 & 0x40) !== 0,
    biometricTryLimitExceeded: (b4 & 0x20) !== 0,
    knowledgePerformed: (b4 & 0x08) !== 0,
    knowledgeFailed: (b4 & 0x04) !== 0,
    knowledgeTryLimitExceeded: (b4 & 0x02) !== 0,
    lowerConsecutiveOfflineLimitExceeded: (b3 & 0x80) !== 0,
    upperConsecutiveOfflineLimitExceeded: (b3 & 0x40) !== 0,
    offlineAmountLimitExceeded: (b3 & 0x20) !== 0,
    issuerAuthenticationFailed: (b1 & 0x01) !== 0,
  };
}

/** IAD (9F10 value) = 06 ‖ key index ‖ CVN ‖ CVR. */
export function encodeIad(algorithm: AcAlgorithm, cvr: Cvr, keyIndex = 1): Uint8Array {
  return concatBytes(Uint8Array.of(0x06, keyIndex, CVN[algorithm]), encodeCvr(cvr));
}

export function decodeIad(
  iad: Uint8Array,
): { keyIndex: number; algorithm: AcAlgorithm; cvr: Cvr } | undefined {
  if (iad.length !== 7 || iad[0] !== 0x06) return undefined;
  const algorithm = iad[2] === CVN.tdes ? 'tdes' : iad[2] === CVN.aes ? 'aes' : undefined;
  const cvr = decodeCvr(iad.subarray(3));
  if (!algorithm || !cvr) return undefined;
  return { keyIndex: iad[1] as number, algorithm, cvr };
}

/** The ICC master key for application cryptograms, derived from the issuer master key. */
export function deriveCardAcMasterKey(
  imk: Uint8Array,
  pan: string,
  psn: number,
  algorithm: AcAlgorithm,
): Uint8Array {
  return algorithm === 'tdes' ? deriveIccMasterKeyA(imk, pan, psn) : deriveAesIccMasterKey(imk, pan, psn);
}

/** AC input for bluetill cards: CDOL1 data ‖ AIP ‖ ATC ‖ IAD. */
export function cardAcInput(
  cdolData: Uint8Array,
  aip: Uint8Array,
  atc: Uint8Array,
  iad: Uint8Array,
): Uint8Array {
  return concatBytes(cdolData, aip, atc, iad);
}

/** Computes a bluetill card's AC from its ICC master key (the card) or a re-derived one (the issuer). */
export function computeCardAc(input: {
  iccMasterKey: Uint8Array;
  algorithm: AcAlgorithm;
  atc: Uint8Array;
  data: Uint8Array;
}): Uint8Array {
  if (input.atc.length !== 2) throw new EmvCryptoError('bad_input_length', 'ATC is 2 bytes');
  const sk =
    input.algorithm === 'tdes'
      ? deriveSessionKey(input.iccMasterKey, input.atc)
      : deriveAesSessionKey(input.iccMasterKey, input.atc);
  return generateAc(sk, input.data, input.algorithm);
}
