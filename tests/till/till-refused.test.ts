/**
 * A till whose certificate the card company revoked (`bluetill-backend terminal revoke`), against
 * a real backend (mutual TLS, the registry in SQLite): the cashier's status says the card company
 * refused this till, not that the network is unreachable; the backend logs the refusal with the
 * certificate's serial and the terminal it names, and the till logs it too — each once, however
 * often the till probes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo, type SeededBackend } from '../../backend/src/admin/demo-seed';
import { SqliteRegistryAdmin } from '../../backend/src/adapters/sqlite/registry-admin.sqlite';
import { startBackend, type RunningBackend } from '../../backend/src/main';
import { SqliteBackendStore } from '../../backend/src/adapters/sqlite/backend-store.sqlite';
import { readTerminalTls } from '../../backend/src/adapters/tls-files';
import { MasterKey } from '../../backend/src/adapters/master-key';
import { Till } from '../../pos-terminal/src/common/till';
import { BackendError } from '../../pos-terminal/src/common/ports/backend-client';
import type { BackendStatus } from '../../pos-terminal/src/common/ipc/view-models';
import { GrpcBackendClient } from '../../pos-terminal/src/adapters/backend/backend-client.grpc';
import { SqliteJournal } from '../../pos-terminal/src/adapters/journal/journal.sqlite';
import { SqliteCatalog } from '../../pos-terminal/src/adapters/catalog/catalog.sqlite';
import { SqliteReceiptStore } from '../../pos-terminal/src/adapters/receipt/receipt-store.sqlite';
import { CashierHost } from '../../pos-terminal/src/host/cashier-host';
import { NoBlePeripheral } from '../../pos-terminal/src/adapters/ble/no-ble-peripheral';

const dir = mkdtempSync(join(tmpdir(), 'bluetill-refused-'));
const backendLog: Array<Record<string, unknown>> = [];
const tillLog: Array<Record<string, unknown>> = [];
const statuses: BackendStatus[] = [];
let seed: SeededBackend;
let backend: RunningBackend;
let client: GrpcBackendClient;
let till: Till;
let host: CashierHost;
const closers: Array<() => unknown> = [];

const capture = (into: Array<Record<string, unknown>>) =>
  pino(
    { level: 'info' },
    { write: (line: string) => void into.push(JSON.parse(line) as Record<string, unknown>) },
  );
const until = async (what: string, ok: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  const masterKey = MasterKey.generate();
  seed = await seedDemo(dir, [], [], { masterKey });
  backend = await startBackend({
    dbPath: seed.dbPath,
    keysPath: seed.keysPath,
    masterKey,
    logger: capture(backendLog),
    shopper: false,
  });
  client = new GrpcBackendClient({
    authorizationAddress: `localhost:${backend.port}`,
    terminalId: 'T-0001',
    tls: readTerminalTls(seed.tlsDir, 'T-0001'),
    deadlineMs: 3_000,
    attempts: 1,
    log: capture(tillLog),
  });
  const journal = new SqliteJournal(join(dir, 'journal.sqlite'), { key: new Uint8Array(32).fill(3) });
  const catalog = new SqliteCatalog(join(dir, 'till.sqlite'));
  const receipts = new SqliteReceiptStore(join(dir, 'till.sqlite'));
  till = new Till({
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
  host = new CashierHost({ till, catalog, receipts, probeEveryMs: 150, autoPrint: false });
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
    () => backend.close(),
  );
}, 60_000);

afterAll(async () => {
  for (const close of closers) await close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a till whose certificate was revoked', () => {
  it(
    'says the card company refused this till (certificate revoked); both sides log it once',
    { timeout: 30_000 },
    async () => {
      await until('the payment network connected', () => statuses.some((s) => s.health === 'reachable'));
      expect(backendLog.filter((l) => l.event === 'terminal_refused')).toHaveLength(0);

      const store = new SqliteBackendStore(seed.dbPath);
      try {
        expect(await new SqliteRegistryAdmin(store.db).revokeTerminalCertificates('T-0001')).toBe(1);
      } finally {
        store.close();
      }

      await until('the refusal in the status', () =>
        statuses.some((s) => s.message.includes('card company refused this till')),
      );
      const refused = statuses.at(-1)!;
      expect(refused.health).toBe('refused');
      expect(refused.message).toContain('The card company refused this till (certificate revoked)');
      expect(refused.message).not.toMatch(/not reachable/);

      // A payment's first call is refused the same way, with the reason as a field.
      const e = await client.challenge().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BackendError);
      expect(e).toMatchObject({ code: 'refused', reason: 'certificate_revoked' });

      // The cashier closing the day hears the same, not "no answer".
      const closed = await host.invoke('batch:close', {}).catch((x: unknown) => x);
      expect(closed).toMatchObject({
        code: 'unavailable',
        message: expect.stringContaining('The card company refused this till (certificate revoked)'),
      });

      // Several more probes: still one line on each side (rate-limited).
      await new Promise((r) => setTimeout(r, 700));
      const onBackend = backendLog.filter((l) => l.event === 'terminal_refused');
      expect(onBackend).toHaveLength(1);
      expect(onBackend[0]).toMatchObject({
        level: 40,
        reason: 'certificate_revoked',
        terminalId: 'T-0001',
        method: 'Health.Check',
      });
      expect(onBackend[0]!.serial).toMatch(/^[0-9A-F]+$/i);
      expect(onBackend[0]!.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      const onTill = tillLog.filter((l) => l.event === 'refused_by_card_company');
      expect(onTill).toHaveLength(1);
      expect(onTill[0]).toMatchObject({ level: 40, terminalId: 'T-0001', reason: 'certificate_revoked' });
      expect(String(onTill[0]!.msg)).toContain('the card company refused this till (certificate revoked)');
    },
  );
});
