import { timingSafeEqual } from 'node:crypto';
import { concatBytes } from '../bytes';
import { encodeCommandApdu } from '../apdu/command';
import { generateArpc2, type AcAlgorithm } from './cryptogram';
import { EmvCryptoError } from './errors';
import { deriveAesSessionKey, deriveSessionKey } from './keys';
import { aesCmac } from './mac';

/**
 * Issuer authentication: the issuer's answer to a card's ARQC, which the card checks with its own
 * AC key and then acts on.
 *
 * - Issuer Authentication Data (tag 91), ARPC method 2 (EMV Book 2 §8.2.2): ARPC (4 bytes) ‖ Card
 *   Status Update (4 bytes); bluetill sends no proprietary authentication data.
 * - ARPC (EMV Book 2 A1.3.2): the leftmost 4 bytes of the AC MAC (A1.2) under the card's AC
 *   session key of the ARQC's ATC, over ARQC ‖ CSU. TDES cards: MAC algorithm 3 (retail MAC),
 *   padding method 2 (`generateArpc2`); bluetill's AES cards: AES-CMAC, as their ACs.
 * - CSU (EMV Book 3, Common Core Definitions, Card Status Update; VIS 1.6 has the same layout):
 *   byte 1 b8 proprietary authentication data included, b4-b1 PIN Try Counter; byte 2 b8 issuer
 *   approves the online transaction, b7 card block, b6 application block, b5 update PIN Try
 *   Counter, b4 set go online on next transaction, b3 CSU created by proxy, b2-b1 update counters;
 *   byte 3 RFU; byte 4 issuer-discretionary. bluetill uses b4-b1 of byte 1 and b8, b5 of byte 2.
 * - EXTERNAL AUTHENTICATE (EMV Book 3 §6.5.4): 00 82 00 00, data = Issuer Authentication Data;
 *   9000 when the card accepts it, 6300 when issuer authentication failed.
 */

/** The parts of a Card Status Update bluetill sends. */
export type CardStatusUpdate = {
  /** Byte 1 b4-b1: the PIN Try Counter the issuer sets (0-15), when `updatePinTryCounter`. */
  readonly pinTriesLeft: number;
  /** Byte 2 b8: the issuer approves the online transaction. */
  readonly approved: boolean;
  /** Byte 2 b5: the card is to take the PIN Try Counter from byte 1. */
  readonly updatePinTryCounter: boolean;
};

export const CSU_LENGTH = 4;
export const ARPC2_LENGTH = 4;
/** ARPC ‖ CSU, no proprietary authentication data. */
export const ISSUER_AUTHENTICATION_DATA_LENGTH = ARPC2_LENGTH + CSU_LENGTH;
/** EXTERNAL AUTHENTICATE's status word when the ARPC does not verify (EMV Book 3 §6.5.4). */
export const SW_ISSUER_AUTHENTICATION_FAILED = 0x6300;

export function encodeCsu(c: CardStatusUpdate): Uint8Array {
  if (!Number.isInteger(c.pinTriesLeft) || c.pinTriesLeft < 0 || c.pinTriesLeft > 15)
    throw new EmvCryptoError('bad_input_length', 'CSU PIN Try Counter is 0-15');
  return Uint8Array.of(
    c.pinTriesLeft & 0x0f,
    (c.approved ? 0x80 : 0) | (c.updatePinTryCounter ? 0x10 : 0),
    0x00,
    0x00,
  );
}

/**
 * The CSU's meaning, or undefined for one this card does not act on: not 4 bytes, proprietary
 * authentication data announced (byte 1 b8), byte 1 b7-b5 or byte 3 not zero (RFU), or an action
 * bluetill cards do not take (card or application block, go online, proxy, counter updates).
 */
export function decodeCsu(csu: Uint8Array): CardStatusUpdate | undefined {
  if (csu.length !== CSU_LENGTH) return undefined;
  const [b1, b2, b3] = [csu[0] as number, csu[1] as number, csu[2] as number];
  if ((b1 & 0xf0) !== 0 || (b2 & 0x6f) !== 0 || b3 !== 0) return undefined;
  return { pinTriesLeft: b1 & 0x0f, approved: (b2 & 0x80) !== 0, updatePinTryCounter: (b2 & 0x10) !== 0 };
}

/** ARPC method 2 for a bluetill card, from its ICC master key (the card) or a re-derived one (the issuer). */
export function computeArpc(i: {
  iccMasterKey: Uint8Array;
  algorithm: AcAlgorithm;
  atc: Uint8Array;
  arqc: Uint8Array;
  csu: Uint8Array;
}): Uint8Array {
  if (i.atc.length !== 2) throw new EmvCryptoError('bad_input_length', 'ATC is 2 bytes');
  if (i.arqc.length !== 8) throw new EmvCryptoError('bad_input_length', 'ARQC must be 8 bytes');
  if (i.csu.length !== CSU_LENGTH) throw new EmvCryptoError('bad_input_length', 'CSU must be 4 bytes');
  if (i.algorithm === 'tdes') return generateArpc2(deriveSessionKey(i.iccMasterKey, i.atc), i.arqc, i.csu);
  return aesCmac(deriveAesSessionKey(i.iccMasterKey, i.atc), concatBytes(i.arqc, i.csu)).slice(
    0,
    ARPC2_LENGTH,
  );
}

/** Issuer Authentication Data (tag 91) for ARPC method 2: ARPC ‖ CSU. */
export function issuerAuthenticationData(i: {
  iccMasterKey: Uint8Array;
  algorithm: AcAlgorithm;
  atc: Uint8Array;
  arqc: Uint8Array;
  csu: CardStatusUpdate;
}): Uint8Array {
  const csu = encodeCsu(i.csu);
  return concatBytes(computeArpc({ ...i, csu }), csu);
}

/** Splits Issuer Authentication Data into ARPC and CSU; undefined unless exactly ARPC ‖ CSU (8 bytes). */
export function splitIssuerAuthenticationData(
  data: Uint8Array,
): { arpc: Uint8Array; csu: Uint8Array } | undefined {
  if (data.length !== ISSUER_AUTHENTICATION_DATA_LENGTH) return undefined;
  return { arpc: data.slice(0, ARPC2_LENGTH), csu: data.slice(ARPC2_LENGTH) };
}

/**
 * The card's check of Issuer Authentication Data against the ARQC it is waiting on: the CSU when
 * the ARPC verifies (compared in constant time) and the CSU is one it acts on, else undefined.
 */
export function checkIssuerAuthentication(
  data: Uint8Array,
  i: { iccMasterKey: Uint8Array; algorithm: AcAlgorithm; atc: Uint8Array; arqc: Uint8Array },
): CardStatusUpdate | undefined {
  const parts = splitIssuerAuthenticationData(data);
  if (!parts) return undefined;
  const want = computeArpc({ ...i, csu: parts.csu });
  if (!timingSafeEqual(want, parts.arpc)) return undefined;
  return decodeCsu(parts.csu);
}

/** EXTERNAL AUTHENTICATE (00 82 00 00) with the Issuer Authentication Data. */
export function externalAuthenticateCommand(issuerAuthenticationData: Uint8Array): Uint8Array {
  return encodeCommandApdu({ cla: 0x00, ins: 0x82, p1: 0x00, p2: 0x00, data: issuerAuthenticationData });
}
