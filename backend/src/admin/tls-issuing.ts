/**
 * Writing the mutual-TLS material to the tls/ folder (layout in adapters/tls-files.ts) and
 * recording terminal certificates in the registry. Private keys are written with mode 0600.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Db } from '../adapters/sqlite/open-database';
import { TlsMaterialError, tlsPaths } from '../adapters/tls-files';
import { recordTerminalCertificate } from './registry';
import { createBackendCa, issueServerCertificate, issueTerminalCertificate, type IssuedTerminalCertificate, type PemPair } from './tls-material';

/** Writes a private key readable by its owner only (also when the file existed before). */
function writeSecret(path: string, data: string): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Creates the backend CA and the server certificate in `dir` (overwriting what is there). */
export async function createTlsAuthority(dir: string, o: { serverNames?: readonly string[] } = {}): Promise<PemPair> {
  mkdirSync(dir, { recursive: true });
  const p = tlsPaths(dir);
  const ca = await createBackendCa();
  writeFileSync(p.ca, ca.cert);
  writeSecret(p.caKey, ca.key);
  const server = await issueServerCertificate(ca, { names: o.serverNames ?? [] });
  writeFileSync(p.server, server.cert);
  writeSecret(p.serverKey, server.key);
  return ca;
}

export function readTlsAuthority(dir: string): PemPair {
  const p = tlsPaths(dir);
  try {
    return { cert: readFileSync(p.ca, 'utf8'), key: readFileSync(p.caKey, 'utf8') };
  } catch (e) {
    throw new TlsMaterialError('tls_material_missing', `${dir}: no backend CA (ca.pem, ca-key.pem)`, { cause: e });
  }
}

/** Issues a client certificate for a registered terminal, records it, writes terminal-<id>.pem and -key.pem. */
export async function issueTerminalTls(dir: string, db: Db, ca: PemPair, t: { terminalId: string; merchantId: string }): Promise<IssuedTerminalCertificate> {
  const issued = await issueTerminalCertificate(ca, t);
  recordTerminalCertificate(db, issued);
  const files = tlsPaths(dir).terminal(t.terminalId);
  writeFileSync(files.cert, issued.cert);
  writeSecret(files.key, issued.key);
  return issued;
}
