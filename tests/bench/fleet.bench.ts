/**
 * The fleet over real BLE stacks: n phones (noble, each on its own virtual controller) paying at
 * one till (bleno) at a 30 ms connection interval, all at once. Connect-to-receipt latency is
 * measured from the start of the connection (after the scan found the till) to the verified
 * receipt; payments/s over the whole wave.
 */
import { startWorld, VirtualBle } from '@bluetill/simulator';
import { fleetCards } from '@bluetill/backend';
import { percentile, report } from './report';

export async function benchFleet(sizes: readonly number[]): Promise<void> {
  const max = Math.max(...sizes);
  const ble = await VirtualBle.start({ phoneShaping: { connectionIntervalMs: 30 } });
  const world = await startWorld({ radio: ble, fleetCards: max, limits: { sessionTimeoutMs: 300_000 } });
  const cards = fleetCards(max);
  let roundTrips = 0;
  try {
    for (const n of sizes) {
      for (let i = 0; i < n; i++) world.ringUp([{ sku: `gum-${i}`, name: 'Gum', quantity: 1, unitPriceMinor: 50 + i }]);
      const t0 = performance.now();
      const runs = await Promise.all(cards.slice(0, n).map((c) => world.phonePays(c.id, c.pin)));
      const seconds = (performance.now() - t0) / 1000;
      const ok = runs.filter((r) => r.outcome.kind === 'approved');
      if (ok.length !== n) throw new Error(`fleet ${n}: only ${ok.length} approved: ${JSON.stringify(runs.find((r) => r.outcome.kind !== 'approved')?.outcome)}`);
      const connectToReceipt = runs.map((r) => r.connectToReceiptMs ?? r.ms).sort((a, b) => a - b);
      report({ bench: `fleet_${n}_payments_per_s`, value: n / seconds, unit: 'payments/s', phones: n, interval_ms: 30 });
      report({ bench: `fleet_${n}_p50_ms`, value: percentile(connectToReceipt, 50), unit: 'ms' });
      report({ bench: `fleet_${n}_p99_ms`, value: percentile(connectToReceipt, 99), unit: 'ms' });
      roundTrips = Math.max(roundTrips, ...runs.map((r) => r.roundTrips ?? 0));
    }
    report({ bench: 'ble_round_trips_per_payment', value: roundTrips, unit: 'round trips', note: 'phone-to-till requests after connecting (Hello, CardAuth, Payment)' });
  } finally {
    await world.close();
    await ble.close();
  }
}
