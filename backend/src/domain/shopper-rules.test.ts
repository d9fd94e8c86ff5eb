import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeTlv, type DeclineCode } from '@bluetill/protocol';
import type { CardRow, MerchantRow, TerminalRow } from '../ports/backend-store';
import type { MerchantCardRow, TemporaryCodeRow } from '../ports/shopper-store';
import {
  MAX_WRONG_CODES,
  MAX_WRONG_CODES_PER_TERMINAL,
  checkCodeIssue,
  checkCodeRedemption,
  isFailedCodeGuess,
  lookupCode,
  type CodeRedemptionFacts,
} from './temporary-code';
import { checkMerchantCard, merchantIdOf } from './merchant-card';

const NOW = Date.UTC(2026, 10, 24, 12);
const card: CardRow = {
  id: 'C-1',
  panHash: 'h',
  panMasked: 'm',
  panSequence: 1,
  expiry: '2812',
  cardholderName: 'A',
  status: 'active',
  pinSalt: new Uint8Array(),
  pinVerifier: new Uint8Array(),
  pinTries: 0,
  creditLimitMinor: 100_00,
  currency: 'EUR',
  accountId: 'acct-C-1',
  lastAtc: -1,
};
const code = (o: Partial<TemporaryCodeRow> = {}): TemporaryCodeRow => ({
  id: 1,
  codeHash: 'x',
  cardId: 'C-1',
  limitMinor: 20_00,
  currency: 'EUR',
  createdAt: NOW - 1000,
  expiresAt: NOW + 60_000,
  usedAt: null,
  ...o,
});
const terminal: TerminalRow = { id: 'T-1', merchantId: 'M-1', status: 'active' };
const merchant: MerchantRow = {
  id: 'M-1',
  name: 'Shop',
  status: 'active',
  accountId: 'acct-M-1',
  currency: 'EUR',
};
const facts = (o: Partial<CodeRedemptionFacts> = {}): CodeRedemptionFacts => ({
  terminal,
  merchant,
  requestMerchantId: 'M-1',
  wrongCodes: 0,
  wrongCodesAtTerminal: 0,
  code: { kind: 'live', code: code() },
  card,
  amount: { minor: 10_00, currency: 'EUR' },
  items: [{ sku: 'a', name: 'A', quantity: 2, unitPriceMinor: 5_00 }],
  availableMinor: 100_00,
  now: NOW,
  ...o,
});

describe('temporary code rules', () => {
  it('finds the live code among those with one hash, else says whether the newest was used or expired', () => {
    expect(lookupCode([], NOW)).toEqual({ kind: 'none' });
    expect(lookupCode([code({ usedAt: NOW - 5 })], NOW)).toEqual({ kind: 'used' });
    expect(lookupCode([code({ expiresAt: NOW })], NOW)).toEqual({ kind: 'expired' });
    expect(lookupCode([code({ id: 2, usedAt: NOW - 5 }), code({ id: 1 })], NOW)).toMatchObject({
      kind: 'live',
      code: { id: 1 },
    });
  });

  it('approves a sale within the limit, and declines each broken rule with its code', () => {
    expect(checkCodeRedemption(facts())).toBeNull();
    expect(checkCodeRedemption(facts({ terminal: { ...terminal, status: 'revoked' } }))).toBe(
      'terminal_unknown',
    );
    expect(checkCodeRedemption(facts({ requestMerchantId: 'M-2' }))).toBe('terminal_unknown');
    expect(checkCodeRedemption(facts({ merchant: { ...merchant, status: 'inactive' } }))).toBe(
      'merchant_inactive',
    );
    expect(checkCodeRedemption(facts({ wrongCodes: MAX_WRONG_CODES }))).toBe('code_attempts_exceeded');
    expect(checkCodeRedemption(facts({ wrongCodes: MAX_WRONG_CODES - 1 }))).toBeNull();
    expect(
      checkCodeRedemption(
        facts({
          wrongCodes: MAX_WRONG_CODES_PER_TERMINAL,
          wrongCodesAtTerminal: MAX_WRONG_CODES_PER_TERMINAL,
        }),
      ),
    ).toBe('code_attempts_exceeded');
    expect(
      checkCodeRedemption(
        facts({
          wrongCodes: MAX_WRONG_CODES_PER_TERMINAL,
          wrongCodesAtTerminal: MAX_WRONG_CODES_PER_TERMINAL - 1,
        }),
      ),
    ).toBeNull();
    expect(
      ['code_invalid', 'code_used', 'code_expired', 'code_limit_exceeded', null].map((d) =>
        isFailedCodeGuess(d as DeclineCode | null),
      ),
    ).toEqual([true, true, true, false, false]);
    expect(checkCodeRedemption(facts({ code: { kind: 'none' } }))).toBe('code_invalid');
    expect(checkCodeRedemption(facts({ code: { kind: 'used' } }))).toBe('code_used');
    expect(checkCodeRedemption(facts({ code: { kind: 'expired' } }))).toBe('code_expired');
    expect(checkCodeRedemption(facts({ card: { ...card, status: 'blocked' } }))).toBe('card_blocked');
    expect(checkCodeRedemption(facts({ amount: { minor: 10_00, currency: 'USD' } }))).toBe(
      'currency_unsupported',
    );
    expect(checkCodeRedemption(facts({ merchant: { ...merchant, currency: 'JPY' } }))).toBe(
      'currency_not_accepted',
    );
    expect(checkCodeRedemption(facts({ amount: { minor: 9_00, currency: 'EUR' } }))).toBe('amount_mismatch');
    expect(
      checkCodeRedemption(
        facts({
          amount: { minor: 25_00, currency: 'EUR' },
          items: [{ sku: 'a', name: 'A', quantity: 5, unitPriceMinor: 5_00 }],
        }),
      ),
    ).toBe('code_limit_exceeded');
    expect(checkCodeRedemption(facts({ availableMinor: 9_99 }))).toBe('insufficient_funds');
  });

  it('issues codes in the card currency, up to one transaction maximum', () => {
    expect(checkCodeIssue(card, { minor: 50_00, currency: 'EUR' })).toBeNull();
    expect(checkCodeIssue(card, { minor: 50_00, currency: 'GBP' })).toBe('currency_unsupported');
    expect(checkCodeIssue(card, { minor: 1_000_001, currency: 'EUR' })).toBe('amount_limit_exceeded');
  });
});

describe('merchant card rules', () => {
  const row: MerchantCardRow = {
    id: 'mc-1',
    panHash: 'h',
    panMasked: 'm',
    panSequence: 1,
    expiry: '3012',
    merchantId: 'M-1',
    terminalId: 'MC-mc-1',
    status: 'active',
  };
  const ok = { row, recordsMerchantId: 'M-1', expiry: '3012', panSequence: 1, merchant, now: NOW };
  it('accepts a registered, active card of an active merchant whose signed id is the registered one', () => {
    expect(checkMerchantCard(ok)).toBeNull();
    expect(checkMerchantCard({ ...ok, row: undefined })).toBe('merchant_card_unknown');
    expect(checkMerchantCard({ ...ok, recordsMerchantId: 'M-2' })).toBe('merchant_card_invalid');
    expect(checkMerchantCard({ ...ok, recordsMerchantId: null })).toBe('merchant_card_invalid');
    expect(checkMerchantCard({ ...ok, panSequence: 2 })).toBe('merchant_card_invalid');
    expect(checkMerchantCard({ ...ok, row: { ...row, status: 'blocked' } })).toBe('merchant_card_blocked');
    expect(checkMerchantCard({ ...ok, row: { ...row, expiry: '2601' }, expiry: '2601' })).toBe(
      'merchant_card_blocked',
    );
    expect(checkMerchantCard({ ...ok, merchant: { ...merchant, status: 'inactive' } })).toBe(
      'merchant_inactive',
    );
  });
});

describe("merchantIdOf (the merchant id in a card's records)", () => {
  it('reads 9F16 inside a record template, and nothing from records without it', () => {
    const record = encodeTlv([
      {
        tag: '70',
        value: new Uint8Array(),
        children: [
          { tag: '5A', value: Uint8Array.of(0x67, 0x99) },
          { tag: '9F16', value: new Uint8Array(Buffer.from('M-0001')) },
        ],
      },
    ]);
    expect(merchantIdOf(record)).toBe('M-0001');
    expect(
      merchantIdOf(
        encodeTlv([
          { tag: '70', value: new Uint8Array(), children: [{ tag: '5A', value: Uint8Array.of(1) }] },
        ]),
      ),
    ).toBeNull();
  });

  it('property: random bytes give a string or null, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const id = merchantIdOf(b);
        return id === null || typeof id === 'string';
      }),
    );
  });
});
