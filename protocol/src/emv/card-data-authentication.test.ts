import { createPrivateKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CardData } from '../gen/bluetill/v1/common';
import { cardRecords } from './card-layout';
import { authenticateCardData } from './card-data-authentication';
import { createDemoIssuer, prepareDemoCard } from './demo-issuer';
import { signDynamicData } from './oda';

const issuer = createDemoIssuer({ identifier: '999001', caIndex: 0x99 });
const caKeys = new Map([[0x99, issuer.ca.publicKey]]);
const UN = Uint8Array.of(0xa1, 0xb2, 0xc3, 0xd4);
const now = new Date(Date.UTC(2026, 10, 24));

/** CardData as the phone builds it from a card of this issuer: all records, the DDA signature over `un`. */
function cardData(i = issuer, un = UN): CardData {
  const { personalization: p } = prepareDemoCard(i, { pan: '9990010000000017', expiry: '3012', cardholderName: 'TEST/CARDHOLDER', pin: '1234' });
  const iccPrivateKey = createPrivateKey({ key: Buffer.from(p.iccPrivateKey), format: 'der', type: 'pkcs8' });
  return {
    pan: p.pan, expiry: p.expiry, cardholderName: p.cardholderName, panSequence: p.psn,
    records: new Uint8Array(Buffer.concat([...cardRecords(p).values()])),
    signedDynamicData: signDynamicData({ iccPrivateKey, iccDynamicNumber: new Uint8Array(randomBytes(8)), terminalData: un }),
  };
}

describe('authenticateCardData (ODA on the phone and at the issuer)', () => {
  const genuine = cardData();
  it('a genuine card passes', () => expect(authenticateCardData({ card: genuine, unpredictableNumber: UN, caKeys, now })).toEqual({ ok: true }));
  it.each([
    ['a CA the phone does not hold', { caKeys: new Map() }, 'unknown_ca'],
    ['settlement data other than the signed records', { card: { ...genuine, pan: '9990010000000025' } }, 'data_mismatch'],
    ['records that are not TLV', { card: { ...genuine, records: Uint8Array.of(0x70, 0x85) } }, 'records_unreadable'],
    ['a signature over another UN', { unpredictableNumber: Uint8Array.of(1, 2, 3, 4) }, 'dynamic_signature'],
    ['an issuer certificate from another CA under the same index', { card: cardData(createDemoIssuer({ identifier: '999001', caIndex: 0x99 })) }, 'issuer_certificate'],
  ] as const)('%s: refused (%s)', (_n, patch, reason) => {
    expect(authenticateCardData({ card: genuine, unpredictableNumber: UN, caKeys, now, ...patch })).toEqual({ ok: false, reason });
  });
});
