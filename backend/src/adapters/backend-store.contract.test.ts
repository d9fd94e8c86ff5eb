/**
 * The store port's contract, through the port only (commit/read and the StoreTx queries), run
 * for every store in `stores` (SQLite on a file; PostgreSQL 15 on a throwaway server, one
 * database per factory open, migrated): a transaction's writes commit together or not at all and
 * a throw undoes only its own; a request id is answered exactly once (replayOf) even when several
 * arrive at once; concurrent commits on one card neither lose an update nor move its ATC back; a
 * challenge and a temporary code are used once, however many take them at once; postings that do
 * not sum to zero per currency are refused (on PostgreSQL by the database itself, at COMMIT); the
 * ledger sums to zero per currency. Demo registry: merchant M-0001, terminal T-0001, card-alice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../admin/demo-seed';
import { MasterKey } from './master-key';
import { SqliteBackendStore } from './sqlite/backend-store.sqlite';
import { PostgresBackendStore } from './postgres/backend-store.postgres';
import { startPostgresServer, type PostgresServer } from '../test-support/postgres-server';
import { copyRegistryToPostgres } from '../test-support/postgres-registry';
import type { BackendStore, SettlementRow, StoreTx } from '../ports/backend-store';
import { salePostings } from '../domain/ledger';
import { replayOf } from '../app/exactly-once';
import { RequestError } from '../app/request-error';

interface StoreFactory {
  readonly name: string;
  /** A fresh store over the demo registry (merchant M-0001, terminal T-0001, card-alice); close() drops it. */
  open(): Promise<{ store: BackendStore; close(): Promise<void> }>;
  /** Asserts who refused an unbalanced ledger transaction (the adapter, or the database). */
  expectUnbalancedRefusal(err: unknown): void;
}

/** The demo registry (the SQLite file seedDemo writes), in a folder of its own. */
async function demoSeed(): Promise<{ dbPath: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-store-contract-'));
  const seed = await seedDemo(dir, [], [], { masterKey: MasterKey.generate() });
  return { dbPath: seed.dbPath, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let postgresServer: PostgresServer | undefined;
let postgresDatabases = 0;
afterAll(async () => postgresServer?.stop(), 30_000);

const stores: StoreFactory[] = [
  {
    name: 'sqlite',
    async open() {
      const seed = await demoSeed();
      const store = new SqliteBackendStore(seed.dbPath);
      return {
        store,
        close: async () => {
          store.close();
          seed.remove();
        },
      };
    },
    expectUnbalancedRefusal: (err) => expect(err).toMatchObject({ message: /unbalanced/ }),
  },
  {
    name: 'postgres',
    async open() {
      postgresServer ??= await startPostgresServer();
      const seed = await demoSeed();
      const url = await postgresServer.createDatabase(`contract_${++postgresDatabases}`);
      const store = await PostgresBackendStore.open(url);
      await copyRegistryToPostgres(seed.dbPath, store.sql);
      seed.remove();
      return { store, close: () => store.close() };
    },
    // The adapter checks nothing itself: the refusal is the database's deferred constraint at COMMIT.
    expectUnbalancedRefusal: (err) =>
      expect(err).toMatchObject({
        code: 'unbalanced',
        message: /unbalanced/,
        cause: { code: '23514', constraint_name: 'postings_balanced' },
      }),
  },
];

const NOW = Date.UTC(2026, 11, 7, 12);
const hashOf = (b: number) => new Uint8Array(32).fill(b);

describe.each(stores)('BackendStore contract: $name', (factory) => {
  let store: BackendStore;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ store, close } = await factory.open());
  }, 60_000);
  afterAll(async () => close());

  /** A sale of `minor` by card-alice at T-0001 under txn id `txn`, answered exactly once (the stored response is the txn id's bytes). */
  const sale =
    (txn: string, minor: number, hash = hashOf(1)) =>
    async (tx: StoreTx) => {
      const replay = replayOf(
        await tx.findSettlement('T-0001', txn),
        hash,
        (b) => ({ text: Buffer.from(b).toString() }),
        'terminal transaction id',
      );
      if (replay) return replay;
      const card = (await tx.findCardById('card-alice'))!;
      const merchant = (await tx.findMerchant('M-0001'))!;
      const batchId = (await tx.openBatch('T-0001', NOW)).id;
      const row: SettlementRow = {
        terminalId: 'T-0001',
        terminalTxnId: txn,
        requestHash: hash,
        approved: true,
        declineReason: null,
        amountMinor: minor,
        currency: 'EUR',
        cardId: card.id,
        merchantId: merchant.id,
        response: new Uint8Array(Buffer.from(txn)),
        createdAt: NOW,
        batchId,
      };
      const id = await tx.insertSettlement(row);
      await tx.insertPostings(
        id,
        salePostings({ minor, currency: 'EUR' }, card.accountId, merchant.accountId),
        NOW,
        { batchId, adjustmentId: null },
      );
      return { text: txn, replayed: false };
    };
  const balance = () => store.read((tx) => tx.accountBalance('acct-M-0001'));

  it('commits each transaction of a batch alone: a throw undoes only its own writes, the others are durable', async () => {
    const before = await balance();
    const outcomes = await Promise.allSettled([
      store.commit(sale('c-1', 100)),
      store.commit(async (tx) => {
        await sale('c-2', 200)(tx);
        throw new Error('a rule refused it after writing');
      }),
      store.commit(sale('c-3', 300)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.read((tx) => tx.findSettlement('T-0001', 'c-2'))).toBeUndefined();
    expect(await balance()).toBe(before + 400);
    expect(await store.read((tx) => tx.ledgerSumsByCurrency())).toEqual({ EUR: 0 });
  });

  it('answers a request id once: the same request from several callers at once is stored once, every other caller gets the stored answer; another request under it is ALREADY_EXISTS', async () => {
    const before = await balance();
    const answers = await Promise.all(Array.from({ length: 6 }, () => store.commit(sale('x-1', 500))));
    expect(answers.filter((a) => !a.replayed)).toEqual([{ text: 'x-1', replayed: false }]);
    expect(answers.filter((a) => a.replayed)).toEqual(Array(5).fill({ text: 'x-1', replayed: true }));
    const other = store.commit(sale('x-1', 999, hashOf(2)));
    await expect(other).rejects.toBeInstanceOf(RequestError);
    await expect(other).rejects.toMatchObject({ code: 'already_exists' });
    expect(await balance()).toBe(before + 500);
    expect(await store.read((tx) => tx.listTransactions('T-0001', NOW, NOW + 1, 100))).toEqual(
      expect.arrayContaining([expect.objectContaining({ terminalTxnId: 'x-1', amountMinor: 500 })]),
    );
    const rows = await store.read((tx) => tx.listTransactions('T-0001', NOW, NOW + 1, 100));
    expect(rows.filter((r) => r.terminalTxnId === 'x-1')).toHaveLength(1);
  });

  it('serializes commits on one card: no update is lost, and its ATC only moves forward whatever order they run in', async () => {
    const start = (await store.read((tx) => tx.findCardById('card-alice')))!;
    const atcs = [7, 3, 12, 9, 12, 1, 11, 5];
    const outcomes = await Promise.all(
      atcs.map((atc) =>
        store.commit(async (tx) => {
          const card = (await tx.findCardById('card-alice'))!;
          // A read-modify-write of the card's state: without the card's lock two of these would
          // read the same count and one increment would be lost.
          await tx.setPinTries(card.id, card.pinTries + 1);
          if (atc <= card.lastAtc) return 'replayed_atc';
          await tx.setLastAtc(card.id, atc);
          return 'advanced';
        }),
      ),
    );
    const after = (await store.read((tx) => tx.findCardById('card-alice')))!;
    expect(after.pinTries).toBe(start.pinTries + atcs.length);
    expect(after.lastAtc).toBe(Math.max(start.lastAtc, ...atcs));
    // The second 12 always finds the first one's ATC, whichever ran first.
    expect(outcomes.filter((o) => o === 'replayed_atc').length).toBeGreaterThanOrEqual(1);
    await store.commit((tx) => tx.setPinTries('card-alice', start.pinTries));
  });

  it('refuses postings that do not sum to zero in each currency, and keeps nothing of that transaction', async () => {
    const before = await store.read(async (tx) => ({
      sum: await tx.ledgerSum(),
      settlement: await tx.findSettlement('T-0001', 'u-1'),
    }));
    const refused = await store
      .commit(async (tx) => {
        const batchId = (await tx.openBatch('T-0001', NOW)).id;
        const id = await tx.insertSettlement({
          terminalId: 'T-0001',
          terminalTxnId: 'u-1',
          requestHash: hashOf(3),
          approved: true,
          declineReason: null,
          amountMinor: 1,
          currency: 'EUR',
          cardId: 'card-alice',
          merchantId: 'M-0001',
          response: new Uint8Array(),
          createdAt: NOW,
          batchId,
        });
        await tx.insertPostings(id, [{ accountId: 'acct-M-0001', amountMinor: 1, currency: 'EUR' }], NOW, {
          batchId,
          adjustmentId: null,
        });
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    factory.expectUnbalancedRefusal(refused);
    expect(before.settlement).toBeUndefined();
    expect(await store.read((tx) => tx.findSettlement('T-0001', 'u-1'))).toBeUndefined();
    expect(await store.read((tx) => tx.ledgerSum())).toBe(before.sum);
  });

  it('uses a challenge once: of several takers at once one gets ok, the others used; unknown and expired ones are told apart and never used', async () => {
    expect(await store.commit((tx) => tx.insertChallenge('0a0b0c0d', 'T-0001', NOW + 60_000))).toBe(true);
    expect(await store.commit((tx) => tx.insertChallenge('0a0b0c0d', 'T-0001', NOW + 60_000))).toBe(false);
    const states = await Promise.all(
      Array.from({ length: 6 }, () => store.commit((tx) => tx.takeChallenge('0a0b0c0d', 'T-0001', NOW))),
    );
    expect(states.sort()).toEqual(['ok', 'used', 'used', 'used', 'used', 'used']);
    expect(await store.commit((tx) => tx.takeChallenge('ffffffff', 'T-0001', NOW))).toBe('unknown');
    await store.commit((tx) => tx.insertChallenge('01020304', 'T-0001', NOW - 1));
    expect(await store.commit((tx) => tx.takeChallenge('01020304', 'T-0001', NOW))).toBe('expired');
    expect(await store.commit((tx) => tx.takeChallenge('01020304', 'T-0001', NOW - 10))).toBe('ok');
  });

  it("uses a phone's challenge once: peek changes nothing, of several takers at once one gets ok", async () => {
    expect(await store.commit((tx) => tx.insertShopperChallenge('a1b2c3d4', NOW + 60_000))).toBe(true);
    expect(await store.commit((tx) => tx.insertShopperChallenge('a1b2c3d4', NOW + 60_000))).toBe(false);
    expect(await store.read((tx) => tx.peekShopperChallenge('a1b2c3d4', NOW))).toBe('ok');
    expect(await store.read((tx) => tx.peekShopperChallenge('a1b2c3d4', NOW + 60_001))).toBe('expired');
    const states = await Promise.all(
      Array.from({ length: 5 }, () => store.commit((tx) => tx.takeShopperChallenge('a1b2c3d4', NOW))),
    );
    expect(states.sort()).toEqual(['ok', 'used', 'used', 'used', 'used']);
    expect(await store.read((tx) => tx.peekShopperChallenge('a1b2c3d4', NOW))).toBe('used');
    expect(await store.read((tx) => tx.peekShopperChallenge('99999999', NOW))).toBe('unknown');
  });

  it('uses a temporary code once, in the same commit as the sale that consumed it: of several tills keying it in at once one settles', async () => {
    const before = await balance();
    const codeId = await store.commit((tx) =>
      tx.insertCode({
        codeHash: 'code-hash-1',
        cardId: 'card-alice',
        limitMinor: 50_00,
        currency: 'EUR',
        createdAt: NOW,
        expiresAt: NOW + 300_000,
      }),
    );
    const redeem = (txn: string) => async (tx: StoreTx) => {
      const [code] = await tx.findCodes('code-hash-1');
      if (!code || code.usedAt !== null) return 'used';
      await sale(txn, 1_00)(tx);
      const settlement = (await tx.findSettlement('T-0001', txn))!;
      await tx.markCodeUsed(code.id, settlement.id!, NOW);
      return 'settled';
    };
    const outcomes = await Promise.all(['k-1', 'k-2', 'k-3', 'k-4'].map((t) => store.commit(redeem(t))));
    expect(outcomes.sort()).toEqual(['settled', 'used', 'used', 'used']);
    expect(await balance()).toBe(before + 1_00);
    const [code] = await store.read((tx) => tx.findCodes('code-hash-1'));
    expect(code).toMatchObject({ id: codeId, usedAt: NOW, cardId: 'card-alice', limitMinor: 50_00 });
    const settled = await store.read(async (tx) =>
      (await Promise.all(['k-1', 'k-2', 'k-3', 'k-4'].map((t) => tx.findSettlement('T-0001', t)))).filter(Boolean),
    );
    expect(settled).toHaveLength(1);
    // Marking it used again is refused, and that transaction's own writes go with it.
    await expect(
      store.commit(async (tx) => {
        await tx.recordWrongCode('M-0001', 'T-0001', NOW);
        await tx.markCodeUsed(codeId, settled[0]!.id!, NOW + 1);
      }),
    ).rejects.toThrow(/already used/);
    expect(await store.read((tx) => tx.countWrongCodes('M-0001', 'T-0001', NOW))).toEqual({
      merchant: 0,
      terminal: 0,
    });
  });

  it('keeps the ledger at zero per currency after everything above', async () => {
    expect(await store.read((tx) => tx.ledgerSumsByCurrency())).toEqual({ EUR: 0 });
    expect(await store.read((tx) => tx.ledgerSum())).toBe(0);
  });
});
