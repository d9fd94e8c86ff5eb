import { createCipheriv } from 'node:crypto';
import { concatBytes } from '../bytes';
import { EmvCryptoError } from './errors';
import { aesEcbEncryptor, desEncrypt, xorBytes } from './symmetric';

/** ISO/IEC 9797-1 padding method 1 (zeros; an empty input becomes one zero block) or 2 ('80' then zeros). */
export function padIso9797(data: Uint8Array, method: 1 | 2, blockSize = 8): Uint8Array {
  if (method === 2) {
    const total = (Math.floor(data.length / blockSize) + 1) * blockSize;
    const out = new Uint8Array(total);
    out.set(data);
    out[data.length] = 0x80;
    return out;
  }
  if (method === 1) {
    const total = Math.max(blockSize, Math.ceil(data.length / blockSize) * blockSize);
    const out = new Uint8Array(total);
    out.set(data);
    return out;
  }
  throw new EmvCryptoError('bad_padding', 'padding method must be 1 or 2');
}

/**
 * ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC", ANSI X9.19) with a double-length DES key:
 * single-DES CBC under the left half, then decrypt/encrypt the last block with the right/left
 * halves. Returns 8 bytes.
 */
export function retailMac(key: Uint8Array, data: Uint8Array, padding: 1 | 2): Uint8Array {
  if (key.length !== 16) throw new EmvCryptoError('bad_key_length', 'retail MAC key must be 16 bytes');
  const padded = padIso9797(data, padding, 8);
  const left = key.subarray(0, 8);
  const last = padded.length - 8;
  // Single-DES CBC over all but the last block, in one cipher (not one per block).
  const h = last === 0 ? new Uint8Array(8) : desCbcLastBlock(left, padded.subarray(0, last));
  // Last block under TDES (E_K1 D_K2 E_K1) is exactly ISO 9797-1 output transformation 3.
  return desEncrypt(key, xorBytes(h, padded.subarray(last)));
}

function shiftLeftOne(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(block.length);
  for (let i = 0; i < block.length; i += 1) {
    out[i] = (((block[i] as number) << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  }
  return out;
}

function cmacSubkey(l: Uint8Array): Uint8Array {
  const k = shiftLeftOne(l);
  if (((l[0] as number) & 0x80) !== 0) k[15] = (k[15] as number) ^ 0x87;
  return k;
}

/**
 * AES-CMAC (RFC 4493 / NIST SP 800-38B) with a 128/192/256-bit key; returns the full 16 bytes.
 * One AES cipher for the subkey and every block (CBC by hand, a block at a time): a MAC costs one
 * cipher set-up, most of what an AES call costs in Node.
 */
export function aesCmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  const aes = aesEcbEncryptor(key);
  const k1 = cmacSubkey(aes(new Uint8Array(16)));
  const k2 = cmacSubkey(k1);
  const complete = data.length > 0 && data.length % 16 === 0;
  const lastBlock = complete
    ? xorBytes(data.subarray(data.length - 16), k1)
    : xorBytes(padIso9797(data.subarray(Math.floor(data.length / 16) * 16), 2, 16), k2);
  const blocks = complete ? data.length / 16 - 1 : Math.floor(data.length / 16);
  // CBC-MAC with a zero IV over the full blocks and the masked last one.
  let x: Uint8Array = new Uint8Array(16);
  for (let i = 0; i < blocks; i++) x = aes(xorBytes(x, data.subarray(i * 16, i * 16 + 16)));
  return aes(xorBytes(x, lastBlock));
}

/** The last block of single-DES CBC encryption with a zero IV (an 8-byte key, as EDE with K‖K; data: whole blocks). */
function desCbcLastBlock(key: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv('des-ede-cbc', concatBytes(key, key), new Uint8Array(8));
  c.setAutoPadding(false);
  const out = Buffer.concat([c.update(data), c.final()]);
  return new Uint8Array(out.subarray(out.length - 8));
}
