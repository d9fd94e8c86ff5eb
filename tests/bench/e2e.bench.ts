/**
 * End-to-end payments through the whole stack in one process (in-memory BLE link, real gRPC on
 * loopback, real SQLite with synchronous=FULL): payments per second and latency percentiles,
 * from connect to verified receipt.
 */
import { startWorld } from '@bluetill/simulator';
import { fleetCards } from '@bluetill/backend';
import { percentile, report } from './report';

export async function benchE2e(o: { payments: number; concurrency: number }): Promise<void> {
  // One card per lane: a card is in one phone at a time. The till's guard against Hello floods
  // (100 a second after a burst of 200, far above a counter's rate) would cap this throughput
  // bench, which measures the pipeline behind it: raised here (the flood test keeps the default).
  const world = await startWorld({
    fleetCards: o.concurrency,
    limits: { helloBurst: 1_000_000, hellosPerSecond: 1_000_000 },
  });
  const shoppers = fleetCards(o.concurrency).map((c) => ({ card: c.id, pin: c.pin }));
  try {
    // warm-up: JIT, gRPC channel, SQLite caches
    for (let i = 0; i < 10; i++) {
      world.ringUp([{ sku: 'gum', name: 'Gum', quantity: 1, unitPriceMinor: 50 }]);
      await world.phonePays(shoppers[0]!.card, shoppers[0]!.pin);
    }
    const latencies: number[] = [];
    let next = 0;
    let approved = 0;
    const failures: unknown[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: o.concurrency }, async (_, lane) => {
        while (next < o.payments) {
          next++;
          const s = shoppers[lane % shoppers.length]!;
          world.ringUp([{ sku: 'gum', name: 'Gum', quantity: 1, unitPriceMinor: 50 }]);
          const run = await world.phonePays(s.card, s.pin);
          if (run.outcome.kind === 'approved') approved++;
          else failures.push(run.outcome);
          latencies.push(run.ms);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    if (approved !== o.payments)
      throw new Error(
        `only ${approved} of ${o.payments} payments approved: ${JSON.stringify(failures.slice(0, 3))}`,
      );
    report({
      bench: 'e2e_payments_per_s',
      value: approved / seconds,
      unit: 'payments/s',
      payments: approved,
      concurrency: o.concurrency,
      link: 'in-memory',
      card_profile: 'instant',
    });
    report({ bench: 'e2e_p50_ms', value: percentile(latencies, 50), unit: 'ms', card_profile: 'instant' });
    report({ bench: 'e2e_p99_ms', value: percentile(latencies, 99), unit: 'ms', card_profile: 'instant' });
  } finally {
    await world.close();
  }
}
