/**
 * `bluetill-backend card issue` with cardholder-verification data for the card (claims 16, 17):
 * `--biometric-template-file` (64 bytes) and `--knowledge-secret-fd` (never an argument). The
 * personalization file carries them (DF08, DF09) for the card writer; the backend's database
 * does not; nothing printed carries them; a bad template or secret is refused (exit 2).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePersonalizationData, demoFingerprint, templateBytes } from '@bluetill/protocol';
import { MasterKey } from '../adapters/master-key';

const cli = resolve(import.meta.dirname, '..', '..', 'bin', 'bluetill-backend.mjs');
const dir = mkdtempSync(join(tmpdir(), 'bluetill-card-cvm-'));
const master = MasterKey.generate();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], fd3?: number): Promise<{ code: number; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, BLUETILL_MASTER_KEY: master.toBase64(), BLUETILL_CARD_PIN: '4455' },
      stdio: ['ignore', 'pipe', 'pipe', ...(fd3 !== undefined ? [fd3] : [])],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, out }));
  });
}

async function withSecret(secret: string, args: string[]) {
  const path = join(dir, 'secret.txt');
  writeFileSync(path, secret, { mode: 0o600 });
  const fd = openSync(path, 'r');
  try {
    return await run(args, fd);
  } finally {
    closeSync(fd);
  }
}

const SECRET = 'seven swans a-swimming';
const issue = (id: string, pan: string, extra: string[]) => [
  'card',
  'issue',
  '--dir',
  dir,
  '--id',
  id,
  '--pan',
  pan,
  '--expiry',
  '2912',
  '--name',
  'ZOE ZHANG',
  '--out',
  join(dir, `${id}.json`),
  ...extra,
];

beforeAll(async () => {
  const seeded = await run(['seed', '--dir', dir]);
  expect(seeded.code, seeded.out).toBe(0);
}, 60_000);

describe('bluetill-backend card issue with a fingerprint template and a knowledge secret', () => {
  it('writes them into the personalization file only, and prints neither', { timeout: 30_000 }, async () => {
    const template = join(dir, 'zoe-finger.bin');
    writeFileSync(template, templateBytes(demoFingerprint('zoe')));
    const r = await withSecret(
      `${SECRET}\n`,
      issue('card-zoe', '6799990100000000076', [
        '--biometric-template-file',
        template,
        '--knowledge-secret-fd',
        '3',
      ]),
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('with fingerprint template and knowledge secret');
    expect(r.out).not.toContain(SECRET);
    const file = JSON.parse(readFileSync(join(dir, 'card-zoe.json'), 'utf8')) as { personalization: string };
    const p = decodePersonalizationData(Buffer.from(file.personalization, 'base64'));
    expect(Array.from(p.biometricTemplate!)).toEqual(Array.from(demoFingerprint('zoe')));
    expect(Buffer.from(p.knowledgeSecret!).toString('utf8')).toBe(SECRET);
    // The backend keeps neither: they are the card's.
    const db = readFileSync(join(dir, 'backend.sqlite')).toString('latin1');
    expect(db).not.toContain(SECRET);
  });

  it(
    'refuses a template that is not 64 bytes and a secret shorter than 4 bytes (exit 2), writing no file',
    { timeout: 30_000 },
    async () => {
      const short = join(dir, 'short.bin');
      writeFileSync(short, new Uint8Array(10).fill(7));
      const bad = await run(issue('card-yan', '6799990100000000084', ['--biometric-template-file', short]));
      expect(bad.code).toBe(2);
      expect(bad.out).toContain('64 components');
      const tiny = await withSecret(
        'abc',
        issue('card-yan', '6799990100000000084', ['--knowledge-secret-fd', '3']),
      );
      expect(tiny.code).toBe(2);
      expect(tiny.out).toContain('4-64 bytes');
      expect(() => readFileSync(join(dir, 'card-yan.json'))).toThrow();
    },
  );
});
