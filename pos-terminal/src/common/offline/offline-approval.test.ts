import { createDemoIssuer, demoOfflineTc, prepareDemoCard } from '@bluetill/protocol';
import { describe, expect, it } from 'vitest';
import { checkOfflineApproval, type OfflineAtcJournal, type TillAcRequest } from './offline-approval';

const issuer = createDemoIssuer();
const card = prepareDemoCard(issuer, {
  pan: '9990010000000017',
  expiry: '3012',
  cardholderName: 'ALICE A',
  pin: '1234',
}).personalization;
const UN = Uint8Array.of(9, 8, 7, 6);
const request: TillAcRequest = {
  requested: 'tc',
  amount: { minor: 1250, currency: 'EUR' },
  unpredictableNumber: UN,
};
const caKeys = new Map([[issuer.ca.index, issuer.ca.publicKey]]);
const now = new Date('2026-12-07T10:00:00Z');

class MemoryJournal implements OfflineAtcJournal {
  readonly seen = new Set<string>();
  hasAtc(c: { pan: string; psn: number }, atc: number): boolean {
    return this.seen.has(`${c.pan}/${c.psn}/${atc}`);
  }
}

const check = (
  o: {
    request?: Partial<TillAcRequest>;
    tx?: Partial<Parameters<typeof demoOfflineTc>[1]>;
    journal?: OfflineAtcJournal;
  } = {},
) =>
  checkOfflineApproval({
    request: { ...request, ...o.request },
    evidence: demoOfflineTc(card, { amount: request.amount, unpredictableNumber: UN, atc: 3, ...o.tx }),
    caKeys,
    journal: o.journal ?? new MemoryJournal(),
    now,
  });

describe("the till's check of an offline approval", () => {
  it("the card's TC for the till's own request, amount and UN, with the PIN verified on the card: approved", () => {
    const r = check();
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.tc).toMatchObject({ pan: card.pan, atc: 3, amountMinor: 1250 });
  });

  it.each(['arqc', 'aac'] as const)('the till asked for %s: a TC is no approval', (requested) => {
    expect(check({ request: { requested } })).toEqual({ ok: false, reason: 'not_requested' });
  });

  it("another amount, another currency, another UN than the till's: refused", () => {
    expect(check({ tx: { amount: { minor: 125, currency: 'EUR' } } })).toEqual({
      ok: false,
      reason: 'amount_mismatch',
    });
    expect(check({ tx: { amount: { minor: 1250, currency: 'USD' } } })).toEqual({
      ok: false,
      reason: 'amount_mismatch',
    });
    expect(check({ tx: { unpredictableNumber: Uint8Array.of(9, 8, 7, 5) } })).toEqual({
      ok: false,
      reason: 'unpredictable_number_mismatch',
    });
  });

  it('an ATC the journal holds for this card is a replay; the same ATC of another card is not', () => {
    const journal = new MemoryJournal();
    journal.seen.add(`${card.pan}/1/3`);
    expect(check({ journal })).toEqual({ ok: false, reason: 'atc_replayed' });
    journal.seen.clear();
    journal.seen.add(`9990010000000025/1/3`);
    expect(check({ journal }).ok).toBe(true);
  });

  it('no cardholder verification on the card, or a failed one: refused; a fingerprint on the card counts', () => {
    expect(check({ tx: { cvr: { offlinePinPerformed: false } } })).toEqual({
      ok: false,
      reason: 'cardholder_not_verified',
    });
    expect(check({ tx: { cvr: { offlinePinFailed: true } } })).toEqual({
      ok: false,
      reason: 'cardholder_not_verified',
    });
    expect(check({ tx: { cvr: { offlinePinPerformed: false, biometricPerformed: true } } }).ok).toBe(true);
  });

  it("what protocol's verifier refuses, the till refuses with its reason (the card's ARQC)", () => {
    expect(check({ tx: { cvr: { acType: 'arqc' } } })).toEqual({ ok: false, reason: 'not_a_tc' });
  });
});
