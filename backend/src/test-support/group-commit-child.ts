/**
 * Child process of the group-commit crash test (group-committer.test.ts), run as
 * `node --import tsx group-commit-child.ts DB FIRST_BATCH SIZE`. Forever: queue SIZE settlements
 * (each with its two balanced postings) in one turn of the event loop, so they form one batch;
 * each takes ~2 ms inside the open transaction, so a SIGKILL usually lands mid-batch. Prints
 * `begin B` (synchronously, from the batch's first transaction) and, once every promise of the
 * batch has resolved, `done B` — the test's stand-in for responses sent to tills.
 */
import { writeSync } from 'node:fs';
import { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';
import { salePostings } from '../domain/ledger';

const [dbPath, first, size] = process.argv.slice(2);
const store = new SqliteBackendStore(dbPath!, { groupCommit: { maxBatch: Number(size) } });

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

async function main(): Promise<void> {
  const { card, merchant } = await store.read(async (tx) => ({
    card: (await tx.findCardById('card-alice'))!,
    merchant: (await tx.findMerchant('M-0001'))!,
  }));
  for (let b = Number(first); ; b++) {
    const batch = Array.from({ length: Number(size) }, (_, i) =>
      store.commit(async (tx) => {
        if (i === 0) writeSync(1, `begin ${b}\n`);
        const now = Date.now();
        const batchId = (await tx.openBatch('T-0001', now)).id;
        const id = await tx.insertSettlement({
          terminalId: 'T-0001',
          terminalTxnId: `crash-${b}-${i}`,
          requestHash: new Uint8Array(32),
          approved: true,
          declineReason: null,
          amountMinor: 1,
          currency: 'EUR',
          cardId: card.id,
          merchantId: merchant.id,
          response: new Uint8Array(8),
          createdAt: now,
          batchId,
        });
        busy(2);
        await tx.insertPostings(
          id,
          salePostings({ minor: 1, currency: 'EUR' }, card.accountId, merchant.accountId),
          now,
          { batchId, adjustmentId: null },
        );
      }),
    );
    await Promise.all(batch);
    writeSync(1, `done ${b}\n`);
  }
}

void main();
