/**
 * The TLS and HTTP/2 settings both listeners serve with. grpc-js's `ServerCredentials.createSsl`
 * offers whatever OpenSSL's defaults allow (with TLS 1.2, CBC suites too, which HTTP/2 forbids:
 * RFC 9113 §9.2.2) and announces no header-list limit; these credentials pass Node's
 * `http2.createSecureServer` options of our own:
 *
 * - TLS 1.3, or TLS 1.2 with ECDHE and an AEAD cipher only (RFC 9113 §9.2.2, appendix A);
 * - SETTINGS_MAX_HEADER_LIST_SIZE announced, so a peer sending more metadata than that has its
 *   stream reset at once instead of the call hanging until the peer's deadline.
 */
import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureServerOptions } from 'node:http2';
import type { SecureContextOptions } from 'node:tls';

/** The TLS 1.2 suites offered: ECDHE key agreement with an AEAD cipher (the certificate is ECDSA P-256). */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

/** Largest header list (request metadata, HPACK-decoded) a call may carry: announced in SETTINGS, enforced per stream. */
export const MAX_HEADER_LIST_BYTES = 16 * 1024;

/** The options every listener's HTTP/2 server gets, TLS or not. */
export const http2Settings = { maxHeaderListSize: MAX_HEADER_LIST_BYTES } as const;

class HardenedServerCredentials extends ServerCredentials {
  constructor(
    constructorOptions: SecureServerOptions,
    private readonly context: SecureContextOptions,
  ) {
    super(constructorOptions, context);
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }

  /** What OpenSSL is told (for tests and the startup log). */
  get contextOptions(): SecureContextOptions {
    return this.context;
  }
}

/**
 * TLS server credentials: `ca` non-null requires and checks a client certificate chaining to it
 * (the tills' listener); null serves server-authenticated TLS only (the shoppers').
 */
export function hardenedServerCredentials(ca: Buffer | null, cert: Buffer, key: Buffer): ServerCredentials {
  return new HardenedServerCredentials(
    {
      requestCert: ca !== null,
      rejectUnauthorized: ca !== null,
      minVersion: 'TLSv1.2',
      ciphers: TLS12_CIPHERS.join(':'),
      honorCipherOrder: true,
      settings: { ...http2Settings },
    },
    { ...(ca ? { ca } : {}), cert, key, minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS.join(':') },
  );
}
