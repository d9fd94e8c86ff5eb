/**
 * Where the mutual-TLS material lives, and reading it. One folder (`<data dir>/tls/`):
 *
 *   ca.pem                       backend CA certificate (self-signed, ECDSA P-256): both sides trust it
 *   ca-key.pem                   its private key: the admin tool only (0600)
 *   server.pem, server-key.pem   the backend's server certificate and key (0600)
 *   terminal-<id>.pem            a terminal's client certificate (CN=<id>, SAN urn:bluetill:terminal:<id>)
 *   terminal-<id>-key.pem        its private key (0600): the till only
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export class TlsMaterialError extends Error {
  constructor(
    readonly code: 'tls_material_missing' | 'tls_material_exists' | 'tls_certificate_invalid',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TlsMaterialError';
  }
}

export interface TlsPaths {
  readonly dir: string;
  readonly ca: string;
  readonly caKey: string;
  readonly server: string;
  readonly serverKey: string;
  terminal(terminalId: string): { readonly cert: string; readonly key: string };
}

export function tlsPaths(dir: string): TlsPaths {
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    server: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
    terminal: (id) => ({ cert: join(dir, `terminal-${id}.pem`), key: join(dir, `terminal-${id}-key.pem`) }),
  };
}

/** PEM bytes for one side of a mutual-TLS connection: the CA to trust, and our own certificate and key. */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

function read(path: string): Buffer {
  if (!existsSync(path))
    throw new TlsMaterialError(
      'tls_material_missing',
      `${path} missing (run "bluetill-backend seed" or "terminal issue-cert")`,
    );
  return readFileSync(path);
}

export function readServerTls(dir: string): TlsMaterial {
  const p = tlsPaths(dir);
  return { ca: read(p.ca), cert: read(p.server), key: read(p.serverKey) };
}

export function readTerminalTls(dir: string, terminalId: string): TlsMaterial {
  const p = tlsPaths(dir);
  const t = p.terminal(terminalId);
  return { ca: read(p.ca), cert: read(t.cert), key: read(t.key) };
}
