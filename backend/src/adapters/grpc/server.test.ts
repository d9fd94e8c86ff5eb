import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { SettleRequest } from '@bluetill/protocol';
import { startBackendFixture, type BackendFixture } from '../../test-support/backend-fixture';
import { DEMO_CARDS } from '../../admin/demo-seed';

const card = (id: string) => DEMO_CARDS.find((c) => c.id === id)!;
let f: BackendFixture;
beforeAll(async () => {
  f = await startBackendFixture();
});
afterAll(() => f.close());

const items = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
function settleReq(c: { pan: string; expiry: string }, ref: string, txn: string, over: Partial<SettleRequest> = {}): SettleRequest {
  return {
    terminalId: 'T-0001', terminalTxnId: txn, merchantId: 'M-0001', authorizationRef: ref,
    card: { pan: c.pan, expiry: c.expiry, cardholderName: 'X', panSequence: 1, records: new Uint8Array(), signedDynamicData: new Uint8Array() },
    amount: { minor: 700, currency: 'EUR' }, items,
    cryptogram: { arqc: new Uint8Array(8), atc: Number(txn.replace(/\D/g, '')) || 1, cdolData: new Uint8Array(), iad: new Uint8Array(), cvmResults: new Uint8Array(), cid: 0x80 },
    ...over,
  };
}

describe('authorization server', () => {
  it('authorizes a known card with the right PIN', async () => {
    const { res } = await f.authorizeCard(card('card-alice'), '1234');
    expect(res).toMatchObject({ approved: true, declineReason: '' });
    expect(res.authorizationRef).toMatch(/^AUTH-/);
  });

  it('declines an unknown card, a blocked card and an expired card', async () => {
    expect((await f.authorizeCard({ pan: '6799990100000009999', expiry: '2812' }, '1234')).res.declineReason).toBe('unknown_card');
    expect((await f.authorizeCard(card('card-eve'), '4321')).res.declineReason).toBe('card_blocked');
    expect((await f.authorizeCard(card('card-finn'), '4321')).res.declineReason).toBe('card_expired');
  });

  it('counts wrong PINs and locks the card at the third; the right PIN is then refused too', async () => {
    const c = card('card-chen');
    expect((await f.authorizeCard(c, '0000')).res).toMatchObject({ declineReason: 'pin_incorrect', pinTriesLeft: 2 });
    expect((await f.authorizeCard(c, '0000')).res).toMatchObject({ declineReason: 'pin_incorrect', pinTriesLeft: 1 });
    expect((await f.authorizeCard(c, '0000')).res).toMatchObject({ declineReason: 'pin_tries_exceeded', pinTriesLeft: 0 });
    expect((await f.authorizeCard(c, '9876')).res.declineReason).toBe('pin_tries_exceeded');
  });

  it('refuses an unpredictable number used twice', async () => {
    const ch = await f.challenge();
    const c = card('card-bob');
    const req = { terminalId: 'T-0001', unpredictableNumber: ch.unpredictableNumber, sealedPinBlock: new Uint8Array(), card: { pan: c.pan, expiry: c.expiry, cardholderName: '', panSequence: 1, records: new Uint8Array(), signedDynamicData: new Uint8Array() } };
    expect((await f.authorize(req)).declineReason).toBe('pin_missing');
    expect((await f.authorize(req)).declineReason).toBe('unpredictable_number_invalid');
  });

  it('refuses an unregistered terminal and malformed input with clear statuses', async () => {
    await expect(f.challenge('T-9999')).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(f.challenge('bad id with spaces')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('terminal_id') });
    await expect(f.authorize({ terminalId: 'T-0001', unpredictableNumber: new Uint8Array(3), sealedPinBlock: new Uint8Array(), card: undefined })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
  });
});

describe('settlement server', () => {
  it('settles once, returns the same result on retry, and posts one balanced pair', async () => {
    const c = card('card-alice');
    const { res } = await f.authorizeCard(c, '1234');
    const req = settleReq(c, res.authorizationRef, 'txn-101');
    const first = await f.settle(req);
    expect(first).toMatchObject({ approved: true, replayed: false });
    const again = await f.settle(req);
    expect(again.replayed).toBe(true);
    expect(Buffer.from(again.receipt!.receipt).equals(Buffer.from(first.receipt!.receipt))).toBe(true);
    expect((await f.getSettlement('T-0001', 'txn-101')).approved).toBe(true);
    const db = f.backend.store.db;
    expect(db.prepare("SELECT COUNT(*) AS n FROM postings p JOIN settlements s ON s.id = p.settlement_id WHERE s.terminal_txn_id = 'txn-101'").get()).toEqual({ n: 2 });
    expect(f.backend.store.ledgerSum()).toBe(0);
  });

  it('refuses the same transaction id with different content', async () => {
    const c = card('card-alice');
    const { res } = await f.authorizeCard(c, '1234');
    await f.settle(settleReq(c, res.authorizationRef, 'txn-102'));
    await expect(f.settle(settleReq(c, res.authorizationRef, 'txn-102', { amount: { minor: 350, currency: 'EUR' }, items: [{ ...items[0]!, quantity: 1 }] }))).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
  });

  it('declines over the credit limit and posts nothing', async () => {
    const c = card('card-dana'); // limit 20.00
    const { res } = await f.authorizeCard(c, '1111');
    const big = settleReq(c, res.authorizationRef, 'txn-103', { amount: { minor: 2500, currency: 'EUR' }, items: [{ sku: 'wine', name: 'Wine', quantity: 1, unitPriceMinor: 2500 }] });
    const out = await f.settle(big);
    expect(out).toMatchObject({ approved: false, declineReason: 'insufficient_funds' });
    expect(f.backend.store.db.prepare("SELECT COUNT(*) AS n FROM postings p JOIN settlements s ON s.id = p.settlement_id WHERE s.terminal_txn_id = 'txn-103'").get()).toEqual({ n: 0 });
  });

  it('declines a replayed ATC, an authorization reused, and another merchant', async () => {
    const c = card('card-bob');
    const { res } = await f.authorizeCard(c, '2580');
    expect((await f.settle(settleReq(c, res.authorizationRef, 'txn-200'))).approved).toBe(true);
    expect((await f.settle(settleReq(c, res.authorizationRef, 'txn-201'))).declineReason).toBe('authorization_invalid');
    const second = await f.authorizeCard(c, '2580');
    expect((await f.settle(settleReq(c, second.res.authorizationRef, 'txn-150'))).declineReason).toBe('atc_replayed');
    const third = await f.authorizeCard(c, '2580');
    expect((await f.settle(settleReq(c, third.res.authorizationRef, 'txn-300', { merchantId: 'M-0002' }))).declineReason).toBe('terminal_unknown');
    expect(f.backend.store.ledgerSum()).toBe(0);
  });
});
