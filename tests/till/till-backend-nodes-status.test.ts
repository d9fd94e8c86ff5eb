/**
 * The cashier's payment-network status with several backend nodes: two real backends (mutual TLS)
 * over one SQLite file, a till whose client balances over both, the cashier host probing every
 * 150 ms. Both serve: "connected"; one gone: reachable, "1 of 2 nodes serve" with the counts the
 * renderer's pill shows ("Payment network: 1 of 2 nodes"); both gone: unreachable, in the words a
 * till with one backend uses.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../backend/src/admin/demo-seed';
import { startBackend, type RunningBackend } from '../../backend/src/main';
import { readTerminalTls } from '../../backend/src/adapters/tls-files';
import { MasterKey } from '../../backend/src/adapters/master-key';
import { createLogger } from '../../backend/src/adapters/logger';
import { Till } from '../../pos-terminal/src/common/till';
import type { BackendStatus } from '../../pos-terminal/src/common/ipc/view-models';
import { GrpcBackendClient } from '../../pos-terminal/src/adapters/backend/backend-client.grpc';
import { SqliteJournal } from '../../pos-terminal/src/adapters/journal/journal.sqlite';
import { SqliteCatalog } from '../../pos-terminal/src/adapters/catalog/catalog.sqlite';
import { SqliteReceiptStore } from '../../pos-terminal/src/adapters/receipt/receipt-store.sqlite';
import { CashierHost } from '../../pos-terminal/src/host/cashier-host';
import { NoBlePeripheral } from '../../pos-terminal/src/adapters/ble/no-ble-peripheral';

const dir = mkdtempSync(join(tmpdir(), 'bluetill-nodes-status-'));
const statuses: BackendStatus[] = [];
const nodes: RunningBackend[] = [];
const closers: Array<() => unknown> = [];

const until = async (what: string, ok: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(statuses.at(-1))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const last = () => statuses.at(-1);

beforeAll(async () => {
  const masterKey = MasterKey.generate();
  const seed = await seedDemo(dir, [], [], { masterKey });
  for (let i = 0; i < 2; i++)
    nodes.push(
      await startBackend({
        dbPath: seed.dbPath,
        keysPath: seed.keysPath,
        masterKey,
        logger: createLogger('backend', 'silent'),
        shopper: false,
      }),
    );
  const client = new GrpcBackendClient({
    authorizationAddress: nodes.map((n) => `localhost:${n.port}`),
    terminalId: 'T-0001',
    tls: readTerminalTls(seed.tlsDir, 'T-0001'),
    deadlineMs: 1_000,
    log: { warn: () => undefined, info: () => undefined },
  });
  const journal = new SqliteJournal(join(dir, 'journal.sqlite'), { key: new Uint8Array(32).fill(3) });
  const catalog = new SqliteCatalog(join(dir, 'till.sqlite'));
  const receipts = new SqliteReceiptStore(join(dir, 'till.sqlite'));
  const till = new Till({
    terminalId: 'T-0001',
    merchantId: 'M-0001',
    counterName: 'Counter 1',
    currency: 'EUR',
    identity: {
      terminalKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
      terminalCertificate: new Uint8Array(),
      merchantName: 'Shop',
    },
    peripheral: new NoBlePeripheral(),
    backend: client,
    journal,
    basketStore: journal,
    resolveEveryMs: 0,
  });
  await till.start();
  const host = new CashierHost({ till, catalog, receipts, probeEveryMs: 150, autoPrint: false });
  host.subscribe((event, payload) => {
    if (event === 'backend:changed') statuses.push(payload as BackendStatus);
  });
  closers.push(
    () => host.close(),
    () => till.stop(),
    () => journal.close(),
    () => catalog.close(),
    () => receipts.close(),
    () => client.close(),
    ...nodes.map((n) => () => n.kill()),
  );
}, 60_000);

afterAll(async () => {
  for (const close of closers) await close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the payment network status with two backend nodes', () => {
  it(
    'connected, then "1 of 2 nodes", then unreachable as with one backend',
    { timeout: 40_000 },
    async () => {
      await until('connected', () => last()?.health === 'reachable');
      expect(last()).toMatchObject({ message: 'Payment network connected', nodes: { up: 2, total: 2 } });

      nodes[1]!.kill();
      await until('one node down', () => last()?.nodes?.up === 1);
      expect(last()).toMatchObject({
        health: 'reachable',
        message: 'Payment network connected: 1 of 2 nodes serve (payments go to those)',
        nodes: { up: 1, total: 2 },
      });

      nodes[0]!.kill();
      await until('unreachable', () => last()?.health === 'unreachable');
      expect(last()!.message).toBe(
        'The payment network is not reachable: payments cannot be taken right now.',
      );
    },
  );
});
