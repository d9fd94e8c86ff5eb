import { describe, expect, it } from 'vitest';
import { EMPTY_CVR, type Cvr, type CvmName } from '@bluetill/protocol';
import {
  checkCard,
  checkCardholderVerification,
  checkRefund,
  checkSettlement,
  checkVoid,
  isExpired,
  cardWrongPinTries,
  otherMethodLocked,
  pinBudgetSpent,
  pinOutcome,
  pinTriesLeft,
  type RefundFacts,
  type SettlementFacts,
  type VoidFacts,
} from './rules';
import { refundPostings, reversalPostings, salePostings } from './ledger';
import type { CardRow, SettlementRow } from '../ports/backend-store';

const card: CardRow = {
  id: 'c1',
  panHash: 'h',
  panMasked: '476173******0010',
  panSequence: 1,
  expiry: '2812',
  cardholderName: 'A',
  status: 'active',
  pinSalt: new Uint8Array(),
  pinVerifier: new Uint8Array(),
  pinTries: 0,
  creditLimitMinor: 10_000,
  currency: 'EUR',
  accountId: 'a1',
  lastAtc: 4,
};
const now = Date.UTC(2026, 10, 24);

describe('card rules', () => {
  it('expiry is inclusive of the whole month', () => {
    expect(isExpired('2611', Date.UTC(2026, 10, 30, 23, 59))).toBe(false);
    expect(isExpired('2611', Date.UTC(2026, 11, 1))).toBe(true);
  });
  it('declines unknown, blocked, expired and locked cards', () => {
    expect(checkCard(undefined, now)).toBe('unknown_card');
    expect(checkCard({ ...card, status: 'stolen' }, now)).toBe('card_blocked');
    expect(checkCard({ ...card, expiry: '2510' }, now)).toBe('card_expired');
    expect(checkCard({ ...card, pinTries: 3 }, now)).toBe('pin_tries_exceeded');
    expect(checkCard(card, now)).toBeNull();
  });
  it('counts PIN tries and locks at the third wrong one', () => {
    expect(pinOutcome(0, false)).toEqual({ tries: 1, decline: 'pin_incorrect' });
    expect(pinOutcome(1, false)).toEqual({ tries: 2, decline: 'pin_incorrect' });
    expect(pinOutcome(2, false)).toEqual({ tries: 3, decline: 'pin_tries_exceeded' });
    expect(pinOutcome(2, true)).toEqual({ tries: 0, decline: null });
  });

  it("one budget of 3 PIN guesses: the server's wrong tries plus the card's signed ones (3 − its PIN Try Counter)", () => {
    expect(cardWrongPinTries(undefined)).toBe(0);
    expect([3, 2, 1, 0, 5].map((left) => cardWrongPinTries({ pinTriesLeft: left }))).toEqual([0, 1, 2, 3, 0]);
    // Two wrong at the card: one online guess, whose wrong answer spends the budget and locks the server's counter.
    expect(pinTriesLeft(0, { pinTriesLeft: 1 })).toBe(1);
    expect(pinBudgetSpent(0, { pinTriesLeft: 1 })).toBe(false);
    expect(pinOutcome(0, false, 2)).toEqual({ tries: 3, decline: 'pin_tries_exceeded' });
    expect(pinOutcome(0, true, 2)).toEqual({ tries: 0, decline: null });
    expect(pinOutcome(1, false, 1)).toEqual({ tries: 3, decline: 'pin_tries_exceeded' });
    expect(pinOutcome(0, false, 1)).toEqual({ tries: 1, decline: 'pin_incorrect' });
    // Spent before any PIN is looked at.
    expect(pinBudgetSpent(1, { pinTriesLeft: 1 })).toBe(true);
    expect(pinBudgetSpent(2, { pinTriesLeft: 2 })).toBe(true);
    expect(pinBudgetSpent(0, { pinTriesLeft: 0 })).toBe(true);
    expect(pinBudgetSpent(0, { pinTriesLeft: 15 })).toBe(false);
    expect(pinTriesLeft(1, { pinTriesLeft: 1 })).toBe(0);
    // A card without signed counters: the server's counter alone, as before.
    expect(pinBudgetSpent(2, undefined)).toBe(false);
    expect(pinTriesLeft(2, undefined)).toBe(1);
  });

  it('a card that signed its fingerprint or secret locked refuses online PIN; their counters are not PIN guesses', () => {
    expect(otherMethodLocked(undefined)).toBe(false);
    expect(otherMethodLocked({ pinTriesLeft: 3, biometricTriesLeft: 0 })).toBe(true);
    expect(otherMethodLocked({ pinTriesLeft: 3, knowledgeTriesLeft: 0 })).toBe(true);
    expect(otherMethodLocked({ pinTriesLeft: 3, biometricTriesLeft: 1, knowledgeTriesLeft: 1 })).toBe(false);
    expect(pinTriesLeft(0, { pinTriesLeft: 3, biometricTriesLeft: 0, knowledgeTriesLeft: 0 })).toBe(3);
  });
});

describe('settlement rules', () => {
  const facts: SettlementFacts = {
    terminal: { id: 't1', merchantId: 'm1', status: 'active' },
    merchant: { id: 'm1', name: 'Shop', status: 'active', accountId: 'ma', currency: 'EUR' },
    requestMerchantId: 'm1',
    authorization: {
      ref: 'r',
      cardId: 'c1',
      terminalId: 't1',
      un: 'u',
      expiresAt: now + 1000,
      settled: false,
      cvm: 'online_pin',
    },
    card,
    amount: { minor: 500, currency: 'EUR' },
    items: [{ sku: 'a', name: 'A', quantity: 2, unitPriceMinor: 250 }],
    availableMinor: 1000,
    atcUsed: false,
    cryptogram: null,
    cvr: { ...EMPTY_CVR, ddaPerformed: true, pinTriesLeft: 3 },
    now,
  };
  it('approves a consistent request', () => expect(checkSettlement(facts)).toBeNull());
  it('a card-verified method is checked only after the cryptogram verified (its CVR is trusted only then)', () => {
    const auth = { ...facts.authorization!, cvm: 'biometric' as const };
    const claims: Cvr = { ...EMPTY_CVR, biometricPerformed: true };
    expect(checkSettlement({ ...facts, authorization: auth, cvr: claims })).toBeNull();
    expect(
      checkSettlement({ ...facts, authorization: auth, cvr: claims, cryptogram: 'cryptogram_invalid' }),
    ).toBe('cryptogram_invalid');
    expect(checkSettlement({ ...facts, authorization: auth, cvr: EMPTY_CVR })).toBe('cvm_failed');
  });
  it.each([
    ['another merchant', { requestMerchantId: 'm2' }, 'terminal_unknown'],
    [
      'inactive merchant',
      { merchant: { ...facts.merchant!, status: 'inactive' as const } },
      'merchant_inactive',
    ],
    [
      'authorization for another card',
      { authorization: { ...facts.authorization!, cardId: 'c2' } },
      'authorization_invalid',
    ],
    [
      'expired authorization',
      { authorization: { ...facts.authorization!, expiresAt: now - 1 } },
      'authorization_invalid',
    ],
    [
      'already settled authorization',
      { authorization: { ...facts.authorization!, settled: true } },
      'authorization_invalid',
    ],
    ['sum not the items', { amount: { minor: 499, currency: 'EUR' } }, 'amount_mismatch'],
    ['unsupported currency', { amount: { minor: 500, currency: 'XXX' } }, 'currency_unsupported'],
    [
      'a JPY card at a EUR merchant',
      { card: { ...card, currency: 'JPY' }, amount: { minor: 500, currency: 'JPY' } },
      'currency_not_accepted',
    ],
    [
      'a EUR sale at a merchant that accepts JPY only',
      { merchant: { ...facts.merchant!, currency: 'JPY' } },
      'currency_not_accepted',
    ],
    ['an ATC the card used before', { atcUsed: true }, 'atc_replayed'],
    ['an invalid cryptogram', { cryptogram: 'cryptogram_invalid' as const }, 'cryptogram_invalid'],
    ['over the available credit', { availableMinor: 499 }, 'insufficient_funds'],
  ] as const)('declines %s', (_n, patch, code) => {
    expect(checkSettlement({ ...facts, ...patch } as SettlementFacts)).toBe(code);
  });
  it('posts balanced entries', () => {
    const p = salePostings({ minor: 1234, currency: 'EUR' }, 'card', 'merchant');
    expect(p.reduce((s, x) => s + x.amountMinor, 0)).toBe(0);
    expect(p).toHaveLength(2);
    expect(() => salePostings({ minor: 0, currency: 'EUR' }, 'a', 'b')).toThrow();
  });
});

describe('cardholder verification rules', () => {
  const pin: Cvr = { ...EMPTY_CVR, offlinePinPerformed: true, pinTriesLeft: 3 };
  const bio: Cvr = { ...EMPTY_CVR, biometricPerformed: true };
  const know: Cvr = { ...EMPTY_CVR, knowledgePerformed: true };
  it.each([
    ['online PIN, card saw nothing', 'online_pin', EMPTY_CVR, null],
    ['offline PIN passed', 'offline_pin', pin, null],
    ['biometric passed', 'biometric', bio, null],
    ['knowledge passed', 'knowledge', know, null],
    ['offline PIN not performed (method missing)', 'offline_pin', EMPTY_CVR, 'cvm_failed'],
    [
      'offline PIN failed',
      'offline_pin',
      { ...pin, offlinePinFailed: true, pinTriesLeft: 2 },
      'pin_incorrect',
    ],
    [
      'offline PIN locked',
      'offline_pin',
      { ...pin, offlinePinFailed: true, pinTryLimitExceeded: true, pinTriesLeft: 0 },
      'pin_tries_exceeded',
    ],
    ['biometric declared, card shows the PIN instead', 'biometric', pin, 'cvm_failed'],
    ['biometric failed', 'biometric', { ...bio, biometricFailed: true }, 'cvm_failed'],
    [
      'biometric locked',
      'biometric',
      { ...bio, biometricFailed: true, biometricTryLimitExceeded: true },
      'cvm_tries_exceeded',
    ],
    ['knowledge declared, nothing performed', 'knowledge', EMPTY_CVR, 'cvm_failed'],
    ['knowledge failed', 'knowledge', { ...know, knowledgeFailed: true }, 'cvm_failed'],
    [
      'knowledge locked',
      'knowledge',
      { ...know, knowledgeFailed: true, knowledgeTryLimitExceeded: true },
      'cvm_tries_exceeded',
    ],
    [
      'knowledge after a failed biometric (no fallback)',
      'knowledge',
      { ...know, biometricPerformed: true, biometricFailed: true },
      'cvm_failed',
    ],
    [
      'offline PIN after a failed knowledge secret (no fallback)',
      'offline_pin',
      { ...pin, knowledgePerformed: true, knowledgeFailed: true },
      'cvm_failed',
    ],
    [
      'online PIN after a failed biometric (no fallback)',
      'online_pin',
      { ...bio, biometricFailed: true },
      'cvm_failed',
    ],
    [
      'online PIN on a card whose own PIN counter is locked (one budget of guesses)',
      'online_pin',
      { ...EMPTY_CVR, pinTryLimitExceeded: true, pinTriesLeft: 0 },
      'pin_tries_exceeded',
    ],
    [
      'online PIN on a card whose knowledge secret is locked',
      'online_pin',
      { ...EMPTY_CVR, knowledgeTryLimitExceeded: true },
      'cvm_tries_exceeded',
    ],
    ['no CVR at all', 'biometric', undefined, 'cvm_failed'],
  ] as const)('%s', (_n, method, cvr, code) => {
    expect(checkCardholderVerification(method as CvmName, cvr as Cvr | undefined)).toBe(code);
  });
});

describe('refund and void rules', () => {
  const sale: SettlementRow = {
    id: 7,
    terminalId: 't1',
    terminalTxnId: 's1',
    requestHash: new Uint8Array(),
    approved: true,
    declineReason: null,
    amountMinor: 1000,
    currency: 'EUR',
    cardId: 'c1',
    merchantId: 'm1',
    response: new Uint8Array(),
    createdAt: now,
    batchId: 3,
  };
  const base = {
    terminal: { id: 't1', merchantId: 'm1', status: 'active' as const },
    merchant: { id: 'm1', name: 'Shop', status: 'active' as const, accountId: 'ma', currency: 'EUR' },
    sale,
  };
  const refund: RefundFacts = {
    ...base,
    saleVoided: false,
    refundedMinor: 400,
    amount: { minor: 600, currency: 'EUR' },
  };
  const voiding: VoidFacts = { ...base, refundedMinor: 0, openBatchId: 3 };
  it('refunds up to what is left', () => expect(checkRefund(refund)).toBeNull());
  it.each([
    [
      'one minor unit over what is left',
      { amount: { minor: 601, currency: 'EUR' } },
      'refund_exceeds_original',
    ],
    ['no such sale', { sale: undefined }, 'original_not_found'],
    ["another merchant's sale", { sale: { ...sale, merchantId: 'm2' } }, 'original_not_found'],
    ['a declined sale', { sale: { ...sale, approved: false } }, 'not_refundable'],
    ['a voided sale', { saleVoided: true }, 'not_refundable'],
    ['another currency', { amount: { minor: 1, currency: 'USD' } }, 'currency_unsupported'],
    [
      'an inactive merchant',
      { merchant: { ...base.merchant, status: 'inactive' as const } },
      'merchant_inactive',
    ],
  ] as const)('declines a refund of %s', (_n, patch, code) =>
    expect(checkRefund({ ...refund, ...patch } as RefundFacts)).toBe(code),
  );
  it('voids a sale of the open batch without refunds', () => expect(checkVoid(voiding)).toBeNull());
  it.each([
    ['a refunded sale', { refundedMinor: 1 }, 'not_voidable'],
    ['a sale of a closed batch', { openBatchId: 4 }, 'not_voidable'],
    ['with no open batch', { openBatchId: null }, 'not_voidable'],
    ['a declined sale', { sale: { ...sale, approved: false, batchId: null } }, 'not_voidable'],
    ['no such sale', { sale: undefined }, 'original_not_found'],
  ] as const)('declines a void of %s', (_n, patch, code) =>
    expect(checkVoid({ ...voiding, ...patch } as VoidFacts)).toBe(code),
  );
  it('posts a refund as merchant debit, cardholder credit; a void as the exact reversal', () => {
    expect(refundPostings({ minor: 250, currency: 'EUR' }, 'card', 'merchant')).toEqual([
      { accountId: 'card', amountMinor: 250, currency: 'EUR' },
      { accountId: 'merchant', amountMinor: -250, currency: 'EUR' },
    ]);
    const s = salePostings({ minor: 999, currency: 'EUR' }, 'card', 'merchant');
    expect(reversalPostings(s).map((p, i) => p.amountMinor + s[i]!.amountMinor)).toEqual([0, 0]);
    expect(() => reversalPostings([{ accountId: 'a', amountMinor: 1, currency: 'EUR' }])).toThrow(
      /unbalanced/,
    );
  });
});

describe('demo PANs', () => {
  it('computes the Luhn check digit (ISO/IEC 7812-1; 7992739871 → 3 is the standard worked example)', async () => {
    const { luhnCheckDigit } = await import('../admin/demo-seed');
    expect(luhnCheckDigit('7992739871')).toBe('3');
    expect(luhnCheckDigit('411111111111111')).toBe('1'); // 4111 1111 1111 1111, the well-known test number
  });
});
