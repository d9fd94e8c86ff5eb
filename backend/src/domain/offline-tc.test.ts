import { randomBytes } from 'node:crypto';
import {
  CardKeyCache,
  createDemoIssuer,
  demoOfflineTc,
  prepareDemoCard,
  type CardPersonalization,
} from '@bluetill/protocol';
import { describe, expect, it } from 'vitest';
import { classifyForwardedTc, type CardAtSale } from './offline-tc';

const issuer = createDemoIssuer();
const caKeys = new Map([[issuer.ca.index, issuer.ca.publicKey]]);
const issue = (pan: string, expiry = '3012'): CardPersonalization =>
  prepareDemoCard(issuer, { pan, expiry, cardholderName: 'OFF LINE', pin: '1234' }).personalization;
const alice = issue('9990010000000017');
const bob = issue('9990010000000025');
const APPROVED_AT = Date.parse('2026-12-07T15:30:00Z');
const amount = { minor: 1_250, currency: 'EUR' };
const ACTIVE: CardAtSale = { availableMinor: 100_000, currency: 'EUR' };

const classify = (
  o: {
    card?: CardPersonalization;
    tx?: Partial<Parameters<typeof demoOfflineTc>[1]>;
    forwardedAmount?: typeof amount;
    approvedAtMs?: number;
    cardAtSale?: CardAtSale | undefined;
    atcSeen?: boolean;
    records?: Uint8Array;
  } = {},
) => {
  const evidence = demoOfflineTc(o.card ?? alice, {
    amount,
    unpredictableNumber: Uint8Array.of(5, 6, 7, 8),
    atc: 12,
    ...o.tx,
  });
  return classifyForwardedTc({
    forwarded: {
      evidence: o.records ? { ...evidence, records: o.records } : evidence,
      amount: o.forwardedAmount ?? amount,
      approvedAtMs: o.approvedAtMs ?? APPROVED_AT,
    },
    caKeys,
    acMasterKeys: issuer.acMasterKeys,
    cardKeys: new CardKeyCache(),
    cardAtSale: () => ('cardAtSale' in o ? o.cardAtSale : ACTIVE),
    atcSeen: () => o.atcSeen ?? false,
  });
};

describe("the settlement server's classification of a forwarded offline TC", () => {
  it('a genuine TC, new ATC, card active, unexpired, within its limit: settle', () => {
    const r = classify();
    expect(r.kind).toBe('settle');
    expect(r.tc).toMatchObject({ pan: alice.pan, atc: 12, amountMinor: 1_250 });
  });

  it('a card blocked before the sale: merchant loss; blocked after it: settled', () => {
    expect(classify({ cardAtSale: { ...ACTIVE, blockedSinceMs: APPROVED_AT - 1 } })).toMatchObject({
      kind: 'merchant_loss',
      reason: 'card_blocked',
    });
    expect(classify({ cardAtSale: { ...ACTIVE, blockedSinceMs: APPROVED_AT + 60_000 } }).kind).toBe('settle');
  });

  it("over the card's limit, another account currency, an unknown card: merchant loss with the reason", () => {
    expect(classify({ cardAtSale: { ...ACTIVE, availableMinor: 1_249 } })).toMatchObject({
      kind: 'merchant_loss',
      reason: 'over_limit',
    });
    expect(classify({ cardAtSale: { ...ACTIVE, availableMinor: 1_250 } }).kind).toBe('settle');
    expect(classify({ cardAtSale: { ...ACTIVE, currency: 'USD' } })).toMatchObject({
      reason: 'currency_mismatch',
    });
    expect(classify({ cardAtSale: undefined })).toMatchObject({ reason: 'unknown_card' });
  });

  it('a card expired at the sale: card_expired (not just "certificates")', () => {
    expect(classify({ card: issue('9990010000000033', '2611') })).toMatchObject({
      kind: 'merchant_loss',
      reason: 'card_expired',
    });
  });

  it('an ATC seen before: atc_replayed', () => {
    expect(classify({ atcSeen: true })).toMatchObject({ kind: 'merchant_loss', reason: 'atc_replayed' });
  });

  it("a TC under another AC key (CDA by the genuine card key, AC not the card's): cryptogram_invalid", () => {
    const forgedKeys = { ...alice, acMasterKey: new Uint8Array(randomBytes(16)) };
    expect(classify({ card: forgedKeys })).toMatchObject({
      kind: 'merchant_loss',
      reason: 'cryptogram_invalid',
    });
  });

  it('the till forwarding another amount, or a sale day the card did not sign: merchant loss', () => {
    expect(classify({ forwardedAmount: { minor: 12_500, currency: 'EUR' } })).toMatchObject({
      reason: 'amount_mismatch',
    });
    expect(classify({ approvedAtMs: APPROVED_AT + 7 * 86_400_000 })).toMatchObject({
      reason: 'sale_date_mismatch',
    });
    expect(classify({ tx: { date: '261399' } })).toMatchObject({ reason: 'sale_date_mismatch' });
  });

  it("what the card did not sign as a TC, or another card's signature: merchant loss with the verifier's reason", () => {
    expect(classify({ tx: { cvr: { acType: 'arqc' } } })).toMatchObject({
      kind: 'merchant_loss',
      reason: 'not_a_tc',
    });
    expect(
      classify({
        card: bob,
        records: demoOfflineTc(alice, { amount, unpredictableNumber: Uint8Array.of(1, 2, 3, 4), atc: 1 })
          .records,
      }),
    ).toMatchObject({ kind: 'merchant_loss', reason: 'cda_signature' });
  });
});
