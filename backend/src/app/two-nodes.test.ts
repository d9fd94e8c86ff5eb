/**
 * The use cases over each store (SQLite, PostgreSQL), as two backend nodes run them: each node its
 * own store over the same data and its own use cases, real card cryptography (TestCard: DDA over the
 * UN, ARQC over the amount), the PIN sealed to the seeded PIN key. A till's sale authorized on one
 * node settles on the other; the same Settle sent to both nodes at once is stored once and both
 * answer with the same signed response; a temporary code keyed in at two tills on two nodes at once
 * pays once, in the same commit as its settlement.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  codePinContext,
  pinSealContext,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
  SettleResponse,
  type Item,
  type SettleRequest,
} from '@bluetill/protocol';
import type { BackendStore } from '../ports/backend-store';
import { TestCard } from '../test-support/test-card';
import { storeFactories, stopStoreServers, type OpenedStore } from '../test-support/store-factories';
import { AuthorizationUseCase } from './authorization-service';
import { SettlementUseCase } from './settlement-service';
import { ShopperUseCase } from './shopper-service';
import { CodeSettlementUseCase } from './code-settlement-service';

afterAll(stopStoreServers, 30_000);

const clock = { now: () => Date.now() };
const till = { kind: 'terminal', terminalId: 'T-0001' } as const;
const phone = { kind: 'shopper', peer: '192.0.2.7' } as const;
/** A response's signed content as bytes (the replay flag aside): equal bytes, equal answer. */
const signed = (r: SettleResponse) =>
  Buffer.from(SettleResponse.encode({ ...r, replayed: false }).finish()).toString('hex');

/** One backend node's use cases over its own store. */
function node(store: BackendStore, opened: OpenedStore) {
  const settlement = new SettlementUseCase(store, opened.keys, clock);
  return {
    settlement,
    authorization: new AuthorizationUseCase(store, opened.keys, clock, settlement),
    shopper: new ShopperUseCase(store, opened.keys, clock),
    codes: new CodeSettlementUseCase(store, opened.keys, clock),
  };
}

describe.each(storeFactories)('two backend nodes over one store: $name', (factory) => {
  let opened: OpenedStore;
  let peer: BackendStore;
  let a: ReturnType<typeof node>;
  let b: ReturnType<typeof node>;
  const card = (id: string) => TestCard.fromFile(join(opened.seed.cardsDir, `${id}.json`));
  const pinKeyOf = (certificate: Uint8Array) =>
    verifyCertificate(
      certificate,
      publicKeyFromRaw(Buffer.from(opened.seed.trust.cardCompanyRoot, 'base64')),
      {
        role: 'pin-key',
        now: Date.now(),
      },
    );
  const balanceOf = (account: string) => opened.store.read((tx) => tx.accountBalance(account));

  beforeAll(async () => {
    opened = await factory.open();
    peer = await opened.peer();
    a = node(opened.store, opened);
    b = node(peer, opened);
  }, 60_000);
  afterAll(async () => {
    await peer?.close();
    await opened?.close();
  });

  /** Challenge and Authorize on node `n`: the settle request a till would send next. */
  async function authorized(
    n: ReturnType<typeof node>,
    c: TestCard,
    pin: string,
    txn: string,
    minor: number,
  ) {
    const ch = await n.authorization.challenge({ terminalId: 'T-0001' }, till);
    const un = ch.unpredictableNumber;
    const pinKey = pinKeyOf(ch.pinKeyCertificate);
    const auth = await n.authorization.authorize(
      {
        terminalId: 'T-0001',
        unpredictableNumber: un,
        sealedPinBlock: sealPin({
          pin,
          pan: c.p.pan,
          pinKey: pinKey.publicKey,
          pinKeyId: pinKey.subjectId,
          context: pinSealContext(un, 'T-0001'),
        }),
        card: c.cardData(un),
      },
      till,
    );
    expect(auth).toMatchObject({ approved: true });
    const amount = { minor, currency: 'EUR' };
    const items: Item[] = [{ sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: minor }];
    const req: SettleRequest = {
      terminalId: 'T-0001',
      terminalTxnId: txn,
      merchantId: 'M-0001',
      authorizationRef: auth.authorizationRef,
      card: c.cardData(un),
      amount,
      items,
      cryptogram: c.arqc(amount, un),
    };
    return req;
  }

  it('authorizes on one node and settles on the other; a retry on the first replays the stored answer', async () => {
    const before = await balanceOf('acct-M-0001');
    const req = await authorized(a, card('card-alice'), '1234', 'n-1', 12_34);
    const settled = await b.settlement.settle(req, till);
    expect(settled).toMatchObject({ approved: true, replayed: false });
    const again = await a.settlement.settle(req, till);
    expect(again).toMatchObject({ approved: true, replayed: true });
    expect(signed(again)).toBe(signed(settled));
    expect(await balanceOf('acct-M-0001')).toBe(before + 12_34);
    expect(await opened.store.read((tx) => tx.ledgerSumsByCurrency())).toEqual({ EUR: 0 });
  });

  it('stores a Settle sent to both nodes at once once: both answer with the same signed receipt, the money moves once', async () => {
    const before = await balanceOf('acct-M-0001');
    const req = await authorized(a, card('card-bob'), '2580', 'n-2', 5_00);
    const [one, two] = await Promise.all([a.settlement.settle(req, till), b.settlement.settle(req, till)]);
    expect([one.replayed, two.replayed].sort()).toEqual([false, true]);
    expect(one).toMatchObject({ approved: true });
    expect(signed(one)).toBe(signed(two));
    expect(await balanceOf('acct-M-0001')).toBe(before + 5_00);
    expect(await opened.count('settlements')).toBe(2);
  });

  it('pays a temporary code once when two tills on two nodes key it in at once, in the same commit as its settlement', async () => {
    const c = card('card-chen');
    const ch = await a.shopper.challenge(phone);
    const un = ch.unpredictableNumber;
    const pinKey = pinKeyOf(ch.pinKeyCertificate);
    const issued = await b.shopper.issueCode(
      {
        unpredictableNumber: un,
        card: c.cardData(un),
        sealedPinBlock: sealPin({
          pin: '9876',
          pan: c.p.pan,
          pinKey: pinKey.publicKey,
          pinKeyId: pinKey.subjectId,
          context: codePinContext(un),
        }),
        amountLimit: { minor: 20_00, currency: 'EUR' },
      },
      phone,
    );
    expect(issued).toMatchObject({ approved: true });
    const before = await balanceOf('acct-M-0001');
    const keyedIn = (n: ReturnType<typeof node>, txn: string) =>
      n.codes.settleWithCode(
        {
          terminalId: 'T-0001',
          terminalTxnId: txn,
          merchantId: 'M-0001',
          code: issued.code,
          amount: { minor: 7_50, currency: 'EUR' },
          items: [{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 7_50 }],
        },
        till,
      );
    const results = await Promise.all([keyedIn(a, 'code-a'), keyedIn(b, 'code-b')]);
    expect(results.map((r) => r.approved).sort()).toEqual([false, true]);
    expect(results.find((r) => !r.approved)).toMatchObject({ declineReason: 'code_used' });
    expect(await balanceOf('acct-M-0001')).toBe(before + 7_50);
    const won = results[0]!.approved ? 'code-a' : 'code-b';
    const settlement = (await opened.store.read((tx) => tx.findSettlement('T-0001', won)))!;
    const used = await opened.select<{ settlement_id: number | bigint; used_at: number | bigint | null }>(
      'SELECT settlement_id, used_at FROM temporary_codes',
    );
    expect(used.map((u) => Number(u.settlement_id))).toEqual([settlement.id]);
    expect(await opened.store.read((tx) => tx.ledgerSumsByCurrency())).toEqual({ EUR: 0 });
  });
});
