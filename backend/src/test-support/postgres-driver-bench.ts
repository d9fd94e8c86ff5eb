/**
 * Compares the two Node PostgreSQL drivers on this machine against a throwaway server
 * (postgres-server.ts): round trip of a trivial query, a small read-modify-write transaction
 * (SELECT … FOR UPDATE, UPDATE, INSERT) from 64 concurrent callers, the Node process's CPU per
 * call, and how each takes a multi-host URL with target_session_attrs and a server that goes away.
 *
 *   npx tsx backend/src/test-support/postgres-driver-bench.ts
 *
 * Prints one JSON line per driver and measurement.
 */
import pg from 'pg';
import postgres from 'postgres';
import { startPostgresServer } from './postgres-server';

const ROUND_TRIPS = Number(process.env.ROUND_TRIPS ?? 3000);
const TXNS = Number(process.env.TXNS ?? 6000);
const CONCURRENCY = 64;
const POOL = 20;
const CARDS = 1000;

interface Driver {
  name: string;
  trivial(): Promise<void>;
  rmw(card: number, amount: number): Promise<void>;
  end(): Promise<void>;
}

function pgDriver(url: string): Driver {
  const pool = new pg.Pool({ connectionString: url, max: POOL });
  return {
    name: 'pg',
    async trivial() {
      await pool.query('SELECT 1');
    },
    async rmw(card, amount) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const r = await c.query<{ balance: string }>(
          'SELECT balance FROM bench_cards WHERE id = $1 FOR UPDATE',
          [card],
        );
        const balance = BigInt(r.rows[0]!.balance) - BigInt(amount);
        await c.query('UPDATE bench_cards SET balance = $2 WHERE id = $1', [card, balance.toString()]);
        await c.query('INSERT INTO bench_postings (card_id, amount) VALUES ($1, $2)', [card, -amount]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    },
    end: () => pool.end(),
  };
}

function porsagerDriver(url: string): Driver {
  const sql = postgres(url, { max: POOL, onnotice: () => undefined, types: { bigint: postgres.BigInt } });
  return {
    name: 'postgres',
    async trivial() {
      await sql`SELECT 1`;
    },
    async rmw(card, amount) {
      await sql.begin(async (tx) => {
        const [row] = await tx<
          { balance: bigint }[]
        >`SELECT balance FROM bench_cards WHERE id = ${card} FOR UPDATE`;
        const balance = row!.balance - BigInt(amount);
        await tx`UPDATE bench_cards SET balance = ${balance} WHERE id = ${card}`;
        await tx`INSERT INTO bench_postings (card_id, amount) VALUES (${card}, ${-amount})`;
      });
    },
    end: () => sql.end({ timeout: 5 }),
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function measure(driver: Driver): Promise<void> {
  for (let i = 0; i < 200; i++) await driver.trivial(); // warm-up
  let lat: number[] = [];
  let cpu = process.cpuUsage();
  let t0 = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const s = performance.now();
    await driver.trivial();
    lat.push(performance.now() - s);
  }
  let wall = performance.now() - t0;
  let used = process.cpuUsage(cpu);
  lat.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ driver: driver.name, bench: 'trivial_query', calls: ROUND_TRIPS, p50_us: Math.round(quantile(lat, 0.5) * 1000), p99_us: Math.round(quantile(lat, 0.99) * 1000), cpu_us_per_call: Math.round((used.user + used.system) / ROUND_TRIPS), wall_ms: Math.round(wall) })}\n`,
  );

  for (let i = 0; i < 200; i++) await driver.rmw(1 + (i % CARDS), 1);
  lat = [];
  let next = 0;
  cpu = process.cpuUsage();
  t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      let x = w * 7919 + 1;
      while (next < TXNS) {
        next++;
        x = (x * 48271) % 2147483647;
        const s = performance.now();
        await driver.rmw(1 + (x % CARDS), 1 + (x % 500));
        lat.push(performance.now() - s);
      }
    }),
  );
  wall = performance.now() - t0;
  used = process.cpuUsage(cpu);
  lat.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ driver: driver.name, bench: 'rmw_for_update_c64', txns: lat.length, pool: POOL, tps: Math.round(lat.length / (wall / 1000)), p50_ms: +quantile(lat, 0.5).toFixed(2), p99_ms: +quantile(lat, 0.99).toFixed(2), cpu_us_per_txn: Math.round((used.user + used.system) / lat.length) })}\n`,
  );
}

/** Multi-host URL whose first host refuses connections, and the error a dropped connection gives. */
async function behaviour(url: string, port: number, stopServer: () => Promise<void>): Promise<void> {
  const dead = `postgresql://bluetill@127.0.0.1:1,127.0.0.1:${port}/postgres?target_session_attrs=read-write`;
  for (const name of ['pg', 'postgres'] as const) {
    let multiHost: string;
    try {
      if (name === 'pg') {
        const c = new pg.Client({ connectionString: dead });
        await c.connect();
        await c.query('SELECT 1');
        await c.end();
      } else {
        const sql = postgres(dead, { max: 1, onnotice: () => undefined });
        await sql`SELECT 1`;
        await sql.end();
      }
      multiHost = 'ok';
    } catch (err) {
      multiHost = `fails: ${(err as Error & { code?: string }).code ?? ''} ${(err as Error).message}`;
    }
    process.stdout.write(`${JSON.stringify({ driver: name, bench: 'multi_host_url', result: multiHost })}\n`);
  }
  // A connection the server drops (pg_terminate_backend): the error each driver surfaces.
  const pgClient = new pg.Client({ connectionString: url });
  pgClient.on('error', () => undefined);
  await pgClient.connect();
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  await sql`SELECT 1`;
  const killer = postgres(url, { max: 1, onnotice: () => undefined });
  await killer`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'`;
  await killer.end();
  for (const [name, q] of [
    ['pg', () => pgClient.query('SELECT 1')],
    ['postgres', () => sql`SELECT 1`],
  ] as const) {
    try {
      await q();
      process.stdout.write(
        `${JSON.stringify({ driver: name, bench: 'terminated_connection', result: 'no error (reconnected)' })}\n`,
      );
    } catch (err) {
      const e = err as Error & { code?: string };
      process.stdout.write(
        `${JSON.stringify({ driver: name, bench: 'terminated_connection', errorClass: e.constructor.name, code: e.code ?? null, message: e.message })}\n`,
      );
    }
  }
  await stopServer();
  try {
    await sql`SELECT 1`;
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stdout.write(
      `${JSON.stringify({ driver: 'postgres', bench: 'server_gone', errorClass: e.constructor.name, code: e.code ?? null, message: e.message })}\n`,
    );
  }
  try {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
  } catch (err) {
    const e = err as Error & { code?: string };
    process.stdout.write(
      `${JSON.stringify({ driver: 'pg', bench: 'server_gone', errorClass: e.constructor.name, code: e.code ?? null, message: e.message })}\n`,
    );
  }
  await sql.end({ timeout: 1 }).catch(() => undefined);
  await pgClient.end().catch(() => undefined);
}

const server = await startPostgresServer();
try {
  const url = await server.createDatabase('bench');
  const setup = postgres(url, { max: 1, onnotice: () => undefined });
  await setup`CREATE TABLE bench_cards (id int PRIMARY KEY, balance bigint NOT NULL)`;
  await setup`CREATE TABLE bench_postings (id bigserial PRIMARY KEY, card_id int NOT NULL, amount bigint NOT NULL)`;
  await setup`INSERT INTO bench_cards SELECT g, 0 FROM generate_series(1, ${CARDS}) g`;
  await setup.end();
  const order = process.env.ORDER === 'pg-first' ? [pgDriver, porsagerDriver] : [porsagerDriver, pgDriver];
  for (const make of order) {
    const d = make(url);
    await measure(d);
    await d.end();
  }
  await behaviour(url, server.port, () => server.stop());
} finally {
  await server.stop();
}
