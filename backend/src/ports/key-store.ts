import type { KeyObject } from 'node:crypto';
import type {
  AcAlgorithm,
  CardKeyCache,
  IssuerKeyCache,
  CardRecordsCache,
  KeyAgreement,
  RsaPublicKey,
} from '@bluetill/protocol';

/**
 * The backend's secret keys, behind one small interface so that an HSM can implement it.
 * Nothing outside an implementation ever holds the symmetric keys.
 *
 * @example
 *   const ref = keys.panHash(pan);            // keyed lookup hash, never the PAN
 *   const blob = keys.encryptPan(pan);        // stored encrypted
 *   const ok = equal(keys.pinVerifier(salt, pin, ref), stored);
 */
export interface KeyStore {
  /**
   * The authorization server's PIN key (opens sealed PIN blocks) and its certificate; `agreement`
   * is ECDH with it (what opening a sealed PIN needs), `native` or Node's `node` crypto.
   */
  readonly pinKey: {
    readonly id: string;
    readonly privateKey: KeyObject;
    readonly certificate: Uint8Array;
    readonly agreement: KeyAgreement & { readonly kind: 'native' | 'node' };
  };
  /**
   * The settlement server's receipt signing key and its certificate; `signer` signs with it
   * (ECDSA P-256 / SHA-256, DER), `native` or Node's `node` crypto.
   */
  readonly receiptKey: {
    readonly id: string;
    readonly privateKey: KeyObject;
    readonly certificate: Uint8Array;
    readonly signer: { readonly kind: 'native' | 'node'; sign(data: Uint8Array): Uint8Array };
  };
  /** HMAC-SHA256 of the PAN under the lookup key, hex. */
  panHash(pan: string): string;
  /** HMAC-SHA256 of a temporary password under its own key (derived from the lookup key), hex: the only form a code is stored in. */
  codeHash(code: string): string;
  encryptPan(pan: string): Uint8Array;
  decryptPan(blob: Uint8Array): string;
  /** PIN verification value: HMAC-SHA256(PIN key-of-keys, salt ‖ PAN hash ‖ PIN). */
  pinVerifier(salt: Uint8Array, pin: string, panHash: string): Uint8Array;
  /** Scheme CA public keys by index (tag 8F), for card authentication. */
  readonly caPublicKeys: ReadonlyMap<number, RsaPublicKey>;
  /** Issuer public keys recovered under those CA keys, kept per certificate (bounded; see IssuerKeyCache). */
  readonly issuerKeys?: IssuerKeyCache;
  /** Cards' records already authenticated, kept across calls (see protocol's CardRecordsCache). */
  readonly cardRecords?: CardRecordsCache;
  /** Cards' ICC master keys derived from acMasterKeys, kept across calls (see protocol's CardKeyCache). */
  readonly cardKeys?: CardKeyCache;
  /** Issuer master keys for application cryptograms (an HSM would verify ARQCs instead of exposing them). */
  readonly acMasterKeys: Readonly<Record<AcAlgorithm, Uint8Array>>;
}
