/**
 * `make bench`: every benchmark, one JSON line per figure. Figures, not pass/fail: they are read.
 * BENCH_QUICK=1 runs smaller sizes.
 */
import { benchE2e } from './e2e.bench';
import { benchFleet } from './fleet.bench';
import { benchBackend } from './backend.bench';

const quick = process.env.BENCH_QUICK === '1';

async function main(): Promise<void> {
  await benchE2e({ payments: quick ? 60 : 600, concurrency: 10 });
  await benchBackend({ calls: quick ? 200 : 1500 });
  await benchFleet(quick ? [1, 10] : [1, 10, 50, 100], { compareAt: quick ? 10 : 50 });
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
