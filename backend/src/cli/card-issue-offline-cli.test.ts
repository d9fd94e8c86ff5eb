/**
 * `bluetill-backend card issue` writes the card's offline limits (9F14, 9F23, 9F42, DF0C) into the
 * personalization file: defaults, given values, and clear refusals (exit 2, no file written).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePersonalizationData } from '@bluetill/protocol';
import { MasterKey } from '../adapters/master-key';

const cli = resolve(import.meta.dirname, '..', '..', 'bin', 'bluetill-backend.mjs');
const dir = mkdtempSync(join(tmpdir(), 'bluetill-card-offline-'));
const master = MasterKey.generate();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, BLUETILL_MASTER_KEY: master.toBase64(), BLUETILL_CARD_PIN: '4455' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, out }));
  });
}
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
  'OLGA OFFLINE',
  '--out',
  join(dir, `${id}.json`),
  ...extra,
];
const limitsIn = (id: string) =>
  decodePersonalizationData(
    Buffer.from(
      (JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as { personalization: string })
        .personalization,
      'base64',
    ),
  ).offlineLimits;

beforeAll(async () => {
  const seeded = await run(['seed', '--dir', dir]);
  expect(seeded.code, seeded.out).toBe(0);
}, 60_000);

describe('bluetill-backend card issue --offline-lower/--offline-upper/--offline-amount', () => {
  it(
    'defaults and given values go into the personalization file, and are printed',
    { timeout: 60_000 },
    async () => {
      const plain = await run(issue('card-ola', '6799990100000000092', []));
      expect(plain.code, plain.out).toBe(0);
      expect(limitsIn('card-ola')).toEqual({
        lowerConsecutive: 5,
        upperConsecutive: 10,
        amountMinor: 10_000,
        currency: 978,
      });
      expect(plain.out).toMatch(/offline limits: .*5.*10.*100\.00/);
      const given = await run(
        issue('card-oli', '6799990100000000100', [
          '--currency',
          'GBP',
          '--offline-lower',
          '2',
          '--offline-upper',
          '4',
          '--offline-amount',
          '42.50',
        ]),
      );
      expect(given.code, given.out).toBe(0);
      expect(limitsIn('card-oli')).toEqual({
        lowerConsecutive: 2,
        upperConsecutive: 4,
        amountMinor: 4_250,
        currency: 826,
      });
    },
  );

  it(
    'refuses an upper below the lower, a bad amount, and limits on a merchant card (exit 2), writing no file',
    { timeout: 60_000 },
    async () => {
      const inverted = await run(
        issue('card-oxx', '6799990100000000118', ['--offline-lower', '4', '--offline-upper', '3']),
      );
      expect(inverted.code).toBe(2);
      expect(inverted.out).toContain('--offline-upper');
      const badAmount = await run(issue('card-oxx', '6799990100000000118', ['--offline-amount', 'lots']));
      expect(badAmount.code).toBe(2);
      expect(badAmount.out).toContain('--offline-amount must be an amount in EUR');
      const merchant = await run(
        issue('card-oxx', '6799990100000000118', ['--merchant', 'M-0001', '--offline-lower', '1']),
      );
      expect(merchant.code).toBe(2);
      expect(merchant.out).toContain('a merchant card takes no offline limits');
      expect(() => readFileSync(join(dir, 'card-oxx.json'))).toThrow();
    },
  );
});
