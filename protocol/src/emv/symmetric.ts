import { createCipheriv, createDecipheriv } from 'node:crypto';
import { EmvCryptoError } from './errors';

/** TDES/DES and AES block primitives on top of Node crypto (single DES runs as EDE with K‖K). */

function tdesName(key: Uint8Array): { name: string; key: Uint8Array } {
  switch (key.length) {
    case 8:
      return { name: 'des-ede-ecb', key: Buffer.concat([key, key]) };
    case 16:
      return { name: 'des-ede-ecb', key };
    case 24:
      return { name: 'des-ede3-ecb', key };
    default:
      throw new EmvCryptoError('bad_key_length', 'DES key must be 8, 16 or 24 bytes');
  }
}

function run(encrypt: boolean, name: string, key: Uint8Array, data: Uint8Array): Uint8Array {
  const c = encrypt ? createCipheriv(name, key, null) : createDecipheriv(name, key, null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** (T)DES ECB encryption of whole 8-byte blocks; an 8-byte key means single DES. */
export function desEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length % 8 !== 0)
    throw new EmvCryptoError('bad_input_length', 'DES input must be whole 8-byte blocks');
  const t = tdesName(key);
  return run(true, t.name, t.key, data);
}

/** (T)DES ECB decryption of whole 8-byte blocks. */
export function desDecrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length % 8 !== 0)
    throw new EmvCryptoError('bad_input_length', 'DES input must be whole 8-byte blocks');
  const t = tdesName(key);
  return run(false, t.name, t.key, data);
}

function aesName(key: Uint8Array): string {
  switch (key.length) {
    case 16:
      return 'aes-128-ecb';
    case 24:
      return 'aes-192-ecb';
    case 32:
      return 'aes-256-ecb';
    default:
      throw new EmvCryptoError('bad_key_length', 'AES key must be 16, 24 or 32 bytes');
  }
}

/** AES ECB encryption of whole 16-byte blocks. */
export function aesEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length % 16 !== 0)
    throw new EmvCryptoError('bad_input_length', 'AES input must be whole 16-byte blocks');
  return run(true, aesName(key), key, data);
}

/**
 * One AES-ECB encryption cipher for many single blocks (each 16-byte update comes out at once,
 * without padding): for block-at-a-time modes such as CMAC, one cipher set-up instead of one per
 * block.
 */
export function aesEcbEncryptor(key: Uint8Array): (block: Uint8Array) => Uint8Array {
  const c = createCipheriv(aesName(key), key, null);
  c.setAutoPadding(false);
  return (block) => {
    if (block.length !== 16) throw new EmvCryptoError('bad_input_length', 'an AES block is 16 bytes');
    const out = c.update(block);
    return new Uint8Array(out.buffer, out.byteOffset, 16);
  };
}

/** Sets each byte's low bit so that every byte has odd parity (DES key convention). */
export function adjustOddParity(key: Uint8Array): Uint8Array {
  return key.map((b) => {
    let ones = 0;
    for (let v = b >> 1; v; v >>= 1) ones += v & 1;
    return (b & 0xfe) | (ones % 2 === 0 ? 1 : 0);
  });
}

/** Key check value: first `length` bytes of the key encrypting a zero block (TDES or AES). */
export function keyCheckValue(key: Uint8Array, length = 3, algorithm: 'tdes' | 'aes' = 'tdes'): Uint8Array {
  const block =
    algorithm === 'tdes' ? desEncrypt(key, new Uint8Array(8)) : aesEncrypt(key, new Uint8Array(16));
  return block.slice(0, length);
}

export function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== b.length) throw new EmvCryptoError('bad_input_length', 'xor of unequal lengths');
  return a.map((v, i) => v ^ (b[i] as number));
}
