import { createPrivateKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CardData } from '../gen/bluetill/v1/common';
import { cardRecords } from './card-layout';
import { authenticateCardData, CardRecordsCache } from './card-data-authentication';
import type { RsaPublicKey } from './rsa';
import { createDemoIssuer, prepareDemoCard } from './demo-issuer';
import { signDynamicData } from './oda';

const issuer = createDemoIssuer({ identifier: '999001', caIndex: 0x99 });
const caKeys = new Map([[0x99, issuer.ca.publicKey]]);
const UN = Uint8Array.of(0xa1, 0xb2, 0xc3, 0xd4);
const now = new Date(Date.UTC(2026, 10, 24));

/** CardData as the phone builds it from a card of this issuer: all records, the DDA signature over `un`. */
function cardData(i = issuer, un = UN): CardData {
  const { personalization: p } = prepareDemoCard(i, {
    pan: '9990010000000017',
    expiry: '3012',
    cardholderName: 'TEST/CARDHOLDER',
    pin: '1234',
  });
  const iccPrivateKey = createPrivateKey({ key: Buffer.from(p.iccPrivateKey), format: 'der', type: 'pkcs8' });
  return {
    pan: p.pan,
    expiry: p.expiry,
    cardholderName: p.cardholderName,
    panSequence: p.psn,
    records: new Uint8Array(Buffer.concat([...cardRecords(p).values()])),
    signedDynamicData: signDynamicData({
      iccPrivateKey,
      iccDynamicNumber: new Uint8Array(randomBytes(8)),
      terminalData: un,
    }),
  };
}

describe('authenticateCardData (ODA on the phone and at the issuer)', () => {
  const genuine = cardData();
  it('a genuine card passes', () =>
    expect(authenticateCardData({ card: genuine, unpredictableNumber: UN, caKeys, now })).toEqual({
      ok: true,
    }));
  it.each([
    ['a CA the phone does not hold', { caKeys: new Map() }, 'unknown_ca'],
    [
      'settlement data other than the signed records',
      { card: { ...genuine, pan: '9990010000000025' } },
      'data_mismatch',
    ],
    [
      'records that are not TLV',
      { card: { ...genuine, records: Uint8Array.of(0x70, 0x85) } },
      'records_unreadable',
    ],
    ['a signature over another UN', { unpredictableNumber: Uint8Array.of(1, 2, 3, 4) }, 'dynamic_signature'],
    [
      'an issuer certificate from another CA under the same index',
      { card: cardData(createDemoIssuer({ identifier: '999001', caIndex: 0x99 })) },
      'issuer_certificate',
    ],
  ] as const)('%s: refused (%s)', (_n, patch, reason) => {
    expect(authenticateCardData({ card: genuine, unpredictableNumber: UN, caKeys, now, ...patch })).toEqual({
      ok: false,
      reason,
    });
  });
});

describe('CardRecordsCache (the authorization server sees the same card many times)', () => {
  const genuine = cardData();
  const check = (
    o: { card?: CardData; un?: Uint8Array; ca?: ReadonlyMap<number, RsaPublicKey>; at?: Date },
    cache: CardRecordsCache,
  ) =>
    authenticateCardData({
      card: o.card ?? genuine,
      unpredictableNumber: o.un ?? UN,
      caKeys: o.ca ?? caKeys,
      now: o.at ?? now,
      cardRecords: cache,
    });

  it('keeps records that passed, answers from them, and still checks every use', () => {
    const cache = new CardRecordsCache();
    expect(check({}, cache)).toEqual({ ok: true });
    expect(cache.size).toBe(1);
    expect(check({}, cache)).toEqual({ ok: true });
    expect(cache.stats).toEqual({ hits: 1, misses: 1 });
    // Served from the cache, yet: the DDA over another UN, other settlement data, a date after
    // the card's certificates expired (3012) are refused as without it.
    expect(check({ un: Uint8Array.of(9, 9, 9, 9) }, cache)).toEqual({
      ok: false,
      reason: 'dynamic_signature',
    });
    expect(check({ card: { ...genuine, pan: '9990010000000025' } }, cache)).toEqual({
      ok: false,
      reason: 'data_mismatch',
    });
    expect(check({ card: { ...genuine, expiry: '3112' } }, cache)).toEqual({
      ok: false,
      reason: 'data_mismatch',
    });
    expect(check({ at: new Date(Date.UTC(2031, 0, 2)) }, cache).ok).toBe(false);
    expect(cache.stats.hits).toBe(5);
  });

  it('is used only under the CA key it was recovered with', () => {
    const cache = new CardRecordsCache();
    expect(check({}, cache)).toEqual({ ok: true });
    const other = createDemoIssuer({ identifier: '999001', caIndex: 0x99 });
    expect(check({ ca: new Map([[0x99, other.ca.publicKey]]) }, cache)).toEqual({
      ok: false,
      reason: 'issuer_certificate',
    });
    expect(check({ ca: new Map() }, cache)).toEqual({ ok: false, reason: 'unknown_ca' });
  });

  it('never keeps records that failed, and stays within its bound (least recently used go first)', () => {
    const cache = new CardRecordsCache(2);
    for (let i = 0; i < 50; i++) {
      const records = new Uint8Array(genuine.records);
      records[records.length - 1 - i]! ^= 0x01; // the ICC certificate, last in the records
      expect(check({ card: { ...genuine, records } }, cache).ok).toBe(false);
    }
    expect(cache.size).toBe(0);
    const [a, b, c] = ['9990010000000017', '9990010000000025', '9990010000000033'].map((pan) => {
      const { personalization: p } = prepareDemoCard(issuer, {
        pan,
        expiry: '3012',
        cardholderName: 'TEST/CARDHOLDER',
        pin: '1234',
      });
      const key = createPrivateKey({ key: Buffer.from(p.iccPrivateKey), format: 'der', type: 'pkcs8' });
      return {
        pan,
        expiry: p.expiry,
        cardholderName: p.cardholderName,
        panSequence: p.psn,
        records: new Uint8Array(Buffer.concat([...cardRecords(p).values()])),
        signedDynamicData: signDynamicData({
          iccPrivateKey: key,
          iccDynamicNumber: new Uint8Array(8),
          terminalData: UN,
        }),
      };
    });
    expect([a, b, a, c].map((card) => check({ card }, cache).ok)).toEqual([true, true, true, true]);
    expect(cache.size).toBe(2);
    // a was used after b: b went when c came.
    const before = cache.stats.hits;
    check({ card: a }, cache);
    check({ card: b }, cache);
    expect(cache.stats.hits - before).toBe(1);
    expect(() => new CardRecordsCache(0)).toThrow(RangeError);
  });

  it('gives the same answer with and without it for random damage to the records (property)', () => {
    const cache = new CardRecordsCache();
    check({}, cache);
    for (let i = 0; i < 300; i++) {
      const records = new Uint8Array(genuine.records);
      const n = 1 + (i % 4);
      for (let k = 0; k < n; k++)
        records[Math.floor(Math.random() * records.length)] = Math.floor(Math.random() * 256);
      const card = { ...genuine, records };
      expect(check({ card }, cache)).toEqual(
        authenticateCardData({ card, unpredictableNumber: UN, caKeys, now }),
      );
    }
  });
});
