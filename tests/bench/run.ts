/**
 * `make bench`: every benchmark, one JSON line per figure. Figures, not pass/fail: they are read.
 * BENCH_QUICK=1 runs smaller sizes. BENCH_ONLY=open-loop runs only the open-loop fleet (about 2
 * minutes: 10 s of arrivals at each of 1, 5, 10 and 20 per second, then the max-rate search);
 * BENCH_ONLY=postgres runs only the backend's PostgreSQL figures (one node in process against the
 * same run's SQLite, then node processes: two against one, CPU per process); BENCH_ONLY=pg-nodes
 * only the node processes.
 */
import { benchE2e } from './e2e.bench';
import { benchFleet, benchOpenLoop } from './fleet.bench';
import { benchBackend } from './backend.bench';
import { benchBackendNodes } from './backend-nodes.bench';
import { startPostgresServer } from '../../backend/src/test-support/postgres-server';

const quick = process.env.BENCH_QUICK === '1';

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY === 'open-loop')
    return benchOpenLoop(quick ? { rates: [1, 5], seconds: 3 } : {});
  const only = process.env.BENCH_ONLY;
  if (only === 'pg-nodes') {
    const pg = await startPostgresServer({ durable: true });
    try {
      return await benchBackendNodes({
        calls: quick ? 200 : 1000,
        rounds: quick ? 1 : 3,
        url: await pg.createDatabase('bench_nodes'),
      });
    } finally {
      await pg.stop();
    }
  }
  if (only !== 'postgres') await benchE2e({ payments: quick ? 60 : 600, concurrency: 10 });
  const calls = quick ? 200 : 1500;
  const warmUpCalls = quick ? 1000 : undefined;
  const sqlite = await benchBackend({ calls, ...(warmUpCalls ? { warmUpCalls } : {}) });
  // The same calls over the PostgreSQL store (a durable server on this machine), against SQLite's.
  const pg = await startPostgresServer({ durable: true });
  try {
    await benchBackend({
      calls,
      ...(warmUpCalls ? { warmUpCalls } : {}),
      postgres: { url: await pg.createDatabase('bench'), sqlite },
    });
    // Backend nodes as processes over the same server: two nodes against one, CPU per process.
    await benchBackendNodes({
      calls: quick ? 200 : 1000,
      rounds: quick ? 1 : 3,
      url: await pg.createDatabase('bench_nodes'),
    });
  } finally {
    await pg.stop();
  }
  if (only === 'postgres') return;
  await benchFleet(quick ? [1, 10] : [1, 10, 50, 100], { compareAt: quick ? 10 : 50 });
  await benchOpenLoop(quick ? { rates: [1, 5], seconds: 3 } : {});
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
