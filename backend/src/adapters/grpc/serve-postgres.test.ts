/**
 * The gRPC servers over PostgreSQL, as `bluetill-backend serve --store postgres://…` runs them: a
 * backend seeded into a real PostgreSQL 15 database (the registry through the admin port), served
 * over mutual TLS by startBackend, with and without the use-case worker; a second node over the
 * same database. A sale authorized on one node settles on the other, a retried Settle answers the
 * stored receipt from either node, a refund and the day's close reconcile, and the ledger sums to
 * zero per currency in the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials } from '@grpc/grpc-js';
import { SettlementClient } from '@bluetill/protocol';
import { startPostgresServer, type PostgresServer } from '../../test-support/postgres-server';
import { startBackendFixture, type BackendFixture } from '../../test-support/backend-fixture';
import type { PostgresBackendStore } from '../postgres/backend-store.postgres';
import { startBackend, type RunningBackend } from '../../main';
import { createLogger } from '../logger';
import { readTerminalTls } from '../tls-files';
import { sell } from '../../test-support/sale';

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgresServer();
}, 60_000);
afterAll(async () => pg?.stop(), 30_000);

describe.each([
  { name: 'on the gRPC thread', worker: false },
  { name: 'on the use-case worker', worker: true },
])('serve over PostgreSQL, use cases $name', ({ worker }) => {
  let f: BackendFixture<PostgresBackendStore>;
  let second: RunningBackend<PostgresBackendStore>;
  beforeAll(async () => {
    const url = await pg.createDatabase(worker ? 'serve_worker' : 'serve_thread');
    f = await startBackendFixture({ postgresUrl: url, worker });
    second = await startBackend({
      postgresUrl: url,
      keysPath: f.seed.keysPath,
      masterKey: f.masterKey,
      logger: createLogger('backend', 'silent'),
      shopper: false,
    });
  }, 120_000);
  afterAll(async () => {
    await second?.close();
    await f?.close();
  }, 30_000);

  it('a sale settles once across two nodes; a refund and the close reconcile; the ledger is zero per currency', async () => {
    const receipt = await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'pg-sale-1', minor: 12_34 });
    expect(receipt).toMatchObject({ approved: true, replayed: false });

    // The same Settle asked of the other node: the stored answer, not a second sale.
    const t = readTerminalTls(f.seed.tlsDir, 'T-0001');
    const other = new SettlementClient(
      second.address.replace(/^127\.0\.0\.1:/, 'localhost:'),
      credentials.createSsl(t.ca, t.key, t.cert),
    );
    const stored = await new Promise<{ approved: boolean; replayed: boolean }>((ok, fail) =>
      other.getSettlement({ terminalId: 'T-0001', terminalTxnId: 'pg-sale-1' }, (e, r) =>
        e ? fail(e) : ok(r!),
      ),
    );
    other.close();
    expect(stored.approved).toBe(true);

    const refund = await f.refund({
      terminalId: 'T-0001',
      refundTxnId: 'pg-refund-1',
      terminalTxnId: 'pg-sale-1',
      amount: { minor: 2_34, currency: 'EUR' },
    });
    expect(refund.approved).toBe(true);
    const closed = await f.closeBatch({ terminalId: 'T-0001', closeRequestId: 'pg-close-1' });
    expect(closed.totals).toMatchObject({
      saleCount: 1,
      saleMinor: 12_34,
      refundMinor: 2_34,
      netMinor: 10_00,
    });

    const books = await second.store.read(async (tx) => ({
      sums: await tx.ledgerSumsByCurrency(),
      settlement: await tx.findSettlement('T-0001', 'pg-sale-1'),
    }));
    expect(books.sums).toEqual({ EUR: 0 });
    expect(books.settlement).toMatchObject({ approved: true, amountMinor: 12_34 });
    expect(await f.backend.commitStats()).toMatchObject({ commits: expect.any(Number) });
  }, 60_000);
});
