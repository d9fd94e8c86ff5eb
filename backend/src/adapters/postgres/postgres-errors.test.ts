import { describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { connectPostgres, freePort } from '../../test-support/postgres-server';
import { postgresServerPerFile } from '../../test-support/postgres-per-file';
import { postgresErrorKind } from './postgres-errors';

const server = postgresServerPerFile();

const kindOf = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (err: unknown) => postgresErrorKind(err),
  );

describe('postgresErrorKind on the errors a real server and the driver give', () => {
  it('tells a lost connection, a lost race, a duplicate key and a broken invariant apart', async () => {
    const sql = connectPostgres(await server.createDatabase('errors'), { max: 2 });
    try {
      await sql`CREATE TABLE t (id int PRIMARY KEY, n int CHECK (n >= 0))`;
      await sql`INSERT INTO t VALUES (1, 1)`;
      expect(await kindOf(sql`INSERT INTO t VALUES (1, 1)`)).toBe('unique_violation');
      expect(await kindOf(sql`INSERT INTO t VALUES (2, -1)`)).toBe('invariant');
      expect(await kindOf(sql`SELECT 1/0`)).toBe('other');
      // The server ends our session (as a failover or a restart does) in the middle of a transaction.
      const killed = sql.begin(async (tx) => {
        await tx`SELECT pg_terminate_backend(pg_backend_pid())`;
      });
      expect(await kindOf(killed)).toBe('connection');
      // A session left idle inside a transaction past idle_in_transaction_session_timeout (its node stopped).
      const idle = await sql.reserve();
      await idle`SET idle_in_transaction_session_timeout = 200`;
      await idle`BEGIN`;
      await new Promise((r) => setTimeout(r, 600));
      expect(await kindOf(idle`SELECT 1`)).toBe('connection');
      idle.release();
      // The same end seen by a query in flight at that moment carries the server's SQLSTATE.
      expect(postgresErrorKind({ code: '25P03' })).toBe('connection');
      // A read-only transaction refusing a write, as a standby does.
      expect(await kindOf(sql.begin('read only', (tx) => tx`INSERT INTO t VALUES (3, 3)`))).toBe(
        'connection',
      );
      // Nobody listening.
      const nobody = postgres(`postgresql://bluetill@127.0.0.1:${await freePort()}/errors`, {
        max: 1,
        connect_timeout: 2,
      });
      expect(await kindOf(nobody`SELECT 1`)).toBe('connection');
      await nobody.end();
      // Serialization failure: two SERIALIZABLE transactions that each read what the other writes.
      const a = await sql.reserve();
      const b = await sql.reserve();
      await a`BEGIN ISOLATION LEVEL SERIALIZABLE`;
      await b`BEGIN ISOLATION LEVEL SERIALIZABLE`;
      await a`SELECT sum(n) FROM t`;
      await b`SELECT sum(n) FROM t`;
      await a`INSERT INTO t VALUES (10, 1)`;
      await b`INSERT INTO t VALUES (11, 1)`;
      await a`COMMIT`;
      expect(await kindOf(b`COMMIT`)).toBe('serialization');
      a.release();
      b.release();
    } finally {
      await sql.end();
    }
  });

  it("a query past its bound is a lost connection: the driver's query_timeout and the server's statement_timeout", async () => {
    const url = await server.createDatabase('errors_timeouts');
    const driverBound = postgres(url, { max: 1, query_timeout: 0.3, onnotice: () => undefined });
    const serverBound = postgres(url, {
      max: 1,
      connection: { statement_timeout: 300 },
      onnotice: () => undefined,
    });
    try {
      const byDriver = await driverBound`SELECT pg_sleep(5)`.catch((e: unknown) => e);
      expect((byDriver as { code?: string }).code).toBe('QUERY_TIMEOUT');
      expect(postgresErrorKind(byDriver)).toBe('connection');
      const byServer = await serverBound`SELECT pg_sleep(5)`.catch((e: unknown) => e);
      expect((byServer as { code?: string }).code).toBe('57014');
      expect(postgresErrorKind(byServer)).toBe('connection');
    } finally {
      await driverBound.end();
      await serverBound.end();
    }
  });
});
