/**
 * The till's disk taken by an attacker: whatever it holds once payments have an outcome must not
 * give up a card (PCI DSS 3.3.1). Real parts: the rig's backend (grpc-js over mutual TLS, SQLite),
 * the till core with its SQLite journal, phones paying with the simulated EMV cards over the
 * in-memory radio; and `pos-terminal serve` as its own process. The attacker is given the journal
 * key itself (the worst case: it reads every sealed request), and, separately, only what is on the
 * till's disk. Counted in the `faults_till_at_rest` line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { hkdfSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { privateKeyFromPem, type Item } from '@bluetill/protocol';
import { BackendError, generateTillKey, journalKey, type BackendClient } from '@bluetill/pos-terminal';
import { writeTestCashiersFile } from '../../pos-terminal/src/host/test-cashiers';
import { journalPlaintexts, scanTillJournal, tillCardSecrets } from '../support/data-at-rest';
import { ledgerFacts, override, startRig, type Rig } from './rig';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const SERVE = resolve(import.meta.dirname, '..', '..', 'pos-terminal', 'src', 'server', 'cli.ts');
const counts = { tried: 0, found: 0, payments: 0, filesScanned: 0, bytesScanned: 0 };
const t0 = performance.now();
let rig: Rig;
/** The next Settle's answer is lost on the way back (the backend has committed it). */
let loseNextAnswer = false;

beforeAll(async () => {
  rig = await startRig({
    tills: 1,
    wrap: (_i, parts) => ({
      journal: parts.journal,
      backend: override<BackendClient>(parts.backend, {
        settle: async (req) => {
          const res = await parts.backend.settle(req);
          if (loseNextAnswer) {
            loseNextAnswer = false;
            throw new BackendError('deadline', 'the answer was lost');
          }
          return res;
        },
      }),
    }),
  });
}, 60_000);

afterAll(async () => {
  process.stdout.write(
    `${JSON.stringify({ bench: 'faults_till_at_rest', value: counts.tried, unit: 'attacks', approved: 0, found: counts.found, payments: counts.payments, files: counts.filesScanned, bytesScanned: counts.bytesScanned, ms: Math.round(performance.now() - t0) })}\n`,
  );
  await rig?.close();
});

const scan = () => {
  const r = scanTillJournal(
    rig.tills[0]!.journalPath,
    journalKey(rig.tillKey, 'T-0001'),
    tillCardSecrets(rig.seed.cardsDir),
  );
  counts.tried++;
  counts.filesScanned += r.files;
  counts.bytesScanned += r.bytes;
  counts.found += r.hits.length;
  return r;
};

describe("the till's journal after outcomes", () => {
  it(
    'holds no card number, track 2, name, PIN or card key once payments are approved, or unresolved and then resolved, even read with the journal key',
    { timeout: 60_000 },
    async () => {
      const till = rig.tills[0]!;
      for (const card of [
        { id: 'card-alice', pin: '1234' },
        { id: 'card-bob', pin: '2580' },
      ]) {
        rig.ringUp(0, TEA);
        const run = await rig.phonePays(0, card.id, card.pin);
        expect(run.outcome.kind).toBe('approved');
        counts.payments++;
      }
      // A payment whose answer is lost: unresolved, its request (card data) still needed and still there...
      rig.ringUp(0, TEA);
      loseNextAnswer = true;
      const lost = await rig.phonePays(0, 'card-chen', '9876', { resume: false });
      expect(lost.outcome).toMatchObject({ kind: 'failed' });
      counts.payments++;
      const unresolved = till.journal.unresolved();
      expect(unresolved).toHaveLength(1);
      const before = scan();
      expect(before.opened).toBe(1);
      // The scan finds what is there: the PAN the settlement needs (the card's records, where it is
      // also in BCD, are not kept for Settle at all).
      expect(before.hits.map((h) => h.label)).toContain('card-chen PAN');
      expect(before.hits.map((h) => h.label)).not.toContain('card-chen PAN (BCD)');
      counts.found -= before.hits.length; // (a control, not a finding)
      // ...until the till asks the network and learns it was charged: then it goes too.
      await till.till.resolveUnresolved();
      expect(till.journal.get(unresolved[0]!.terminalTxnId)).toMatchObject({
        state: 'approved',
        request: new Uint8Array(),
        amountMinor: 700,
      });
      await new Promise((r) => setTimeout(r, 600)); // the WAL is wiped soon after an outcome
      const after = scan();
      expect(after.files).toBeGreaterThanOrEqual(1);
      expect(after.opened).toBe(0);
      expect(after.hits).toEqual([]);
      for (const a of till.journal.forBasket(unresolved[0]!.basketId))
        expect(a.maskedPan).toMatch(/^\d{6}\*+\d{4}$/);
      expect(ledgerFacts(rig).sum).toBe(0);
    },
  );

  it('gives nothing to an attacker with only the disk: the journal key does not derive from the terminal key beside it', () => {
    const path = rig.tills[0]!.journalPath;
    // A payment still pending would be sealed in the journal; the key derivable from the terminal
    // file (its private key is in clear there) must not open the journal.
    const terminal = JSON.parse(readFileSync(join(rig.dir, 'terminal-T-0001.json'), 'utf8')) as {
      privatePem: string;
    };
    const der = privateKeyFromPem(terminal.privatePem).privateKey.export({ format: 'der', type: 'pkcs8' });
    const fromDisk = new Uint8Array(
      hkdfSync('sha256', der, Buffer.from('bluetill journal'), Buffer.from('journal key v1'), 32),
    );
    counts.tried++;
    expect(Buffer.from(fromDisk).equals(Buffer.from(journalKey(rig.tillKey, 'T-0001')))).toBe(false);
    expect(() => journalPlaintexts(path, fromDisk)).not.toThrow(); // nothing sealed is left to try it on
  });
});

describe('`pos-terminal serve` and the till key', () => {
  async function serve(
    env: Record<string, string>,
    data: string,
  ): Promise<{ code: number | null; out: string; err: string }> {
    const cashiers = await writeTestCashiersFile(
      join(mkdtempSync(join(tmpdir(), 'bluetill-cashiers-')), 'cashiers.json'),
    );
    return new Promise((done) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          SERVE,
          '--terminal',
          join(rig.dir, 'terminal-T-0001.json'),
          '--backend',
          rig.address(),
          '--ble',
          'none',
          '--port',
          '0',
          '--data',
          data,
          '--cashiers',
          cashiers,
        ],
        {
          env: { ...process.env, BLUETILL_TILL_KEY: '', BLUETILL_TILL_KEY_FD: '', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/serving /.test(out)) child.kill('SIGTERM');
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      child.on('exit', (code) => (clearTimeout(timer), done({ code, out, err })));
    });
  }

  it(
    'refuses to start without BLUETILL_TILL_KEY (clear error, no journal created), and starts with it',
    { timeout: 90_000 },
    async () => {
      const data = mkdtempSync(join(tmpdir(), 'bluetill-serve-key-'));
      counts.tried++;
      const without = await serve({}, data);
      expect(without.code).toBe(1);
      expect(without.err).toMatch(/BLUETILL_TILL_KEY/);
      expect(without.out).not.toMatch(/serving/);
      expect(existsSync(join(data, 'journal.sqlite'))).toBe(false);
      counts.tried++;
      const bad = await serve({ BLUETILL_TILL_KEY: 'dG9vIHNob3J0' }, data);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/32 bytes/);
      expect(bad.err).not.toContain('dG9vIHNob3J0');
      const withKey = await serve({ BLUETILL_TILL_KEY: generateTillKey() }, data);
      expect(withKey.out, withKey.err).toMatch(/serving /);
      expect(existsSync(join(data, 'journal.sqlite'))).toBe(true);
    },
  );
});
