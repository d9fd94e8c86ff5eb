/**
 * Offline mode's parameters from the card company, over real parts: a backend (mutual TLS on
 * loopback, over a SQLite file and over a PostgreSQL 15 database), the till's gRPC client, its
 * offline journal (SQLite file) and offline desk. The till approves nothing offline before it has
 * the card company's signed parameters; it then decides by the limits the operator set (the
 * terminal's over the merchant's), refuses an older or an edited copy, keeps its copy across a
 * restart; a card blocked through the admin CLI is on the till's list after its next fetch and is
 * declined offline; a sale approved offline on a list older than the block is the merchant's
 * loss once forwarded, and the offline report says so; a revoked till drops its copy and approves
 * nothing offline.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OfflineParameters,
  SignedOfflineParameters,
  demoOfflineTc,
  generateP256,
  type Money,
} from '@bluetill/protocol';
import { startBackendFixture, type BackendFixture } from '../../backend/src/test-support/backend-fixture';
import { startPostgresServer, type PostgresServer } from '../../backend/src/test-support/postgres-server';
import type { SqliteBackendStore } from '../../backend/src/adapters/sqlite/backend-store.sqlite';
import type { PostgresBackendStore } from '../../backend/src/adapters/postgres/backend-store.postgres';
import { openRegistryAdmin, parseStoreSpec } from '../../backend/src/adapters/store-spec';
import { readTerminalTls } from '../../backend/src/adapters/tls-files';
import type { RegistryAdmin } from '../../backend/src/ports/registry-admin';
import { DEFAULT_OFFLINE_LIMIT_VALUES } from '../../backend/src/domain/offline-limits';
import { GrpcBackendClient } from '../../pos-terminal/src/adapters/backend/backend-client.grpc';
import { SqliteOfflineJournal } from '../../pos-terminal/src/adapters/journal/offline-journal.sqlite';
import { readOfflineTrust } from '../../pos-terminal/src/adapters/trust/trust-file';
import { OfflineDesk } from '../../pos-terminal/src/common/offline/offline-desk';
import {
  OfflineParametersCopy,
  type OfflineParametersSource,
} from '../../pos-terminal/src/common/offline/offline-parameters';

const cli = resolve(import.meta.dirname, '../../backend/bin/bluetill-backend.mjs');
const terminal = generateP256();
let pg: PostgresServer | undefined;
afterAll(async () => pg?.stop(), 30_000);

describe.each(['sqlite', 'postgres'] as const)('offline parameters from the card company over %s', (kind) => {
  let f: BackendFixture<SqliteBackendStore | PostgresBackendStore>;
  let storeArg: string[];
  let admin: RegistryAdmin;
  let client: GrpcBackendClient;
  let dir: string;
  let journal: SqliteOfflineJournal;
  let copy: OfflineParametersCopy;
  let desk: OfflineDesk;
  const clock = { now: () => Date.now() };
  let atc = 500;

  const open = (source: OfflineParametersSource = client) => {
    const trust = readOfflineTrust(join(f.dir, 'trust.json'));
    copy = new OfflineParametersCopy({
      terminalId: 'T-0001',
      merchantId: 'M-0001',
      timeZone: 'UTC',
      cardCompanyRoot: trust.cardCompanyRoot,
      store: journal,
      source,
      clock,
    });
    desk = new OfflineDesk({
      terminalId: 'T-0001',
      merchantId: 'M-0001',
      merchantName: 'Corner Shop',
      terminalKey: terminal.privateKey,
      journal,
      rules: copy,
      caKeys: trust.caKeys,
      cardKeySecret: new Uint8Array(32).fill(5),
      forwarder: client,
      clock,
    });
  };
  const sell = (cardId: string, minor: number) => {
    const un = OfflineDesk.unpredictableNumber();
    const amount: Money = { minor, currency: 'EUR' };
    const date = new Date().toISOString().slice(2, 10).replaceAll('-', '');
    return desk.approve({
      request: { requested: 'tc', amount, unpredictableNumber: un },
      evidence: demoOfflineTc(f.card(cardId).p, { amount, unpredictableNumber: un, atc: atc++, date }),
      backend: 'unreachable',
      items: [{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: minor }],
    });
  };
  const reasonOf = async (p: ReturnType<typeof sell>) => {
    const r = await p;
    return r.approved ? 'approved' : r.reason;
  };
  const runCli = (...args: string[]): Promise<{ code: number; out: string; err: string }> =>
    new Promise((done) =>
      execFile(
        process.execPath,
        [cli, ...args, ...storeArg],
        { env: { ...process.env, BLUETILL_MASTER_KEY: f.masterKey.toBase64() }, timeout: 60_000 },
        (error, out, err) =>
          done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err }),
      ),
    );

  beforeAll(async () => {
    if (kind === 'sqlite') {
      f = await startBackendFixture();
      storeArg = ['--store', f.seed.dbPath];
    } else {
      pg ??= await startPostgresServer();
      const url = await pg.createDatabase('offline_parameters');
      f = await startBackendFixture({ postgresUrl: url });
      storeArg = ['--store', url];
    }
    admin = await openRegistryAdmin(parseStoreSpec(storeArg[1]!));
    client = new GrpcBackendClient({
      authorizationAddress: f.backend.address.replace(/^127\.0\.0\.1:/, 'localhost:'),
      terminalId: 'T-0001',
      tls: readTerminalTls(f.seed.tlsDir, 'T-0001'),
      deadlineMs: 5_000,
      attempts: 1,
    });
    dir = mkdtempSync(join(tmpdir(), 'bluetill-offline-parameters-'));
    journal = new SqliteOfflineJournal(join(dir, 'journal.sqlite'), { key: new Uint8Array(32).fill(1) });
    open();
  }, 120_000);
  afterAll(async () => {
    journal?.close();
    client?.close();
    await admin?.close();
    await f?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('approves nothing offline before the first fetch; then decides by the defaults, the seeded blocked card declined', async () => {
    expect(await reasonOf(sell('card-alice', 5_00))).toBe('no_parameters');
    expect(desk.status()).toMatchObject({ available: false, exposureLimitMinor: 0 });
    const r = await desk.refreshParameters();
    expect(r).toMatchObject({ outcome: 'kept' });
    const held = copy.held()!;
    expect(held).toMatchObject({
      terminalId: 'T-0001',
      merchantId: 'M-0001',
      currency: 'EUR',
      floorLimitMinor: DEFAULT_OFFLINE_LIMIT_VALUES.floorLimitMinor,
      exposureMinor: DEFAULT_OFFLINE_LIMIT_VALUES.exposureMinor,
      perCardDailyCount: DEFAULT_OFFLINE_LIMIT_VALUES.cardDailyCount,
    });
    expect(held.validUntilMs - held.issuedAtMs).toBe(24 * 3600_000);
    // The seed's blocked (and no other) card is on the list: one entry, no card number in the message.
    expect(held.blockedCards).toHaveLength(1);
    expect(
      Buffer.from(OfflineParameters.encode(held).finish()).includes(Buffer.from(f.card('card-eve').p.pan)),
    ).toBe(false);
    expect(desk.status()).toMatchObject({ available: true, exposureLimitMinor: held.exposureMinor });
    expect(await reasonOf(sell('card-eve', 5_00))).toBe('card_blocked');
    expect(await reasonOf(sell('card-alice', DEFAULT_OFFLINE_LIMIT_VALUES.floorLimitMinor + 1))).toBe(
      'floor_limit',
    );
    expect(await reasonOf(sell('card-alice', 4_00))).toBe('approved');
  }, 60_000);

  it("the operator's terminal limit over the merchant's reaches the till at its next fetch; a restart keeps the copy", async () => {
    await admin.setOfflineLimits({ merchantId: 'M-0001' }, { floorLimitMinor: 30_00 });
    await admin.setOfflineLimits({ terminalId: 'T-0001' }, { floorLimitMinor: 20_00 });
    expect(await reasonOf(sell('card-chen', 25_00))).toBe('approved'); // the old copy: 50.00
    expect(await desk.refreshParameters()).toMatchObject({ outcome: 'kept' });
    expect(copy.held()!.floorLimitMinor).toBe(20_00);
    expect(await reasonOf(sell('card-chen', 25_00))).toBe('floor_limit');
    const issued = copy.held()!.issuedAtMs;
    open(); // the till restarts: the copy from its journal, checked again
    expect(copy.held()!.issuedAtMs).toBe(issued);
    expect(copy.inForce(Date.now())?.limits.floorLimitMinor).toBe(20_00);
    expect(copy.inForce(copy.held()!.validUntilMs)).toBeNull(); // past its validity: no offline approvals
  }, 60_000);

  it('refuses a replayed older copy and an edited one, keeping the copy it holds', async () => {
    const older = await client.getOfflineParameters();
    await new Promise((r) => setTimeout(r, 5));
    expect(await desk.refreshParameters()).toMatchObject({ outcome: 'kept' });
    const held = copy.held()!;
    const fake = (s: SignedOfflineParameters): OfflineParametersSource => ({
      getOfflineParameters: async () => s,
    });
    open(fake(older));
    expect(await copy.refresh()).toMatchObject({ outcome: 'refused', error: { code: 'older_than_copy' } });
    const fresh = await client.getOfflineParameters();
    const raised = OfflineParameters.encode({
      ...OfflineParameters.decode(fresh.parameters),
      floorLimitMinor: 1_000_00,
      blockedCards: [],
    }).finish();
    open(fake({ ...fresh, parameters: raised }));
    expect(await copy.refresh()).toMatchObject({ outcome: 'refused', error: { code: 'bad_signature' } });
    open();
    const kept = (p: OfflineParameters) => Buffer.from(OfflineParameters.encode(p).finish()).toString('hex');
    expect(kept(copy.held()!)).toBe(kept(held));
    expect(
      kept(OfflineParameters.decode(SignedOfflineParameters.decode(journal.loadParameters()!).parameters)),
    ).toBe(kept(held));
  }, 60_000);

  it('a card blocked through the admin CLI: approved offline on the older list (the merchant loss once forwarded), declined after the next fetch; the report shows both', async () => {
    const blocked = await runCli('card', 'block', '--id', 'card-bob');
    expect(blocked.code, blocked.err).toBe(0);
    expect(await reasonOf(sell('card-bob', 6_00))).toBe('approved'); // the till's list predates the block
    expect(await desk.refreshParameters()).toMatchObject({ outcome: 'kept' });
    expect(copy.held()!.blockedCards).toHaveLength(2);
    expect(await reasonOf(sell('card-bob', 6_00))).toBe('card_blocked');
    const report = await desk.forward();
    expect(report.stoppedBy).toBeNull();
    expect(report.forwarded.map((s) => [s.state, s.amountMinor, s.reason])).toEqual([
      ['settled', 4_00, null],
      ['settled', 25_00, null],
      ['merchant_loss', 6_00, 'card_blocked'],
    ]);
    const out = await runCli('offline', 'report', '--json');
    expect(out.code, out.err).toBe(0);
    const r = JSON.parse(out.out) as { totals: unknown[]; losses: { offlineId: string; reason: string }[] };
    expect(r.totals).toEqual([
      {
        merchantId: 'M-0001',
        currency: 'EUR',
        settledCount: 2,
        settledMinor: 29_00,
        lossCount: 1,
        lossMinor: 6_00,
      },
    ]);
    expect(r.losses).toEqual([
      expect.objectContaining({
        terminalId: 'T-0001',
        offlineId: report.forwarded[2]!.offlineId,
        reason: 'card_blocked',
      }),
    ]);
  }, 120_000);

  it('a revoked till drops its copy at its next fetch and approves nothing offline', async () => {
    expect(desk.status().available).toBe(true);
    expect(await admin.revokeTerminalCertificates('T-0001')).toBe(1);
    const r = await desk.refreshParameters();
    expect(r).toMatchObject({ outcome: 'dropped', error: { code: 'refused' } });
    expect(journal.loadParameters()).toBeNull();
    expect(desk.status()).toMatchObject({ available: false, validUntilMs: null });
    expect(await reasonOf(sell('card-alice', 1_00))).toBe('no_parameters');
    open(); // nor after a restart
    expect(await reasonOf(sell('card-alice', 1_00))).toBe('no_parameters');
  }, 60_000);
});
