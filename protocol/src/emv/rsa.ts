import { constants, createPublicKey, privateEncrypt, publicDecrypt, type KeyObject } from 'node:crypto';
import { OdaError } from './errors';

/** An RSA public key as EMV carries it: big-endian modulus and exponent (1 or 3 bytes). */
export type RsaPublicKey = { modulus: Uint8Array; exponent: Uint8Array };

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const stripZeros = (bytes: Uint8Array): Uint8Array => {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i += 1;
  return bytes.subarray(i);
};

/** Modulus and exponent of a Node RSA key (public or private). */
export function rsaPublicKeyOf(key: KeyObject): RsaPublicKey {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') {
    throw new OdaError('bad_key', 'not an RSA key');
  }
  return {
    modulus: new Uint8Array(Buffer.from(jwk.n, 'base64url')),
    exponent: new Uint8Array(Buffer.from(jwk.e, 'base64url')),
  };
}

/**
 * KeyObjects of keys used more than once (scheme CA keys, cached issuer keys), by key object: a
 * fresh key (an ICC key, parsed from each card's certificate) still pays its own import.
 */
const keyObjects = new WeakMap<RsaPublicKey, KeyObject>();

function toKeyObject(key: RsaPublicKey): KeyObject {
  const cached = keyObjects.get(key);
  if (cached) return cached;
  try {
    const k = createPublicKey({
      key: { kty: 'RSA', n: b64url(stripZeros(key.modulus)), e: b64url(stripZeros(key.exponent)) },
      format: 'jwk',
    });
    keyObjects.set(key, k);
    return k;
  } catch (cause) {
    throw new OdaError('bad_key', 'RSA public key does not load', { cause });
  }
}

const bigIntOf = (bytes: Uint8Array): bigint =>
  BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`);

function isExponent3(exponent: Uint8Array): boolean {
  const e = stripZeros(exponent);
  return e.length === 1 && e[0] === 3;
}

/**
 * Raw RSA public operation (data^e mod n); data must be exactly as long as the modulus.
 * With exponent 3 (EMV allows 3 and 65537; every key this project issues uses 3) the two modular
 * multiplications run on BigInt, 3-4x cheaper than importing the key into OpenSSL for a single
 * operation. The data is public, so timing does not matter; data not below the modulus
 * is refused, as OpenSSL refuses it.
 */
export function rsaRecover(key: RsaPublicKey, data: Uint8Array): Uint8Array {
  const modulus = stripZeros(key.modulus);
  const n = modulus.length;
  if (data.length !== n)
    throw new OdaError('bad_length', `signed data is ${data.length} bytes, key modulus is ${n}`);
  if (n >= 64 && isExponent3(key.exponent) && (modulus[n - 1]! & 1) === 1) {
    const m = bigIntOf(modulus);
    const x = bigIntOf(data);
    if (x >= m) throw new OdaError('bad_header', 'RSA recovery failed: data not below the modulus');
    const y = (((x * x) % m) * x) % m;
    return new Uint8Array(Buffer.from(y.toString(16).padStart(n * 2, '0'), 'hex'));
  }
  const k = toKeyObject(key);
  try {
    return new Uint8Array(publicDecrypt({ key: k, padding: constants.RSA_NO_PADDING }, data));
  } catch (cause) {
    throw new OdaError('bad_header', 'RSA recovery failed', { cause });
  }
}

/** Raw RSA private operation (block^d mod n) for the signing side (CA, issuer, card). */
export function rsaSign(privateKey: KeyObject, block: Uint8Array): Uint8Array {
  return new Uint8Array(privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block));
}

/** Modulus length in bytes of a Node RSA key. */
export function modulusLength(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw new OdaError('bad_key', 'not an RSA key');
  return Math.ceil(bits / 8);
}
