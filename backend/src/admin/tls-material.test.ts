import { afterAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackendCa, issueServerCertificate, issueTerminalCertificate } from './tls-material';
import { seedDemo } from './demo-seed';
import { MasterKey } from '../adapters/master-key';
import { terminalIdOf } from '../adapters/grpc/terminal-caller';
import { tlsPaths } from '../adapters/tls-files';
import { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('TLS material', () => {
  it('makes a self-signed P-256 CA that signs a server certificate for 127.0.0.1, localhost and configured names', async () => {
    const ca = await createBackendCa();
    const caCert = new X509Certificate(ca.cert);
    expect(caCert.ca).toBe(true);
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    const server = new X509Certificate(
      (await issueServerCertificate(ca, { names: ['backend.example', '10.0.0.5'] })).cert,
    );
    expect(server.ca).toBe(false);
    expect(server.checkIssued(caCert) && server.verify(caCert.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('backend.example')).toBe('backend.example');
    expect(server.checkIP('10.0.0.5')).toBe('10.0.0.5');
    expect(server.checkHost('evil.example')).toBeUndefined();
    expect(server.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
  });

  it('names the terminal in a client certificate (CN, OU = merchant, SAN URI) for client authentication only', async () => {
    const ca = await createBackendCa();
    const t = await issueTerminalCertificate(ca, { terminalId: 'T-0042', merchantId: 'M-0007' });
    const cert = new X509Certificate(t.cert);
    expect(cert.subject).toContain('CN=T-0042');
    expect(cert.subject).toContain('OU=M-0007');
    expect(cert.subjectAltName).toBe('URI:urn:bluetill:terminal:T-0042');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(terminalIdOf(cert)).toBe('T-0042');
    expect(t.fingerprint).toBe(cert.fingerprint256);
    await expect(
      issueTerminalCertificate(ca, { terminalId: 'T 1,CN=x', merchantId: 'M-0007' }),
    ).rejects.toThrow(/letters, digits or dashes/);
  });

  it('seedDemo writes the tls/ folder (keys 0600) and records each terminal certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bluetill-tls-'));
    dirs.push(dir);
    const seed = await seedDemo(dir, ['T-0002'], [], { masterKey: MasterKey.generate() });
    const p = tlsPaths(seed.tlsDir);
    for (const key of [p.caKey, p.serverKey, p.terminal('T-0001').key, p.terminal('T-0002').key])
      expect(statSync(key).mode & 0o777).toBe(0o600);
    const store = new SqliteBackendStore(seed.dbPath);
    try {
      for (const id of ['T-0001', 'T-0002']) {
        const fp = new X509Certificate(readFileSync(p.terminal(id).cert)).fingerprint256;
        expect(store.findTerminalCertificate(fp)).toMatchObject({ terminalId: id, revokedAt: null });
      }
    } finally {
      store.close();
    }
  });
});
