/**
 * Writing the mutual-TLS material to the tls/ folder (layout in adapters/tls-files.ts) and
 * recording terminal certificates in the registry. Private keys are written with mode 0600.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { TlsMaterialError, tlsPaths } from '../adapters/tls-files';
import type { RegistryAdmin } from '../ports/registry-admin';
import {
  createBackendCa,
  issueServerCertificate,
  issueTerminalCertificate,
  type IssuedTerminalCertificate,
  type PemPair,
} from './tls-material';

/** Writes a private key readable by its owner only (also when the file existed before). */
function writeSecret(path: string, data: string): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Creates the backend CA and the server certificate in `dir` (overwriting what is there). */
export async function createTlsAuthority(
  dir: string,
  o: { serverNames?: readonly string[] } = {},
): Promise<PemPair> {
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
    throw new TlsMaterialError('tls_material_missing', `${dir}: no backend CA (ca.pem, ca-key.pem)`, {
      cause: e,
    });
  }
}

/**
 * Issues a client certificate for a registered terminal, records it, writes terminal-<id>.pem and
 * -key.pem. A terminal whose files are already there is refused (TlsMaterialError
 * 'tls_material_exists'): overwriting its key would leave the old certificate valid in the
 * registry with its key gone from view. `replace` revokes every certificate the terminal has,
 * records the new one (one transaction), then puts the new files in place; the old ones are
 * replaced by rename, so a failure leaves either the old pair or the new one, never a mix.
 * Returns the new certificate and how many were revoked.
 */
export async function issueTerminalTls(
  dir: string,
  admin: RegistryAdmin,
  ca: PemPair,
  t: { terminalId: string; merchantId: string },
  o: { replace?: boolean } = {},
): Promise<IssuedTerminalCertificate & { readonly revoked: number }> {
  const files = tlsPaths(dir).terminal(t.terminalId);
  if (!o.replace && (existsSync(files.key) || existsSync(files.cert)))
    throw new TlsMaterialError(
      'tls_material_exists',
      `${files.key} exists: terminal ${t.terminalId} has a key and certificate; --replace revokes its certificates and writes new ones`,
    );
  const issued = await issueTerminalCertificate(ca, t);
  const staged = { cert: `${files.cert}.new`, key: `${files.key}.new` };
  writeFileSync(staged.cert, issued.cert);
  writeSecret(staged.key, issued.key);
  let revoked: number;
  try {
    ({ revoked } = await admin.recordTerminalCertificate(
      {
        fingerprint: issued.fingerprint,
        terminalId: issued.terminalId,
        serial: issued.serial,
        notAfter: issued.notAfter,
        issuedAt: Date.now(),
      },
      { replace: o.replace ?? false },
    ));
  } catch (e) {
    rmSync(staged.cert, { force: true });
    rmSync(staged.key, { force: true });
    throw e;
  }
  renameSync(staged.key, files.key);
  renameSync(staged.cert, files.cert);
  return { ...issued, revoked };
}
