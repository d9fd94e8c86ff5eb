/**
 * The playground as a person runs it: `make till` (simulator/src/playground/main.ts) as a process
 * — seeded backend, virtual radio, `pos-terminal serve` with bleno on the radio — and the phones
 * command (`npm run phones`) in processes of their own, attaching to that radio. One basket is
 * rung up through the till's API as the cashier's, the other by the phones command; both phones
 * are approved and the till's receipts list them. Then it stops cleanly and a second start reuses
 * the folder (its keys file, 0600).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TillApiClient, controlFile, keysFile, readControl } from '@bluetill/simulator';

const root = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'bluetill-playground-'));
const started: ChildProcess[] = [];

function startPlayground(): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'simulator/src/playground/main.ts'), '--port', '0', '--dir', dir],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((done, fail) => {
    const timer = setInterval(() => {
      if (out.includes('What to do next:') && existsSync(controlFile(dir))) {
        clearInterval(timer);
        done({ child, out: () => out });
      }
    }, 100);
    child.once('exit', (code) => {
      clearInterval(timer);
      fail(new Error(`playground exited (${code}): ${out}`));
    });
  });
}

function phones(args: readonly string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [join(root, 'simulator/bin/bluetill-phones.mjs'), '--dir', dir, ...args],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout }));
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  const gone = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  return gone;
}

afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('the playground: make till, npm run phones', () => {
  it(
    'two phones from another process pay at the till, both approved, listed in its receipts; stops cleanly and starts again on the same folder',
    { timeout: 180_000 },
    async () => {
      const first = await startPlayground();
      expect(first.out()).toContain('sign in as cashier "demo" with PIN 1234');
      expect(statSync(keysFile(dir)).mode & 0o777).toBe(0o600);
      const keys = readFileSync(keysFile(dir), 'utf8');
      const { masterKey } = JSON.parse(keys) as { masterKey: string };
      expect(first.out()).not.toContain(masterKey);
      const control = readControl(dir);

      // The cashier's basket, rung up through the till's API with its token.
      const api = await TillApiClient.connect(control.till, readFileSync(control.tokenFile, 'utf8').trim());
      try {
        await api.ringUp([{ sku: 'tea-black', quantity: 3 }]);
        const cashiers = await phones(['--count', '1']);
        expect(cashiers.stdout).toMatch(/PHONE 1 \(ALICE ANDERSON, card-alice\) — approved/);
        expect(cashiers.code).toBe(0);
        // A phone that rings up its own basket (the card again: its ATC moves on from the last run's).
        const own = await phones(['--count', '1', '--ring-up']);
        expect(own.stdout).toMatch(/basket B-\d+ rung up through the till's API/);
        expect(own.stdout).toMatch(/PHONE 1 \(ALICE ANDERSON, card-alice\) — approved/);
        expect(own.code).toBe(0);
        const receipts = await api.receipts();
        expect(receipts.filter((r) => r.result === 'approved')).toHaveLength(2);
      } finally {
        api.close();
      }
      expect(await stop(first.child)).toBe(0);
      expect(existsSync(controlFile(dir))).toBe(false);
      const none = await phones(['--count', '1']);
      expect(none.code).toBe(1);
      expect(none.stdout).toContain('no playground running');

      const second = await startPlayground();
      expect(second.out()).toContain('reused');
      expect(readFileSync(keysFile(dir), 'utf8')).toBe(keys);
      expect(await stop(second.child)).toBe(0);
    },
  );
});
