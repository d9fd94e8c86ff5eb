import { concatBytes } from '../bytes';
import { assertNever } from '../errors';
import { EmvCryptoError } from './errors';
import { aesCmac, retailMac } from './mac';
import { desEncrypt } from './symmetric';

/** Which MAC the application cryptogram uses: TDES retail MAC (deployed cards) or AES-CMAC (bluetill cards). */
export type AcAlgorithm = 'tdes' | 'aes';

/**
 * Application cryptogram (ARQC/TC/AAC), EMV Book 2 Annex A1.2: 8 bytes.
 * tdes: ISO 9797-1 MAC algorithm 3, padding method 2, under the session key.
 * aes: AES-CMAC under the session key, leftmost 8 bytes.
 */
export function generateAc(
  sessionKey: Uint8Array,
  data: Uint8Array,
  algorithm: AcAlgorithm = 'tdes',
): Uint8Array {
  switch (algorithm) {
    case 'tdes':
      return retailMac(sessionKey, data, 2);
    case 'aes':
      return aesCmac(sessionKey, data).slice(0, 8);
    default:
      return assertNever(algorithm, 'AC algorithm');
  }
}

/** ARPC method 1, EMV Book 2 A1.3.1: TDES(key)[ARQC ⊕ (ARC ‖ 00..00)], 8 bytes. */
export function generateArpc1(key: Uint8Array, arqc: Uint8Array, arc: Uint8Array): Uint8Array {
  if (key.length !== 16)
    throw new EmvCryptoError('bad_key_length', 'ARPC key must be a double-length DES key');
  if (arqc.length !== 8) throw new EmvCryptoError('bad_input_length', 'ARQC must be 8 bytes');
  if (arc.length !== 2) throw new EmvCryptoError('bad_input_length', 'ARC must be 2 bytes');
  const block = Uint8Array.from(arqc);
  block[0] = (block[0] as number) ^ (arc[0] as number);
  block[1] = (block[1] as number) ^ (arc[1] as number);
  return desEncrypt(key, block);
}

/**
 * ARPC method 2, EMV Book 2 A1.3.2: leftmost 4 bytes of MAC algorithm 3 (padding method 2)
 * over ARQC ‖ CSU ‖ proprietary authentication data (0-8 bytes).
 */
export function generateArpc2(
  key: Uint8Array,
  arqc: Uint8Array,
  csu: Uint8Array,
  proprietaryData: Uint8Array = new Uint8Array(0),
): Uint8Array {
  if (key.length !== 16)
    throw new EmvCryptoError('bad_key_length', 'ARPC key must be a double-length DES key');
  if (arqc.length !== 8) throw new EmvCryptoError('bad_input_length', 'ARQC must be 8 bytes');
  if (csu.length !== 4) throw new EmvCryptoError('bad_input_length', 'CSU must be 4 bytes');
  if (proprietaryData.length > 8)
    throw new EmvCryptoError('bad_input_length', 'proprietary authentication data is 0-8 bytes');
  return retailMac(key, concatBytes(arqc, csu, proprietaryData), 2).slice(0, 4);
}
