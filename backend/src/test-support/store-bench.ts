/**
 * The store port under load, on each store: sales (find the settlement, lock the card, open the
 * batch, insert the settlement and its two postings) committed through `commit()` by many
 * concurrent callers spread over the demo cards, then the same number of sales all on one card
 * (every commit waits for the card's lock). Prints one JSON line per store and shape.
 *
 *   npx tsx backend/src/test-support/store-bench.ts
 *
 * The PostgreSQL server is a throwaway test server (fsync off): this measures the store's own
 * path (round trips, locks, reruns), not the disk. SQLite runs with synchronous=FULL.
 */
import type { StoreTx } from '../ports/backend-store';
import { salePostings } from '../domain/ledger';
import { storeFactories, stopStoreServers } from './store-factories';

const SALES = Number(process.env.SALES ?? 2000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const CARDS = ['card-alice', 'card-bob', 'card-chen', 'card-dana', 'card-finn'];
const NOW = Date.now();

const sale = (txn: string, cardId: string) => async (tx: StoreTx) => {
  if (await tx.findSettlement('T-0001', txn)) return;
  const card = (await tx.findCardById(cardId))!;
  const batchId = (await tx.openBatch('T-0001', NOW)).id;
  const id = await tx.insertSettlement({
    terminalId: 'T-0001',
    terminalTxnId: txn,
    requestHash: new Uint8Array(32),
    approved: true,
    declineReason: null,
    amountMinor: 1,
    currency: 'EUR',
    cardId,
    merchantId: 'M-0001',
    response: new Uint8Array(64),
    createdAt: NOW,
    batchId,
  });
  await tx.insertPostings(
    id,
    salePostings({ minor: 1, currency: 'EUR' }, card.accountId, 'acct-M-0001'),
    NOW,
    {
      batchId,
      adjustmentId: null,
    },
  );
};

for (const factory of storeFactories) {
  const opened = await factory.open();
  for (const shape of ['spread', 'one_card'] as const) {
    let next = 0;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < SALES) {
          const n = next++;
          const t0 = performance.now();
          await opened.store.commit(
            sale(`${shape}-${n}`, shape === 'spread' ? CARDS[n % CARDS.length]! : 'card-alice'),
          );
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((x, y) => x - y);
    const at = (q: number) => Math.round(latencies[Math.floor(q * (latencies.length - 1))]! * 10) / 10;
    console.log(
      JSON.stringify({
        bench: 'store_commit',
        store: factory.name,
        shape,
        sales: SALES,
        concurrency: CONCURRENCY,
        commitsPerSecond: Math.round(SALES / seconds),
        p50ms: at(0.5),
        p99ms: at(0.99),
        ledgerSum: await opened.store.read((tx) => tx.ledgerSum()),
        ...('commitStats' in opened.store ? { stats: opened.store.commitStats } : {}),
      }),
    );
  }
  await opened.close();
}
await stopStoreServers();
