import { describe, expect, it } from 'vitest';
import { createDemoIssuer, prepareDemoCard } from './demo-issuer';
import { demoOfflineTc } from './demo-offline-tc';
import { verifyOfflineTc } from './offline-tc';
import { decodeTlv, encodeTlv } from './tlv';

const issuer = createDemoIssuer();
const other = createDemoIssuer({ caIndex: 0x98 });
const alice = prepareDemoCard(issuer, {
  pan: '9990010000000017',
  expiry: '3012',
  cardholderName: 'ALICE A',
  pin: '1234',
}).personalization;
const bob = prepareDemoCard(issuer, {
  pan: '9990010000000025',
  expiry: '3012',
  cardholderName: 'BOB B',
  pin: '4321',
}).personalization;
const UN = Uint8Array.of(1, 2, 3, 4);
const amount = { minor: 1250, currency: 'EUR' };
const caKeys = new Map([[issuer.ca.index, issuer.ca.publicKey]]);
const now = new Date('2026-12-07T10:00:00Z');
const tc = (p = alice, o: Partial<Parameters<typeof demoOfflineTc>[1]> = {}) =>
  demoOfflineTc(p, { amount, unpredictableNumber: UN, atc: 7, ...o });

describe('verifyOfflineTc: chain, CDA over the TC, signed type', () => {
  it("a card's TC with CDA verifies: PAN, ATC, AC, amount, currency, UN from signed data", () => {
    const r = verifyOfflineTc({ evidence: tc(), caKeys, now });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.tc).toMatchObject({
      pan: alice.pan,
      psn: 1,
      expiry: '3012',
      atc: 7,
      cid: 0x40,
      amountMinor: 1250,
      currency: 978,
      transactionDate: '261207',
    });
    expect(r.tc.ac).toHaveLength(8);
    expect(r.tc.cvr.acType).toBe('tc');
  });

  it('an ARQC or AAC (signed as such) is not an approval; a CID edited to 40 breaks the signature', () => {
    expect(verifyOfflineTc({ evidence: tc(alice, { cvr: { acType: 'arqc' } }), caKeys, now })).toEqual({
      ok: false,
      reason: 'not_a_tc',
    });
    expect(verifyOfflineTc({ evidence: tc(alice, { cvr: { acType: 'aac' } }), caKeys, now })).toEqual({
      ok: false,
      reason: 'not_a_tc',
    });
    const arqc = tc(alice, { cvr: { acType: 'arqc' } });
    const nodes = decodeTlv(arqc.response);
    const edited = nodes.map((t) => ({
      ...t,
      children: t.children!.map((c) => (c.tag === '9F27' ? { tag: '9F27', value: Uint8Array.of(0x40) } : c)),
    }));
    expect(verifyOfflineTc({ evidence: { ...arqc, response: encodeTlv(edited) }, caKeys, now })).toEqual({
      ok: false,
      reason: 'cda_signature',
    });
  });

  it("Bob's signature with Alice's records, a CA the verifier does not hold, expired certificates: refused", () => {
    expect(verifyOfflineTc({ evidence: { ...tc(bob), records: tc(alice).records }, caKeys, now })).toEqual({
      ok: false,
      reason: 'cda_signature',
    });
    expect(
      verifyOfflineTc({ evidence: tc(), caKeys: new Map([[issuer.ca.index, other.ca.publicKey]]), now }),
    ).toEqual({ ok: false, reason: 'card_certificates' });
    expect(verifyOfflineTc({ evidence: tc(), caKeys, now: new Date('2031-01-01T00:00:00Z') })).toEqual({
      ok: false,
      reason: 'card_certificates',
    });
  });

  it('changed CDOL1 or PDOL data (amount, UN) breaks the signature', () => {
    const e = tc();
    const cdol = Uint8Array.from(e.cdol1Data);
    cdol[5] = 0x51;
    expect(verifyOfflineTc({ evidence: { ...e, cdol1Data: cdol }, caKeys, now })).toEqual({
      ok: false,
      reason: 'cda_signature',
    });
    const pdol = Uint8Array.from(e.pdolData);
    pdol[9] = (pdol[9] as number) ^ 1;
    expect(verifyOfflineTc({ evidence: { ...e, pdolData: pdol }, caKeys, now })).toEqual({
      ok: false,
      reason: 'cda_signature',
    });
  });

  it('bytes that are not a CDA answer are malformed, never a throw', () => {
    const e = tc();
    for (const response of [
      new Uint8Array(),
      Uint8Array.of(0x77, 0x05),
      encodeTlv([{ tag: '80', value: new Uint8Array(12) }]),
    ]) {
      expect(verifyOfflineTc({ evidence: { ...e, response }, caKeys, now })).toEqual({
        ok: false,
        reason: 'malformed',
      });
    }
    const nodes = decodeTlv(e.response);
    const withAc = [
      { ...nodes[0]!, children: [{ tag: '9F26', value: new Uint8Array(8) }, ...nodes[0]!.children!] },
    ];
    expect(verifyOfflineTc({ evidence: { ...e, response: encodeTlv(withAc) }, caKeys, now })).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(verifyOfflineTc({ evidence: { ...e, records: Uint8Array.of(1, 2, 3) }, caKeys, now })).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(verifyOfflineTc({ evidence: { ...e, cdol1Data: e.cdol1Data.subarray(1) }, caKeys, now })).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });
});
