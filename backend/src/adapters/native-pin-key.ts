/**
 * The backend's native PIN-key binding (backend/native/pin_key.c, issue 5), over the OpenSSL
 * inside Node:
 * - `agree`: P-256 ECDH with one scalar multiplication, where Node's own ECDH does two (the C file
 *   says why);
 * - `openPinField`: a sealed PIN opened in one call — the agreement, HKDF-SHA256, AES-256-GCM and
 *   the format-4 decipherment (protocol `pin/pin-seal.ts`'s steps), with the algorithms fetched
 *   once per process, where Node's hkdfSync and createDecipheriv look them up on every call.
 * Built by `make setup` (node-gyp); where it is not built, the key store falls back to Node's
 * crypto (`keyAgreementOf`): same answers, ~0.1 ms more per sealed PIN.
 *
 * @example
 *   const agreement = nativeKeyAgreement(pinPrivateKey) ?? keyAgreementOf(pinPrivateKey);
 *   const secret = agreement.agree(ephemeralPoint); // 32 bytes, or throws for a point off P-256
 *   const pin = openSealedPin(sealed, { pinPrivateKey: agreement, pan, context }); // uses openPinField
 */
import { createRequire } from 'node:module';
import type { KeyObject } from 'node:crypto';
import { p256PrivateScalar, type KeyAgreement } from '@bluetill/protocol';

export interface PinKeyBinding {
  createKey(d: Uint8Array): unknown;
  agree(key: unknown, point: Uint8Array): Buffer;
  openPinField(key: unknown, point: Uint8Array, ciphertext: Uint8Array, context: Uint8Array, info: Uint8Array, panField: Uint8Array): Buffer;
}

/** Where `make setup` builds the binding, from this file. */
const NATIVE_PIN_KEY_PATH = '../../native/build/Release/pin_key.node';

let loaded: { readonly binding: PinKeyBinding } | { readonly error: Error } | undefined;

/** The binding, or the reason it is not there (not built, built for another Node). */
export function nativePinKey(): { readonly binding: PinKeyBinding } | { readonly error: Error } {
  if (!loaded) {
    try {
      loaded = { binding: createRequire(import.meta.url)(NATIVE_PIN_KEY_PATH) as PinKeyBinding };
    } catch (error) {
      loaded = { error: error as Error };
    }
  }
  return loaded;
}

/** A native key agreement with `privateKey` (P-256) that also opens sealed PINs whole, or null when the binding is not built. */
export function nativeKeyAgreement(privateKey: KeyObject): (KeyAgreement & { readonly kind: 'native' }) | null {
  const native = nativePinKey();
  if (!('binding' in native)) return null;
  const { binding } = native;
  const key = binding.createKey(p256PrivateScalar(privateKey));
  return {
    kind: 'native',
    agree: (point) => new Uint8Array(binding.agree(key, point)),
    openPinField: (s) => new Uint8Array(binding.openPinField(key, s.ephemeralPublicKey, s.ciphertext, s.context, s.info, s.panField)),
  };
}
