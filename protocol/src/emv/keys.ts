import { createHash } from 'node:crypto';
import { concatBytes } from '../bytes';
import { EmvCryptoError } from './errors';
import { adjustOddParity, aesEncrypt, desEncrypt } from './symmetric';

/** PAN Sequence Number as two decimal digits ("00".."99"); absent means "00". */
export type Psn = number | string | undefined;

function digits(pan: string): string {
  if (!/^[0-9]{1,19}$/.test(pan)) throw new EmvCryptoError('bad_pan', 'PAN must be 1 to 19 decimal digits');
  return pan;
}

function psnDigits(psn: Psn): string {
  if (psn === undefined) return '00';
  const s = typeof psn === 'number' ? String(psn).padStart(2, '0') : psn;
  if (!/^[0-9]{2}$/.test(s)) throw new EmvCryptoError('bad_pan', 'PSN must be two decimal digits');
  return s;
}

function bcd(digitString: string): Uint8Array {
  const even = digitString.length % 2 === 0 ? digitString : `0${digitString}`;
  return new Uint8Array(Buffer.from(even, 'hex'));
}

function checkImk(imk: Uint8Array): void {
  if (imk.length !== 16)
    throw new EmvCryptoError('bad_key_length', 'issuer master key must be a double-length DES key');
}

function fromY(imk: Uint8Array, y: Uint8Array): Uint8Array {
  const left = desEncrypt(imk, y);
  const right = desEncrypt(
    imk,
    y.map((b) => b ^ 0xff),
  );
  return adjustOddParity(concatBytes(left, right));
}

/**
 * ICC master key, EMV Book 2 Annex A1.4.1 (Option A): Y = rightmost 16 digits of PAN ‖ PSN
 * (left-padded with zeros), MK = TDES(IMK)[Y] ‖ TDES(IMK)[Y ⊕ FF..FF], odd parity.
 */
export function deriveIccMasterKeyA(imk: Uint8Array, pan: string, psn?: Psn): Uint8Array {
  checkImk(imk);
  const x = `${digits(pan)}${psnDigits(psn)}`;
  const y16 = x.length >= 16 ? x.slice(-16) : x.padStart(16, '0');
  return fromY(imk, bcd(y16));
}

/**
 * ICC master key, EMV Book 2 Annex A1.4.2 (Option B) for PANs longer than 16 digits: Y is 16
 * decimal digits taken from SHA-1(PAN ‖ PSN) (digits first, then A-F decimalised as 0-5), then as
 * Option A. PANs of 16 digits or fewer use Option A.
 */
export function deriveIccMasterKeyB(imk: Uint8Array, pan: string, psn?: Psn): Uint8Array {
  checkImk(imk);
  if (digits(pan).length <= 16) return deriveIccMasterKeyA(imk, pan, psn);
  const hashHex = createHash('sha1')
    .update(bcd(`${pan}${psnDigits(psn)}`))
    .digest('hex');
  let y = hashHex.replace(/[a-f]/g, '');
  if (y.length < 16) {
    const letters = hashHex
      .replace(/[0-9]/g, '')
      .replace(/[a-f]/g, (c) => String(c.charCodeAt(0) - 'a'.charCodeAt(0)));
    y += letters;
  }
  return fromY(imk, bcd(y.slice(0, 16)));
}

function diversifier(r: Uint8Array, blockSize: 8 | 16): Uint8Array {
  if (r.length === 2) {
    const out = new Uint8Array(blockSize);
    out.set(r);
    return out;
  }
  if (r.length !== blockSize)
    throw new EmvCryptoError(
      'bad_input_length',
      `diversification value must be 2 (ATC) or ${blockSize} bytes`,
    );
  return r;
}

/**
 * EMV common session key derivation, Book 2 Annex A1.3 (TDES): with R = r (8 bytes) or
 * ATC ‖ 00..00 (r of 2 bytes), SK = TDES(MK)[R0 R1 F0 R3..R7] ‖ TDES(MK)[R0 R1 0F R3..R7],
 * odd parity.
 */
export function deriveSessionKey(iccMasterKey: Uint8Array, r: Uint8Array): Uint8Array {
  if (iccMasterKey.length !== 16)
    throw new EmvCryptoError('bad_key_length', 'ICC master key must be a double-length DES key');
  const base = diversifier(r, 8);
  const f1 = Uint8Array.from(base);
  f1[2] = 0xf0;
  const f2 = Uint8Array.from(base);
  f2[2] = 0x0f;
  return adjustOddParity(concatBytes(desEncrypt(iccMasterKey, f1), desEncrypt(iccMasterKey, f2)));
}

/**
 * Session key for bluetill's AES-128 cards, modelled on the EMV common session key derivation
 * (Book 2 A1.3.1) with a 16-byte block: R = r (16 bytes) or ATC ‖ 00..00;
 * SK = AES(MK)[R0 R1 F0 R3..R15]. Not checked against a published AES vector.
 */
export function deriveAesSessionKey(iccMasterKey: Uint8Array, r: Uint8Array): Uint8Array {
  if (iccMasterKey.length !== 16)
    throw new EmvCryptoError('bad_key_length', 'AES ICC master key must be 16 bytes');
  const f1 = Uint8Array.from(diversifier(r, 16));
  f1[2] = 0xf0;
  return aesEncrypt(iccMasterKey, f1);
}

/**
 * bluetill's AES-128 ICC master key derivation for its own cards (modelled on Option A; not a
 * published EMV option): Y as in Option A (8 bytes), MK = AES(IMK)[Y ‖ (Y ⊕ FF..FF)].
 */
export function deriveAesIccMasterKey(imk: Uint8Array, pan: string, psn?: Psn): Uint8Array {
  if (imk.length !== 16) throw new EmvCryptoError('bad_key_length', 'AES issuer master key must be 16 bytes');
  const x = `${digits(pan)}${psnDigits(psn)}`;
  const y = bcd(x.length >= 16 ? x.slice(-16) : x.padStart(16, '0'));
  return aesEncrypt(
    imk,
    concatBytes(
      y,
      y.map((b) => b ^ 0xff),
    ),
  );
}
