/**
 * The card company's operator at the admin tool, run as processes: nothing it refuses leaves data
 * behind (a second `seed` on a folder, a `card issue` with a bad field), every refusal says why in
 * one line with exit 2, and the registry commands (merchant add, terminal add, card list and show)
 * show card numbers masked only.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey } from '../adapters/master-key';
import { luhnCheckDigit } from '../admin/card-validation';

const cli = resolve(import.meta.dirname, '..', '..', 'bin', 'bluetill-backend.mjs');
const root = mkdtempSync(join(tmpdir(), 'bluetill-operator-'));
const dir = join(root, 'company');
const env = {
  ...process.env,
  BLUETILL_MASTER_KEY: MasterKey.generate().toBase64(),
  BLUETILL_CARD_PIN: '4455',
};

/** One command: its exit code and what it printed (stdout, stderr apart). */
function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [cli, ...args], { env, timeout: 30_000 }, (error, out, err) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err });
    });
  });
}
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const pan = (body: string) => body + luhnCheckDigit(body);
const NEW_PAN = pan('679999030000000001');
const futureExpiry = () => {
  const d = new Date();
  return `${String((d.getUTCFullYear() + 3) % 100).padStart(2, '0')}12`;
};

beforeAll(async () => {
  const seeded = await run('seed', '--dir', dir);
  expect(seeded.code, seeded.err).toBe(0);
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('bluetill-backend: refusals leave nothing behind', () => {
  it('seed on a seeded folder refuses before touching anything: keys and database unchanged', async () => {
    const before = {
      keys: sha(join(dir, 'keys.json')),
      db: sha(join(dir, 'backend.sqlite')),
      trust: sha(join(dir, 'trust.json')),
    };
    const again = await run('seed', '--dir', dir);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already_seeded: .*keys\.json.*never replaces keys or data/);
    expect({
      keys: sha(join(dir, 'keys.json')),
      db: sha(join(dir, 'backend.sqlite')),
      trust: sha(join(dir, 'trust.json')),
    }).toEqual(before);
    const cards = await run('card', 'list', '--dir', dir);
    expect(cards.code, cards.err).toBe(0); // the keys still open: the same card company
    expect(cards.out).toMatch(/card-alice {2}679999\*+0019/);
  }, 60_000);

  const bad: Array<[string, string[], RegExp]> = [
    ['a name with lower case', ['--name', 'alice smith'], /name_format/],
    ['expiry month 13', ['--expiry', '2913'], /expiry_format/],
    ['an expiry in the past', ['--expiry', '2001'], /expiry_past: .*2001/],
    [
      'a wrong check digit',
      ['--pan', `${NEW_PAN.slice(0, -1)}${(Number(NEW_PAN.slice(-1)) + 1) % 10}`],
      /pan_check_digit/,
    ],
    ['a card number outside the issuer range', ['--pan', pan('411111111111111')], /pan_range: .*679999/],
    [
      '--out into a missing folder',
      ['--out', join(root, 'no-such-folder', 'card.json')],
      /folder .* does not exist/,
    ],
    ['an unsupported currency', ['--currency', 'XXX'], /currency must be one of/],
  ];
  it(
    'card issue with a bad field (each of: ' +
      bad.map(([what]) => what).join('; ') +
      '): exit 2 in words, no card registered, no file written',
    async () => {
      const results = await Promise.all(
        bad.map(([, override]) => {
          const args: Record<string, string> = {
            '--id': 'card-new',
            '--pan': NEW_PAN,
            '--expiry': futureExpiry(),
            '--name': 'NEW SHOPPER',
            '--out': join(root, 'card-new.json'),
          };
          for (let i = 0; i < override.length; i += 2) args[override[i]!] = override[i + 1]!;
          return run('card', 'issue', '--dir', dir, ...Object.entries(args).flat());
        }),
      );
      results.forEach((r, i) => {
        expect(r.code, bad[i]![0]).toBe(2);
        expect(r.err, bad[i]![0]).toMatch(bad[i]![2]);
        expect(r.err).not.toMatch(/UNIQUE|SQLITE/);
      });
      const shown = await run('card', 'show', '--dir', dir, '--id', 'card-new');
      expect([shown.code, shown.err]).toEqual([2, expect.stringMatching(/no card card-new/)]);
      expect(readdirSync(root).filter((f) => f.startsWith('card-new'))).toEqual([]);
    },
    90_000,
  );

  it('card issue after the refusals: registered and written together; a second issue of the id or the number is refused in words', async () => {
    const out = join(root, 'card-new.json');
    const ok = await run(
      'card',
      'issue',
      '--dir',
      dir,
      '--id',
      'card-new',
      '--pan',
      NEW_PAN,
      '--expiry',
      futureExpiry(),
      '--name',
      'NEW SHOPPER',
      '--out',
      out,
    );
    expect(ok.code, ok.err).toBe(0);
    expect(existsSync(out)).toBe(true);
    const shown = await run('card', 'show', '--dir', dir, '--id', 'card-new');
    expect(shown.out).toMatch(/number {6}679999\*+\d{4}/);
    expect(shown.out).not.toContain(NEW_PAN);
    for (const [id, number] of [
      ['card-new', pan('679999030000000002')],
      ['card-other', NEW_PAN],
    ] as const) {
      const again = await run(
        'card',
        'issue',
        '--dir',
        dir,
        '--id',
        id,
        '--pan',
        number,
        '--expiry',
        futureExpiry(),
        '--name',
        'NEW SHOPPER',
        '--out',
        join(root, `${id}-2.json`),
      );
      expect(again.code).toBe(2);
      expect(again.err).toMatch(/registered already/);
      expect(again.err).not.toMatch(/UNIQUE/);
      expect(existsSync(join(root, `${id}-2.json`))).toBe(false);
    }
  }, 60_000);
});

describe('bluetill-backend: the operator registry commands', () => {
  it('merchant add, terminal add, issue-cert: a new shop and till from the command line', async () => {
    expect(
      (await run('merchant', 'add', '--dir', dir, '--id', 'M-0100', '--name', 'Bakery', '--currency', 'EUR'))
        .code,
    ).toBe(0);
    const dup = await run('merchant', 'add', '--dir', dir, '--id', 'M-0100', '--name', 'Bakery');
    expect([dup.code, dup.err]).toEqual([2, expect.stringMatching(/merchant M-0100 already exists/)]);
    const orphan = await run('terminal', 'add', '--dir', dir, '--id', 'T-0100', '--merchant', 'M-9999');
    expect([orphan.code, orphan.err]).toEqual([2, expect.stringMatching(/no merchant M-9999/)]);
    const till = await run('terminal', 'add', '--dir', dir, '--id', 'T-0100', '--merchant', 'M-0100');
    expect(till.code, till.err).toBe(0);
    expect(till.out).toMatch(/next: terminal issue-cert --id T-0100/);
    const cert = await run('terminal', 'issue-cert', '--dir', dir, '--id', 'T-0100');
    expect(cert.code, cert.err).toBe(0);
    expect((await run('merchant', 'list', '--dir', dir)).out).toMatch(
      /M-0100 {2}Bakery {2}EUR {2}active {2}1 terminal/,
    );
  }, 60_000);

  it('card list and show: masked numbers only, status and PIN tries', async () => {
    const list = await run('card', 'list', '--dir', dir, '--status', 'blocked');
    expect(list.out).toMatch(/card-eve {2}679999\*+\d{4} .* blocked/);
    expect(list.out).not.toMatch(/card-alice/);
    expect(list.out).not.toMatch(/\d{13,}/);
    const show = await run('card', 'show', '--dir', dir, '--id', 'card-dana');
    expect(show.out).toMatch(/status {6}active/);
    expect(show.out).toMatch(/PIN tries {3}0 wrong of 3/);
    expect(show.out).toMatch(/limit {7}€20\.00 \(available €20\.00\)/);
  }, 60_000);

  it('block with a reason, block twice, unblock an active card, an unknown card: each said in words', async () => {
    const lost = await run('card', 'block', '--dir', dir, '--id', 'card-dana', '--reason', 'lost');
    expect(lost.code, lost.err).toBe(0);
    expect((await run('card', 'show', '--dir', dir, '--id', 'card-dana')).out).toMatch(/status {6}lost/);
    const twice = await run('card', 'block', '--dir', dir, '--id', 'card-dana');
    expect([twice.code, twice.err]).toEqual([2, expect.stringMatching(/card card-dana is lost already/)]);
    expect((await run('card', 'unblock', '--dir', dir, '--id', 'card-dana')).code).toBe(0);
    const active = await run('card', 'unblock', '--dir', dir, '--id', 'card-dana');
    expect([active.code, active.err]).toEqual([2, expect.stringMatching(/is active already/)]);
    const reason = await run('card', 'block', '--dir', dir, '--id', 'card-dana', '--reason', 'misplaced');
    expect([reason.code, reason.err]).toEqual([
      2,
      expect.stringMatching(/must be one of blocked, lost, stolen/),
    ]);
    const unknown = await run('card', 'block', '--dir', dir, '--id', 'card-nobody');
    expect([unknown.code, unknown.err]).toEqual([2, expect.stringMatching(/no card card-nobody/)]);
  }, 60_000);

  it('transactions export: an unknown terminal, --from after --to, and --out - to standard output', async () => {
    const unknown = await run(
      'transactions',
      'export',
      '--dir',
      dir,
      '--terminal',
      'T-9999',
      '--out',
      join(root, 'x.csv'),
    );
    expect([unknown.code, unknown.err]).toEqual([2, expect.stringMatching(/no terminal T-9999/)]);
    expect(existsSync(join(root, 'x.csv'))).toBe(false);
    const backwards = await run(
      'transactions',
      'export',
      '--dir',
      dir,
      '--terminal',
      'T-0001',
      '--from',
      '2026-12-01',
      '--to',
      '2026-11-01',
      '--out',
      '-',
    );
    expect([backwards.code, backwards.err]).toEqual([
      2,
      expect.stringMatching(/--from .* must be before --to/),
    ]);
    const stdout = await run('transactions', 'export', '--dir', dir, '--terminal', 'T-0001', '--out', '-');
    expect(stdout.code, stdout.err).toBe(0);
    expect(stdout.out.split(/\r?\n/)[0]).toMatch(/^[a-z_]+(,[a-z_]+)+$/); // the CSV header, on standard output
    expect(existsSync(join(process.cwd(), '-'))).toBe(false);
  }, 60_000);
});

describe('bluetill-backend: usage errors', () => {
  let busy: Server;
  beforeAll(
    () =>
      new Promise<void>((ok) => {
        busy = createServer().listen(0, '127.0.0.1', ok);
      }),
  );
  afterAll(() => new Promise<void>((ok) => busy.close(() => ok())));

  it('a missing option, a port out of range and a port in use: exit 2, one line in words', async () => {
    const missing = await run('card', 'show', '--dir', dir);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/required option '--id <id>' not specified/);
    const range = await run('serve', '--dir', dir, '--port', '99999');
    expect(range.code).toBe(2);
    expect(range.err).toMatch(/must be a port number from 0 to 65535/);
    const port = (busy.address() as { port: number }).port;
    const inUse = await run('serve', '--dir', dir, '--port', String(port), '--no-shopper');
    expect(inUse.code).toBe(2);
    expect(inUse.err).toMatch(new RegExp(`listen_failed: cannot listen on 127\\.0\\.0\\.1:${port}.*in use`));
  }, 60_000);
});
