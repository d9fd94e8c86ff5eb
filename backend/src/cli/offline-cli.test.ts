/**
 * The operator's offline mode commands, run as processes on a seeded folder: offline limits per
 * merchant and per terminal (the terminal's over the merchant's, `default` clears), shown in text
 * and JSON; bad input refused in one line with exit 2 and nothing written; the offline report
 * (its figures over forwarded sales are proved in tests/till/offline-parameters.test.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey } from '../adapters/master-key';
import { DEFAULT_OFFLINE_LIMIT_VALUES } from '../domain/offline-limits';

const cli = resolve(import.meta.dirname, '..', '..', 'bin', 'bluetill-backend.mjs');
const root = mkdtempSync(join(tmpdir(), 'bluetill-offline-cli-'));
const dir = join(root, 'company');
const env = { ...process.env, BLUETILL_MASTER_KEY: MasterKey.generate().toBase64() };

function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { env, timeout: 30_000 }, (error, out, err) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err });
    });
  });
}
const json = async (...args: string[]) => {
  const r = await run(...args, '--dir', dir, '--json');
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as Record<string, unknown>;
};

beforeAll(async () => {
  const seeded = await run('seed', '--dir', dir);
  expect(seeded.code, seeded.err).toBe(0);
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('bluetill-backend offline commands', () => {
  it("sets a merchant's limits and a terminal's over them; `default` clears; shown in text and JSON", async () => {
    expect((await json('terminal', 'offline-limits', '--id', 'T-0001')).effective).toEqual(
      DEFAULT_OFFLINE_LIMIT_VALUES,
    );
    const m = await json(
      'merchant',
      'offline-limits',
      '--id',
      'M-0001',
      '--floor-limit',
      '25.00',
      '--exposure',
      '300',
    );
    expect(m).toMatchObject({
      merchantId: 'M-0001',
      currency: 'EUR',
      merchant: { floorLimitMinor: 2500, exposureMinor: 30000 },
    });
    const t = await json(
      'terminal',
      'offline-limits',
      '--id',
      'T-0001',
      '--floor-limit',
      '10.50',
      '--card-daily-count',
      '1',
    );
    expect(t.effective).toEqual({
      floorLimitMinor: 1050,
      exposureMinor: 30000,
      cardDailyCount: 1,
      cardDailyAmountMinor: DEFAULT_OFFLINE_LIMIT_VALUES.cardDailyAmountMinor,
    });
    const text = await run('terminal', 'offline-limits', '--id', 'T-0001', '--dir', dir);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/floor limit\s+€10\.50\s+\(terminal\)/);
    expect(text.out).toMatch(/offline exposure\s+€300\.00\s+\(merchant\)/);
    expect(text.out).toMatch(/per-card daily amount\s+€100\.00\s+\(default\)/);
    const cleared = await json('terminal', 'offline-limits', '--id', 'T-0001', '--floor-limit', 'default');
    expect(cleared.effective).toMatchObject({ floorLimitMinor: 2500, cardDailyCount: 1 });
  }, 60_000);

  const refusals: Array<[string[], RegExp]> = [
    [
      ['terminal', 'offline-limits', '--id', 'T-0001', '--floor-limit', '10.5'],
      /--floor-limit must be an amount in EUR/,
    ],
    [['terminal', 'offline-limits', '--id', 'T-0001', '--exposure', '-1'], /--exposure must be an amount/],
    [
      ['terminal', 'offline-limits', '--id', 'T-0001', '--card-daily-count', 'two'],
      /--card-daily-count must be a whole number/,
    ],
    [
      ['terminal', 'offline-limits', '--id', 'T-9999', '--floor-limit', '1.00'],
      /not_found: no terminal T-9999/,
    ],
    [
      ['merchant', 'offline-limits', '--id', 'M-0001', '--exposure', '2000000000.00'],
      /invalid: the offline exposure must be/,
    ],
    [['offline', 'report', '--from', '2026-02-30'], /--from must be a date/],
    [['offline', 'report', '--from', '2026-12-07', '--to', '2026-12-06'], /--to must not be before --from/],
  ];
  it('refuses bad input in one line, exit 2, nothing written', async () => {
    const before = await json('terminal', 'offline-limits', '--id', 'T-0001');
    const merchant = await json('merchant', 'offline-limits', '--id', 'M-0001');
    for (const [args, message] of refusals) {
      const r = await run(...args, '--dir', dir);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(message);
    }
    expect(await json('terminal', 'offline-limits', '--id', 'T-0001')).toEqual(before);
    expect(await json('merchant', 'offline-limits', '--id', 'M-0001')).toEqual(merchant);
  }, 180_000);

  it('reports an empty day as none, in text and JSON', async () => {
    const text = await run('offline', 'report', '--dir', dir, '--from', '2026-12-01');
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/offline sales forwarded 2026-12-01 to 2026-12-01 \(UTC\)\n {2}none/);
    const r = await json('offline', 'report', '--from', '2026-12-01', '--to', '2026-12-02');
    expect(r).toEqual({
      fromMs: Date.parse('2026-12-01'),
      toMs: Date.parse('2026-12-03'),
      totals: [],
      losses: [],
    });
  }, 60_000);
});
