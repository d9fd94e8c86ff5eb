/**
 * The admin tool and the master key, run as processes: `keys create` writes an encrypted
 * keys.json and prints nothing secret; `keys rotate-master` re-encrypts it; `serve`, `seed`,
 * `card issue` and `terminal …` refuse to run without the master key or with a wrong one
 * (exit 2, a typed code on stderr), and the server does not start.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { MasterKey } from '../adapters/master-key';
import { readKeysFile } from '../adapters/keys-file';
import { emvKeyBitsOf, type KeyMaterial } from '../admin/key-material';

const exec = promisify(execFile);
const cli = resolve(import.meta.dirname, '..', '..', 'bin', 'bluetill-backend.mjs');
const dir = mkdtempSync(join(tmpdir(), 'bluetill-keys-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The environment without any inherited master key, plus `extra`. */
const envWith = (extra: Record<string, string>) => {
  const { BLUETILL_MASTER_KEY: _a, BLUETILL_NEW_MASTER_KEY: _b, ...rest } = process.env;
  return { ...rest, ...extra };
};
const run = (args: string[], extra: Record<string, string> = {}) =>
  exec(process.execPath, [cli, ...args], { env: envWith(extra) });
const refused = (code: string) => ({ code: 2, stderr: expect.stringContaining(code) });

function expectNoSecrets(text: string, material: KeyMaterial, keys: readonly MasterKey[]) {
  expect(text).not.toMatch(/-----BEGIN|PRIVATE KEY/);
  for (const s of [
    material.lookupKey,
    material.dataKey,
    material.pinVerifierKey,
    material.emv.acMasterKeys.aes,
    material.emv.acMasterKeys.tdes,
    material.emv.personalizationMasterKey,
  ])
    expect(text).not.toContain(s);
  for (const k of keys) expect(text).not.toContain(k.toBase64());
}

describe('bluetill-backend keys create / rotate-master', () => {
  it(
    'creates an encrypted keys.json with scheme-grade EMV keys (demo sizes only when asked), never replaces it, and rotates it to a new master key',
    { timeout: 90_000 },
    async () => {
      const a = MasterKey.generate();
      const b = MasterKey.generate();
      const keysDir = join(dir, 'create');
      await expect(run(['keys', 'create', '--dir', keysDir])).rejects.toMatchObject(
        refused('master_key_missing'),
      );
      const created = await run(['keys', 'create', '--dir', keysDir], { BLUETILL_MASTER_KEY: a.toBase64() });
      expect(created.stdout).toContain(`encrypted under master key ${a.id}`);
      expect(created.stdout).toContain(
        'EMV RSA keys: CA 1984 bits, issuer 1984 bits, cards issued under it 1024 bits (scheme-grade sizes)',
      );
      const path = join(keysDir, 'keys.json');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const material = readKeysFile(path, a);
      expect(emvKeyBitsOf(material)).toEqual({ ca: 1984, issuer: 1984, icc: 1024 });
      const demo = await run(['keys', 'create', '--dir', join(dir, 'create-demo'), '--demo-key-sizes'], {
        BLUETILL_MASTER_KEY: a.toBase64(),
      });
      expect(demo.stdout).toContain(
        'CA 1024 bits, issuer 1024 bits, cards issued under it 768 bits (DEMO sizes: not for real cards)',
      );
      expect(emvKeyBitsOf(readKeysFile(join(dir, 'create-demo', 'keys.json'), a))).toEqual({
        ca: 1024,
        issuer: 1024,
        icc: 768,
      });
      expectNoSecrets(readFileSync(path, 'utf8'), material, [a]);
      expectNoSecrets(created.stdout + created.stderr, material, [a]);
      await expect(
        run(['keys', 'create', '--dir', keysDir], { BLUETILL_MASTER_KEY: a.toBase64() }),
      ).rejects.toMatchObject(refused('keys_file_exists'));

      await expect(
        run(['keys', 'rotate-master', '--dir', keysDir], { BLUETILL_MASTER_KEY: a.toBase64() }),
      ).rejects.toMatchObject(refused('BLUETILL_NEW_MASTER_KEY'));
      await expect(
        run(['keys', 'rotate-master', '--dir', keysDir], {
          BLUETILL_MASTER_KEY: b.toBase64(),
          BLUETILL_NEW_MASTER_KEY: a.toBase64(),
        }),
      ).rejects.toMatchObject(refused('master_key_wrong'));
      const rotated = await run(['keys', 'rotate-master', '--dir', keysDir], {
        BLUETILL_MASTER_KEY: a.toBase64(),
        BLUETILL_NEW_MASTER_KEY: b.toBase64(),
      });
      expect(rotated.stdout).toContain(`${a.id} → ${b.id}`);
      expectNoSecrets(rotated.stdout + rotated.stderr, material, [a, b]);
      expect(readKeysFile(path, b)).toEqual(material);
      expect(() => readKeysFile(path, a)).toThrow(expect.objectContaining({ code: 'master_key_wrong' }));
    },
  );

  it(
    'seed, serve, card issue and terminal commands refuse without the right master key; serve does not start',
    { timeout: 60_000 },
    async () => {
      const right = MasterKey.generate();
      const wrong = MasterKey.generate();
      const seedDir = join(dir, 'seed');
      await expect(run(['seed', '--dir', seedDir])).rejects.toMatchObject(refused('master_key_missing'));
      await expect(
        run(['seed', '--dir', seedDir], { BLUETILL_MASTER_KEY: 'c2hvcnQ=' }),
      ).rejects.toMatchObject(refused('master_key_invalid'));
      const seeded = await run(['seed', '--dir', seedDir], { BLUETILL_MASTER_KEY: right.toBase64() });
      const material = readKeysFile(join(seedDir, 'keys.json'), right);
      expectNoSecrets(seeded.stdout + seeded.stderr, material, [right]);

      for (const [extra, code] of [
        [{}, 'master_key_missing'],
        [{ BLUETILL_MASTER_KEY: wrong.toBase64() }, 'master_key_wrong'],
      ] as const) {
        await expect(run(['serve', '--dir', seedDir, '--port', '0'], extra)).rejects.toMatchObject(
          refused(code),
        );
        await expect(
          run(['terminal', 'issue-cert', '--dir', seedDir, '--id', 'T-0001'], extra),
        ).rejects.toMatchObject(refused(code));
        await expect(
          run(['terminal', 'revoke', '--dir', seedDir, '--id', 'T-0001'], extra),
        ).rejects.toMatchObject(refused(code));
        await expect(
          run(
            [
              'card',
              'issue',
              '--dir',
              seedDir,
              '--id',
              'card-x',
              '--pan',
              '6799990100000000084',
              '--expiry',
              '2912',
              '--name',
              'XAVIER X',
              '--out',
              join(seedDir, 'x.json'),
            ],
            { ...extra, BLUETILL_CARD_PIN: '1234' },
          ),
        ).rejects.toMatchObject(refused(code));
      }
      const issued = await run(
        [
          'card',
          'issue',
          '--dir',
          seedDir,
          '--id',
          'card-x',
          '--pan',
          '6799990100000000084',
          '--expiry',
          '2912',
          '--name',
          'XAVIER X',
          '--out',
          join(seedDir, 'x.json'),
        ],
        { BLUETILL_MASTER_KEY: right.toBase64(), BLUETILL_CARD_PIN: '1234' },
      );
      expect(issued.stdout).toContain('issued card card-x');
    },
  );
});
