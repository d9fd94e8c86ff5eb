import { describe, expect, it } from 'vitest';
import { ShopperBackendError } from '../ports/shopper-backend';
import { PhoneError } from '../core/phone-error';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { codeReport, failure, merchantReport, saleFrom } from './shopper-commands';

describe('pay --code / --merchant-card reports', () => {
  it('a code: 8 digits grouped for reading, the limit and expiry; a decline says no code was issued', () => {
    const r = codeReport({
      kind: 'issued',
      code: '48230917',
      limit: { minor: 2500, currency: 'EUR' },
      expiresAtMs: Date.UTC(2026, 10, 24, 19, 5, 12),
      maskedPan: '679999*********0019',
    });
    expect(r).toMatchObject({
      outcome: 'approved',
      exitCode: EXIT.ok,
      charged: 'no',
      paymentCode: { code: '48230917', limitText: '€25.00', expiresAt: '2026-11-24T19:05:12.000Z' },
    });
    expect(r.message).toContain('Payment code 4823 0917');
    expect(r.message).toContain('until 2026-11-24 19:05:12 UTC');
    const d = codeReport({
      kind: 'declined',
      reason: 'pin_incorrect',
      text: 'Incorrect PIN',
      pinTriesLeft: 1,
    });
    expect(d).toMatchObject({
      outcome: 'declined',
      exitCode: EXIT.declined,
      message: 'Declined: Incorrect PIN (1 try left). No code was issued.',
    });
  });

  it('a lost answer after PayMerchant left the phone is an unknown outcome naming the payment key; before, nothing was charged', () => {
    const lost = new ShopperBackendError('deadline', 'PayMerchant: no answer in time');
    expect(failure(lost, true, 'P-abc')).toMatchObject({
      outcome: 'unknown',
      exitCode: EXIT.unknown,
      charged: 'unknown',
      terminalTxnId: 'P-abc',
    });
    expect(failure(lost, false)).toMatchObject({
      outcome: 'failed',
      exitCode: EXIT.notCharged,
      charged: 'no',
    });
    expect(failure(new ShopperBackendError('untrusted', 'x'), true)).toMatchObject({
      outcome: 'failed',
      error: { code: 'untrusted' },
    });
    expect(failure(new PhoneError('backend_untrusted', 'x'), false).message).toContain(
      'the PIN was not sent',
    );
    expect(() => failure(new TypeError('bug'), false)).toThrow(TypeError);
  });

  it('a merchant payment: approved with its receipt; cancelled charges nothing', () => {
    expect(merchantReport({ kind: 'cancelled' })).toMatchObject({
      outcome: 'cancelled',
      exitCode: EXIT.notCharged,
      charged: 'no',
    });
    expect(
      merchantReport({ kind: 'declined', reason: 'merchant_card_blocked', text: 'Merchant card blocked' }),
    ).toMatchObject({ exitCode: EXIT.declined, reason: 'merchant_card_blocked' });
  });

  it('the sale: the items total, an --amount that differs is a usage error, no items is one too', () => {
    expect(saleFrom([{ sku: 'a', name: 'A', quantity: 2, unitPriceMinor: 150 }], 'EUR', 300).total).toEqual({
      minor: 300,
      currency: 'EUR',
    });
    expect(() => saleFrom([{ sku: 'a', name: 'A', quantity: 2, unitPriceMinor: 150 }], 'EUR', 301)).toThrow(
      CliError,
    );
    expect(() => saleFrom([], 'EUR')).toThrow(CliError);
  });
});
