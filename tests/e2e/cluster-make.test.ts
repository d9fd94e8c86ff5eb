/**
 * `make cluster` as a user runs it (scripts/cluster.sh, the Makefile's cluster targets, under a
 * temporary root): the pg_auto_failover cluster, migrated and seeded, and two `bluetill-backend serve`
 * nodes over its multi-host URL. The test reads the addresses the script prints for a till
 * (`--backend a,b`), parses them as the till does, and pays with the seeded demo card through each
 * node alone and through both (Challenge, Authorize with the sealed PIN, Settle with the ARQC, over
 * the seeded terminal's mutual TLS); a second start changes nothing (same nodes, same addresses);
 * stop leaves no process of the cluster running; destroy removes the root.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { pinSealContext, publicKeyFromRaw, sealPin, verifyCertificate } from '@bluetill/protocol';
import { readTerminalTls } from '@bluetill/backend';
import { GrpcBackendClient, parseBackendAddresses } from '@bluetill/pos-terminal';
import { TestCard } from '../../backend/src/test-support/test-card';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/cluster.sh');
const parent = mkdtempSync(join(tmpdir(), 'bluetill-make-cluster-'));
chmodSync(parent, 0o711); // the cluster's user (postgres, when we are root) must reach its root inside
const root = join(parent, 'cluster');

function run(command: string): Promise<{ status: number | null; out: string }> {
  return new Promise((ok, fail) => {
    const child = spawn('bash', [SCRIPT, command], {
      env: { ...process.env, CLUSTER_ROOT: root, NODES: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', fail);
    child.once('close', (status) => ok({ status, out }));
  });
}

/** Processes whose command line names the root (backend nodes, pg_autoctl, postgres and its children). */
function processesOfRoot(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(parent) && Number(pid) !== process.pid) found.push(`${pid}: ${cmd.slice(0, 160)}`);
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

afterAll(async () => {
  if (existsSync(root)) await run('destroy');
  rmSync(parent, { recursive: true, force: true });
}, 120_000);

/** The seeded card, kept across payments (its ATC moves forward with each cryptogram). */
let alice: TestCard | undefined;

async function pay(addresses: readonly string[], txn: string, url: string): Promise<void> {
  const backendDir = join(root, 'backend');
  const card = (alice ??= TestCard.fromFile(join(backendDir, 'cards', 'card-alice.json')));
  const trust = JSON.parse(readFileSync(join(backendDir, 'trust.json'), 'utf8')) as {
    cardCompanyRoot: string;
  };
  const client = new GrpcBackendClient({
    authorizationAddress: [...addresses],
    terminalId: 'T-0001',
    tls: readTerminalTls(join(backendDir, 'tls'), 'T-0001'),
    deadlineMs: 5_000,
    log: { warn: () => undefined, info: () => undefined },
  });
  try {
    const ch = await client.challenge();
    const un = ch.unpredictableNumber;
    const root = publicKeyFromRaw(Buffer.from(trust.cardCompanyRoot, 'base64'));
    const pinKey = verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
    const auth = await client.authorize({
      terminalId: 'T-0001',
      unpredictableNumber: un,
      sealedPinBlock: sealPin({
        pin: '1234',
        pan: card.p.pan,
        pinKey: pinKey.publicKey,
        pinKeyId: pinKey.subjectId,
        context: pinSealContext(un, 'T-0001'),
      }),
      card: card.cardData(un),
    });
    expect(auth.approved).toBe(true);
    const amount = { minor: 250, currency: 'EUR' };
    const settled = await client.settle({
      terminalId: 'T-0001',
      terminalTxnId: txn,
      merchantId: 'M-0001',
      authorizationRef: auth.authorizationRef,
      card: card.cardData(un),
      amount,
      items: [{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 250 }],
      cryptogram: card.arqc(amount, un),
    });
    expect(settled.approved ? 'approved' : settled.declineReason).toBe('approved');
  } finally {
    client.close();
  }
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const rows =
      await sql`SELECT approved FROM settlements WHERE terminal_id = 'T-0001' AND terminal_txn_id = ${txn}`;
    expect(rows.map((r) => r.approved as boolean)).toEqual([true]);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

describe('make cluster: PostgreSQL with failover and backend nodes on this machine', () => {
  it(
    'starts, prints the addresses a till pays through, starts again unchanged, stops with nothing left running',
    { timeout: 400_000 },
    async () => {
      const first = await run('start');
      expect(first.status, first.out).toBe(0);
      const printed = /--backend (\S+)/.exec(first.out)?.[1];
      expect(printed, first.out).toBeDefined();
      const addresses = parseBackendAddresses(printed!);
      expect(addresses).toHaveLength(2);
      expect(first.out).toContain(`BLUETILL_BACKEND=${printed} make till`);
      const url = /^(postgresql:\/\/\S+target_session_attrs=read-write)$/m.exec(first.out)?.[1];
      expect(url, first.out).toBeDefined();
      expect(url!.split(',')).toHaveLength(2); // one host per PostgreSQL node

      // Through each node alone, then through both (the till's rotation).
      await pay([addresses[0]!], 'cluster-make-1', url!);
      await pay([addresses[1]!], 'cluster-make-2', url!);
      await pay(addresses, 'cluster-make-3', url!);

      const pids = [1, 2].map((i) => readFileSync(join(root, `backend-${i}.pid`), 'utf8').trim());
      const again = await run('start');
      expect(again.status, again.out).toBe(0);
      expect(/--backend (\S+)/.exec(again.out)?.[1]).toBe(printed);
      expect([1, 2].map((i) => readFileSync(join(root, `backend-${i}.pid`), 'utf8').trim())).toEqual(pids);
      expect(again.out).not.toContain('seeding');

      const stopped = await run('stop');
      expect(stopped.status, stopped.out).toBe(0);
      expect(processesOfRoot()).toEqual([]);
      // Each node drained and exited on SIGTERM (the drain logs `drained`), not killed.
      for (const i of [1, 2])
        expect(readFileSync(join(root, `backend-${i}.log`), 'utf8')).toContain('"drained"');

      const destroyed = await run('destroy');
      expect(destroyed.status, destroyed.out).toBe(0);
      expect(existsSync(root)).toBe(false);
    },
  );
});
