/**
 * Attacks on the till's cashier API from outside: raw WebSocket clients (`ws`, nobody's client
 * library) against `pos-terminal serve` as its own process, with a seeded backend (the rig's,
 * grpc-js over mutual TLS). A script without the token, a page of another origin, a page that
 * never signed in, PIN guessing, a cashier acting as a manager, a server asked to listen on the
 * network in clear: each must be refused and move nothing. Counted in the `faults_till_api` line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import { generateTillKey } from '@bluetill/pos-terminal';
import { TEST_CASHIER, TEST_MANAGER, writeTestCashiersFile } from '../../pos-terminal/src/host/test-cashiers';
import { ledgerFacts, startRig, type Rig } from './rig';

const SERVE = resolve(import.meta.dirname, '..', '..', 'pos-terminal', 'src', 'server', 'cli.ts');
const counts: Record<string, { tried: number; refused: number }> = {};
const t0 = performance.now();
let rig: Rig;
let cashiers: string;
let serve: { child: ChildProcess; url: string; token: string; data: string } | undefined;

function count(attack: string, refused: boolean): void {
  const c = (counts[attack] ??= { tried: 0, refused: 0 });
  c.tried++;
  if (refused) c.refused++;
}

/** `pos-terminal serve` as a process; resolves with its URL, or with its exit code and output if it stops first. */
function startServe(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url?: string; code?: number | null; out: string }> {
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
        '--cashiers',
        cashiers,
        ...args,
      ],
      {
        env: { ...process.env, BLUETILL_TILL_KEY: generateTillKey(), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done({ child, url: m[1]!, out });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ child, code, out });
    });
  });
}

type Reply = { id: number | null; ok: boolean; result?: unknown; error?: { code: string; message: string } };

/** A raw client: resolves once open, or rejects with the HTTP status of a refused upgrade. */
function connect(url: string, headers: Record<string, string> = {}, o: WebSocket.ClientOptions = {}) {
  return new Promise<{
    ws: WebSocket;
    replies: Reply[];
    events: string[];
    call(channel: string, payload?: unknown): Promise<Reply>;
    closed: Promise<number>;
  }>((res, rej) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api`, { headers, ...o });
    const replies: Reply[] = [];
    const events: string[] = [];
    const waiters = new Map<number, (r: Reply) => void>();
    let next = 1;
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Reply & { event?: string };
      if (m.event) events.push(m.event);
      else {
        replies.push(m);
        if (m.id !== null) waiters.get(m.id)?.(m);
      }
    });
    ws.once('open', () =>
      res({
        ws,
        replies,
        events,
        closed,
        call: (channel, payload = {}) =>
          new Promise((r) => {
            const id = next++;
            waiters.set(id, r);
            ws.send(JSON.stringify({ id, channel, payload }));
          }),
      }),
    );
    ws.once('unexpected-response', (_q, r) => rej(new Error(`HTTP ${r.statusCode}`)));
    ws.once('error', rej);
  });
}

const batches = () =>
  rig.query<{ n: number }>("SELECT COUNT(*) AS n FROM batches WHERE status = 'closed'")[0]!.n;
const manager = { managerId: TEST_MANAGER.id, secret: TEST_MANAGER.secret };

beforeAll(async () => {
  rig = await startRig({ tills: 1 });
  cashiers = await writeTestCashiersFile(join(mkdtempSync(join(tmpdir(), 'bluetill-api-')), 'cashiers.json'));
  const data = mkdtempSync(join(tmpdir(), 'bluetill-api-data-'));
  const s = await startServe(['--data', data]);
  if (!s.url) throw new Error(`serve did not start: ${s.out}`);
  serve = { child: s.child, url: s.url, data, token: readFileSync(join(data, 'api-token'), 'utf8').trim() };
}, 90_000);

afterAll(async () => {
  const all = Object.values(counts);
  process.stdout.write(
    `${JSON.stringify({ bench: 'faults_till_api', value: all.reduce((n, c) => n + c.tried, 0), unit: 'attacks', approved: all.reduce((n, c) => n + c.tried - c.refused, 0), refused: all.reduce((n, c) => n + c.refused, 0), ms: Math.round(performance.now() - t0), attacks: counts })}\n`,
  );
  if (serve) {
    serve.child.kill('SIGTERM');
    await new Promise((r) => serve!.child.once('exit', r));
  }
  await rig?.close();
});

describe("the till's cashier API", () => {
  it('refuses a script without the API token (no Origin), a wrong token, and a page of another origin (even carrying the token)', async () => {
    const { url, token } = serve!;
    expect(statSync(join(serve!.data, 'api-token')).mode & 0o777).toBe(0o600);
    const tries: Array<[string, Record<string, string>, RegExp]> = [
      ['no_origin_no_token', {}, /401/],
      ['wrong_token', { authorization: `Bearer ${'A'.repeat(43)}` }, /401/],
      ['token_prefix', { authorization: `Bearer ${token.slice(0, 20)}` }, /401/],
      ['cross_origin', { origin: 'http://evil.example' }, /403/],
      [
        'cross_origin_with_token',
        { origin: 'http://127.0.0.1.evil.example', authorization: `Bearer ${token}` },
        /403/,
      ],
      ['null_origin', { origin: 'null' }, /403/],
    ];
    for (const [name, headers, status] of tries) {
      const r = await connect(url, headers).then(
        (c) => (c.ws.close(), 'connected'),
        (e: Error) => e.message,
      );
      count(name, status.test(r));
      expect(r, name).toMatch(status);
    }
    const ok = await connect(url, { authorization: `Bearer ${token}` });
    expect((await ok.call('till:snapshot')).ok).toBe(true); // the control: the token works
    ok.ws.close();
  });

  it('a page of its own origin that has not signed in can pay, refund, close the day or read history: none of it, and it hears no events', async () => {
    const { url, token } = serve!;
    const page = await connect(url, { origin: url });
    const script = await connect(url, { authorization: `Bearer ${token}` });
    const before = { ledger: ledgerFacts(rig), batches: batches() };
    const attempts: Array<[string, unknown]> = [
      ['till:snapshot', {}],
      ['receipt:history', {}],
      ['basket:pay-code', { code: '12345678' }],
      ['receipt:refund', { terminalTxnId: 'T-0001-x', amountMinor: 100, approval: manager }],
      ['receipt:void', { terminalTxnId: 'T-0001-x' }],
      ['batch:close', { approval: manager }],
      ['draft:add', { sku: 'tea-green' }],
      ['catalog:upsert', { sku: 'x', name: 'X', priceMinor: 1 }],
      ['auth:resume', { resumeToken: 'A'.repeat(43) }],
    ];
    for (const [channel, payload] of attempts) {
      const r = await page.call(channel, payload);
      count('signed_out_page', r.error?.code === 'unauthenticated');
      expect(r, channel).toMatchObject({ ok: false, error: { code: 'unauthenticated' } });
    }
    await script.call('draft:add', { sku: 'tea-green' }); // the sale changes: a signed-in session hears it...
    await new Promise((r) => setTimeout(r, 500));
    expect(script.events.length).toBeGreaterThan(0);
    expect(page.events).toEqual([]); // ...a signed-out page does not
    await script.call('draft:clear');
    expect({ ledger: ledgerFacts(rig), batches: batches() }).toEqual(before);
    page.ws.close();
    script.ws.close();
  });

  it(
    "the day's close and a refund above the limit need a manager: not a cashier's PIN, not a wrong one; guessing locks the id, and a connection that keeps guessing is closed",
    { timeout: 60_000 },
    async () => {
      const { url, token } = serve!;
      const script = await connect(url, { authorization: `Bearer ${token}` });
      const closedBefore = batches();
      for (const approval of [
        undefined,
        { managerId: TEST_CASHIER.id, secret: TEST_CASHIER.secret },
        { managerId: TEST_MANAGER.id, secret: '0000' },
        { managerId: 'nobody', secret: 'whatever' },
      ]) {
        const r = await script.call('batch:close', approval ? { approval } : {});
        count('close_without_manager', r.error?.code === 'approval_required');
        expect(r).toMatchObject({ ok: false, error: { code: 'approval_required' } });
      }
      const refund = await script.call('receipt:refund', { terminalTxnId: 'T-0001-x', amountMinor: 2001 });
      count('refund_above_limit_without_manager', refund.error?.code === 'approval_required');
      expect(refund).toMatchObject({ ok: false, error: { code: 'approval_required' } });
      expect(batches()).toBe(closedBefore);
      // Guessing the manager's PIN (one wrong try above, four here): after five the id is locked, the right PIN too.
      for (let i = 0; i < 4; i++)
        await script.call('batch:close', { approval: { managerId: TEST_MANAGER.id, secret: `guess-${i}` } });
      const locked = await script.call('batch:close', { approval: manager });
      count('manager_pin_guessing', locked.error?.code === 'rate_limited');
      expect(locked).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
      expect(batches()).toBe(closedBefore);
      // A page guessing a cashier's PIN is cut off.
      const page = await connect(url, { origin: url });
      for (let i = 0; i < 10 && page.ws.readyState === WebSocket.OPEN; i++)
        await page.call('auth:sign-in', { cashierId: `c${i}`, secret: `pin-${i}` });
      const code = await page.closed;
      count('sign_in_guessing', code === 1008);
      expect(code).toBe(1008);
      // No secret in any answer.
      expect(JSON.stringify([...script.replies, ...page.replies])).not.toMatch(
        /guess-|pin-\d|0000|manager-1357/,
      );
      script.ws.close();
    },
  );

  it(
    'refuses to listen beyond loopback without TLS; with a certificate it serves HTTPS and WSS only',
    { timeout: 90_000 },
    async () => {
      const data = mkdtempSync(join(tmpdir(), 'bluetill-api-net-'));
      const open = await startServe(['--data', data, '--host', '0.0.0.0']);
      count('network_without_tls', open.code === 1 && !open.url);
      expect(open.url).toBeUndefined();
      expect(open.code).toBe(1);
      expect(open.out).toMatch(/without TLS/);
      const tlsDir = join(rig.dir, 'tls');
      const tls = await startServe([
        '--data',
        data,
        '--tls-cert',
        join(tlsDir, 'server.pem'),
        '--tls-key',
        join(tlsDir, 'server-key.pem'),
      ]);
      try {
        expect(tls.url, tls.out).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        const token = readFileSync(join(data, 'api-token'), 'utf8').trim();
        const ca = readFileSync(join(tlsDir, 'ca.pem'));
        const wss = await connect(tls.url!, { authorization: `Bearer ${token}` }, { ca });
        expect((await wss.call('till:snapshot')).ok).toBe(true);
        wss.ws.close();
        const plain = await connect(tls.url!.replace('https', 'http'), {
          authorization: `Bearer ${token}`,
        }).then(
          () => 'connected',
          (e: Error) => e.message,
        );
        count('plain_ws_to_tls', plain !== 'connected');
        expect(plain).not.toBe('connected');
      } finally {
        tls.child.kill('SIGTERM');
        await new Promise((r) => (tls.child.exitCode !== null ? r(null) : tls.child.once('exit', r)));
      }
    },
  );
});
