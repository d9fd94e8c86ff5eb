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
  return { modulus: new Uint8Array(Buffer.from(jwk.n, 'base64url')), exponent: new Uint8Array(Buffer.from(jwk.e, 'base64url')) };
}

function toKeyObject(key: RsaPublicKey): KeyObject {
  try {
    return createPublicKey({ key: { kty: 'RSA', n: b64url(stripZeros(key.modulus)), e: b64url(stripZeros(key.exponent)) }, format: 'jwk' });
  } catch (cause) {
    throw new OdaError('bad_key', 'RSA public key does not load', { cause });
  }
}

/** Raw RSA public operation (data^e mod n); data must be exactly as long as the modulus. */
export function rsaRecover(key: RsaPublicKey, data: Uint8Array): Uint8Array {
  const n = stripZeros(key.modulus).length;
  if (data.length !== n) throw new OdaError('bad_length', `signed data is ${data.length} bytes, key modulus is ${n}`);
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
