/**
 * The backend's native key operations (backend/native), over the OpenSSL inside Node:
 * - the PIN key (pin_key.c): `agree`, P-256 ECDH with one scalar multiplication, where Node's own
 *   ECDH does two (the C file says why); `openPinField`, a sealed PIN opened in one call — the
 *   agreement, HKDF-SHA256, AES-256-GCM and the format-4 decipherment (protocol
 *   `pin/pin-seal.ts`'s steps) — with the algorithms fetched once per process, where Node's
 *   hkdfSync and createDecipheriv look them up on every call;
 * - the receipt key (signing_key.c): `sign`, ECDSA P-256 / SHA-256 in DER from a context set up
 *   once per key, where Node's sign sets one up on every call.
 * Built by `make setup` (node-gyp); where it is not built, the key store falls back to Node's
 * crypto (`keyAgreementOf`, `signWith`): same answers, ~0.1 ms more per Authorize and Settle.
 *
 * @example
 *   const agreement = nativeKeyAgreement(pinPrivateKey) ?? keyAgreementOf(pinPrivateKey);
 *   const secret = agreement.agree(ephemeralPoint); // 32 bytes, or throws for a point off P-256
 *   const pin = openSealedPin(sealed, { pinPrivateKey: agreement, pan, context }); // uses openPinField
 *   const signature = (nativeSigner(receiptPrivateKey) ?? nodeSigner(receiptPrivateKey)).sign(bytes);
 */
import { createRequire } from 'node:module';
import type { KeyObject } from 'node:crypto';
import { p256PrivateScalar, signWith, type KeyAgreement } from '@bluetill/protocol';

export interface NativeKeysBinding {
  createKey(d: Uint8Array): unknown;
  agree(key: unknown, point: Uint8Array): Buffer;
  openPinField(
    key: unknown,
    point: Uint8Array,
    ciphertext: Uint8Array,
    context: Uint8Array,
    info: Uint8Array,
    panField: Uint8Array,
  ): Buffer;
  createSigningKey(pkcs8Der: Uint8Array): unknown;
  sign(key: unknown, data: Uint8Array): Buffer;
}

/** Where `make setup` builds the binding, from this file. */
const NATIVE_KEYS_PATH = '../../native/build/Release/native_keys.node';

let loaded: { readonly binding: NativeKeysBinding } | { readonly error: Error } | undefined;

/** The binding, or the reason it is not there (not built, built for another Node). */
export function nativeKeys(): { readonly binding: NativeKeysBinding } | { readonly error: Error } {
  if (!loaded) {
    try {
      loaded = { binding: createRequire(import.meta.url)(NATIVE_KEYS_PATH) as NativeKeysBinding };
    } catch (error) {
      loaded = { error: error as Error };
    }
  }
  return loaded;
}

/** A native key agreement with `privateKey` (P-256) that also opens sealed PINs whole, or null when the binding is not built. */
export function nativeKeyAgreement(
  privateKey: KeyObject,
): (KeyAgreement & { readonly kind: 'native' }) | null {
  const native = nativeKeys();
  if (!('binding' in native)) return null;
  const { binding } = native;
  const key = binding.createKey(p256PrivateScalar(privateKey));
  return {
    kind: 'native',
    // The binding's Buffers are Uint8Arrays of their own (not views into a pool): given as they are.
    agree: (point) => binding.agree(key, point),
    openPinField: (s) =>
      binding.openPinField(key, s.ephemeralPublicKey, s.ciphertext, s.context, s.info, s.panField),
  };
}

/** Signs with a private key: ECDSA with SHA-256 (P-256 keys), DER, as protocol's signWith. */
export interface Signer {
  readonly kind: 'native' | 'node';
  sign(data: Uint8Array): Uint8Array;
}

/** A native signer with `privateKey` (P-256), or null when the binding is not built. */
export function nativeSigner(privateKey: KeyObject): (Signer & { readonly kind: 'native' }) | null {
  const native = nativeKeys();
  if (!('binding' in native)) return null;
  const { binding } = native;
  const key = binding.createSigningKey(privateKey.export({ format: 'der', type: 'pkcs8' }));
  return { kind: 'native', sign: (data) => binding.sign(key, data) };
}

/** Node's signer with `privateKey` (protocol's signWith). */
export const nodeSigner = (privateKey: KeyObject): Signer & { readonly kind: 'node' } => ({
  kind: 'node',
  sign: (data) => signWith(privateKey, data),
});
