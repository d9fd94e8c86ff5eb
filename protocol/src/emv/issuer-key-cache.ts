import {
  checkIssuerKeyUse,
  recoverIssuerCertificate,
  type IssuerCertificateInput,
  type IssuerPublicKeyInfo,
} from './oda';
import type { RsaPublicKey } from './rsa';
import { CountedCache } from './counted-cache';

/**
 * Recovered issuer public keys, per (CA index, CA key, issuer certificate, remainder, exponent),
 * as issuer hosts and terminals keep them: a card company has few issuers and each issuer key
 * certifies many cards, so the recovery (an RSA operation under the CA key, the SHA-1 check, the
 * parse) is done once per certificate, not once per card.
 *
 * - Only what depends on the certificate alone is kept; the checks that depend on the card and
 *   the day (issuer identifier = leftmost PAN digits, certificate not expired) run on every use.
 * - The key is every byte of the certificate, remainder and exponent: a certificate that differs
 *   in one byte is recovered (and checked) on its own. An entry is only used with the very CA key
 *   it was recovered under.
 * - Failed recoveries are not kept (each is recomputed, and fails again).
 * - Bounded: least recently used entries go first.
 *
 * @example
 *   const issuers = new IssuerKeyCache();
 *   const info = issuers.recover({ caIndex: 0x92, caPublicKey, certificate, remainder, exponent, pan, now });
 */
export class IssuerKeyCache extends CountedCache<{
  readonly ca: RsaPublicKey;
  readonly info: IssuerPublicKeyInfo;
}> {
  constructor(maxEntries = 1024) {
    super(maxEntries);
  }

  /** recoverIssuerPublicKey, with the certificate-only part from the cache when it is there; throws OdaError the same way. */
  recover(input: IssuerCertificateInput & { readonly caIndex: number }): IssuerPublicKeyInfo {
    const key = `${input.caIndex}:${hex(input.certificate)}:${hex(input.remainder)}:${hex(input.exponent)}`;
    let entry = this.lookup(key, (e) => e.ca === input.caPublicKey);
    if (!entry) {
      entry = { ca: input.caPublicKey, info: recoverIssuerCertificate(input) };
      this.keep(key, entry);
    }
    checkIssuerKeyUse(entry.info, input.pan, input.now);
    return entry.info;
  }
}

const hex = (b: Uint8Array | undefined): string =>
  b ? Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex') : '';
