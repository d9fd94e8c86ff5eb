import type { RsaPublicKey } from './rsa';

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The scheme's EMV CA keys as the card company's trust file lists them
 * (`emvCaKeys: [{ index, modulus, exponent }]`, modulus and exponent in base64), by index.
 * Throws an Error saying what is wrong with the list; the caller names the file.
 */
export function caKeysFromList(list: unknown): Map<number, RsaPublicKey> {
  if (!Array.isArray(list)) throw new Error('emvCaKeys is not a list');
  const keys = new Map<number, RsaPublicKey>();
  for (const k of list as { index?: unknown; modulus?: unknown; exponent?: unknown }[]) {
    if (
      typeof k?.index !== 'number' ||
      !Number.isInteger(k.index) ||
      k.index < 0 ||
      k.index > 255 ||
      typeof k.modulus !== 'string' ||
      typeof k.exponent !== 'string' ||
      !B64.test(k.modulus) ||
      !B64.test(k.exponent)
    )
      throw new Error('emvCaKeys holds an entry that is not { index 0-255, modulus, exponent } in base64');
    if (keys.has(k.index)) throw new Error(`emvCaKeys lists index ${k.index} twice`);
    keys.set(k.index, {
      modulus: new Uint8Array(Buffer.from(k.modulus, 'base64')),
      exponent: new Uint8Array(Buffer.from(k.exponent, 'base64')),
    });
  }
  return keys;
}
