/**
 * P-256 keys as raw SEC1 points on the wire (65 bytes, uncompressed), KeyObjects in memory.
 */
import { LRUCache } from 'lru-cache';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ProtocolError } from '../errors';
import { concatBytes } from '../bytes';

// SubjectPublicKeyInfo prefix for id-ecPublicKey / prime256v1 with a 65-byte uncompressed point (RFC 5480).
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

export class KeyError extends ProtocolError<'bad_public_key' | 'bad_private_key'> {}

/**
 * Parsed public keys by point. OpenSSL 3 decodes an SPKI slowly (its decoder framework: about
 * as long as an ECDSA verification), and the same keys come again and again — roots, the till's
 * key for every phone at the counter, the backend's receipt key. A KeyObject is immutable, so a
 * cached one is the same key; points that are not on the curve are never cached. Bounded: the
 * least recently used entry goes first (a stream of one-time keys does not push out the roots).
 */
const parsedKeys = new LRUCache<string, KeyObject>({ max: 1024 });

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 65 || raw[0] !== 0x04)
    throw new KeyError('bad_public_key', 'expected a 65-byte uncompressed P-256 point');
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  const known = parsedKeys.get(id);
  if (known) return known;
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: Buffer.from(concatBytes(P256_SPKI_PREFIX, raw)),
      format: 'der',
      type: 'spki',
    });
  } catch (cause) {
    throw new KeyError('bad_public_key', 'not a point on P-256', { cause });
  }
  parsedKeys.set(id, key);
  return key;
}

export function rawFromPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 65));
}

export interface P256KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SEC1 uncompressed point. */
  readonly publicRaw: Uint8Array;
}

export function generateP256(): P256KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKey, publicRaw: rawFromPublicKey(publicKey) };
}

export function privateKeyFromPem(pem: string): P256KeyPair {
  try {
    const privateKey = createPrivateKey(pem);
    const publicKey = createPublicKey(privateKey);
    return { privateKey, publicKey, publicRaw: rawFromPublicKey(publicKey) };
  } catch (cause) {
    throw new KeyError('bad_private_key', 'not a PEM private key', { cause });
  }
}

export const privateKeyToPem = (key: KeyObject): string =>
  key.export({ format: 'pem', type: 'pkcs8' }).toString();
