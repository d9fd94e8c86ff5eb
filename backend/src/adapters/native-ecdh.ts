/**
 * The backend's native P-256 key agreement (backend/native/p256_ecdh.c): ECDH with one scalar
 * multiplication, where Node's own ECDH does two (issue 5; the C file says why). Built by
 * `make setup` (node-gyp, against the OpenSSL inside Node); where it is not built, the key store
 * falls back to Node's crypto (`keyAgreementOf`): same answers, ~50 µs more per sealed PIN.
 *
 * @example
 *   const agreement = nativeKeyAgreement(pinPrivateKey) ?? keyAgreementOf(pinPrivateKey);
 *   const secret = agreement.agree(ephemeralPoint); // 32 bytes, or throws for a point off P-256
 */
import { createRequire } from 'node:module';
import type { KeyObject } from 'node:crypto';
import { p256PrivateScalar, type KeyAgreement } from '@bluetill/protocol';

interface P256Binding {
  createKey(d: Uint8Array): unknown;
  agree(key: unknown, point: Uint8Array): Buffer;
}

/** Where `make setup` builds the binding, from this file. */
const NATIVE_ECDH_PATH = '../../native/build/Release/p256_ecdh.node';

let loaded: { readonly binding: P256Binding } | { readonly error: Error } | undefined;

/** The binding, or the reason it is not there (not built, built for another Node). */
export function nativeEcdh(): { readonly binding: P256Binding } | { readonly error: Error } {
  if (!loaded) {
    try {
      loaded = { binding: createRequire(import.meta.url)(NATIVE_ECDH_PATH) as P256Binding };
    } catch (error) {
      loaded = { error: error as Error };
    }
  }
  return loaded;
}

/** A native key agreement with `privateKey` (P-256), or null when the binding is not built. */
export function nativeKeyAgreement(privateKey: KeyObject): (KeyAgreement & { readonly kind: 'native' }) | null {
  const native = nativeEcdh();
  if (!('binding' in native)) return null;
  const { binding } = native;
  const key = binding.createKey(p256PrivateScalar(privateKey));
  return { kind: 'native', agree: (point) => new Uint8Array(binding.agree(key, point)) };
}
