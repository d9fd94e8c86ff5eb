/**
 * The admin tool's terminal commands, run as a process: `seed` lays out tls/, `terminal
 * issue-cert` refuses to overwrite a terminal's key and with `--replace` revokes the old
 * certificate and writes a new one, `terminal revoke` revokes, and `serve` refuses the revoked
 * certificates while it serves the others.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Metadata, credentials, status } from '@grpc/grpc-js';
import { AuthorizationClient } from '@bluetill/protocol';
import { tlsPaths } from '../adapters/tls-files';
import { MasterKey } from '../adapters/master-key';

const exec = promisify(execFile);
/** Every command gets the master key that keys.json is sealed under (seed creates it under this one). */
const env = { ...process.env, BLUETILL_MASTER_KEY: MasterKey.generate().toBase64() };
/** A command that hangs is killed after 30 s and fails with what it printed (exec's error carries stdout and stderr). */
const run = (file: string, args: string[]) => exec(file, args, { env, timeout: 30_000 });
const cli = resolve(import.meta.dirname, '..', '..', 'bin', 'bluetill-backend.mjs');
const dir = mkdtempSync(join(tmpdir(), 'bluetill-terminal-cli-'));
let server: ChildProcess | undefined;
afterAll(() => {
  server?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

function challenge(address: string, id: string, pair?: { key: Buffer; cert: Buffer }) {
  const p = tlsPaths(join(dir, 'tls'));
  const t = p.terminal(id);
  const { key, cert } = pair ?? { key: readFileSync(t.key), cert: readFileSync(t.cert) };
  const client = new AuthorizationClient(address, credentials.createSsl(readFileSync(p.ca), key, cert));
  // A deadline as the till's own calls have: a call that gets no answer fails here, saying so, instead of the whole test timing out.
  return new Promise<void>((res, rej) =>
    client.challenge(
      { terminalId: id },
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (e) => (client.close(), e ? rej(e) : res()),
    ),
  );
}

describe('bluetill-backend terminal issue-cert / revoke', () => {
  // Six processes of the admin tool, each loading the TypeScript sources: ~5 s alone, more while the rest of the suite runs.
  it(
    'refuses to overwrite a live key; --replace revokes the old certificate and issues a new one (a new serial); serves it, and refuses it once revoked by serial',
    { timeout: 90_000 },
    async () => {
      await run(process.execPath, [cli, 'seed', '--dir', dir, '--server-name', 'till-gw.example']);
      const p = tlsPaths(join(dir, 'tls'));
      expect(new X509Certificate(readFileSync(p.server)).checkHost('till-gw.example')).toBe(
        'till-gw.example',
      );
      const oldSerial = new X509Certificate(readFileSync(p.terminal('T-0001').cert)).serialNumber;
      const old = {
        key: readFileSync(p.terminal('T-0001').key),
        cert: readFileSync(p.terminal('T-0001').cert),
      };
      // The terminal has a key and a live certificate: a second issue-cert does not destroy them silently.
      await expect(
        run(process.execPath, [cli, 'terminal', 'issue-cert', '--dir', dir, '--id', 'T-0001']),
      ).rejects.toMatchObject({ stderr: expect.stringContaining('--replace') });
      expect(readFileSync(p.terminal('T-0001').key).equals(old.key)).toBe(true);
      expect(readFileSync(p.terminal('T-0001').cert).equals(old.cert)).toBe(true);
      const issued = await run(process.execPath, [
        cli,
        'terminal',
        'issue-cert',
        '--dir',
        dir,
        '--id',
        'T-0001',
        '--replace',
      ]);
      expect(issued.stdout).toContain('terminal T-0001: 1 earlier certificate(s) revoked');
      expect(issued.stdout).toContain('terminal T-0001: certificate serial');
      expect(statSync(p.terminal('T-0001').key).mode & 0o077).toBe(0);
      expect(new X509Certificate(readFileSync(p.terminal('T-0001').cert)).serialNumber).not.toBe(oldSerial);
      await expect(
        run(process.execPath, [cli, 'terminal', 'issue-cert', '--dir', dir, '--id', 'T-9999']),
      ).rejects.toMatchObject({ stderr: expect.stringContaining('no terminal T-9999') });

      server = spawn(process.execPath, [cli, 'serve', '--dir', dir, '--port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      });
      const address = await new Promise<string>((res, rej) => {
        let out = '';
        let err = '';
        const late = setTimeout(
          () => rej(new Error(`serve did not say it listens within 30 s; stdout: ${out} stderr: ${err}`)),
          30_000,
        );
        server!.stderr!.on('data', (d: Buffer) => void (err += d.toString()));
        server!.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (\S+) \(mutual TLS\)/.exec(out);
          if (m) {
            clearTimeout(late);
            res(m[1]!);
          }
        });
        server!.once('exit', (code) => (clearTimeout(late), rej(new Error(`serve exited ${code}: ${err}`))));
      });
      await challenge(address, 'T-0001'); // the new certificate
      await expect(challenge(address, 'T-0001', old)).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
        details: expect.stringContaining('revoked'),
      }); // the replaced one
      const revoked = await run(process.execPath, [
        cli,
        'terminal',
        'revoke',
        '--dir',
        dir,
        '--id',
        'T-0001',
        '--serial',
        new X509Certificate(readFileSync(p.terminal('T-0001').cert)).serialNumber,
      ]);
      expect(revoked.stdout).toContain('1 certificate(s) revoked');
      await expect(challenge(address, 'T-0001')).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
        details: expect.stringContaining('revoked'),
      });
      await expect(
        run(process.execPath, [cli, 'terminal', 'revoke', '--dir', dir, '--id', 'T-0001', '--serial', 'ff']),
      ).rejects.toMatchObject({ stderr: expect.stringContaining('no unrevoked certificate') });
    },
  );
});
