import { describe, expect, it } from 'vitest';
import { CardReadError } from '../core/card/card-read-error';
import { CardReaderError } from '../ports/card-reader';
import type { PaymentSessionResult } from '../core/payment-session';
import { EXIT } from './exit-codes';
import { cardMessage, reportOutcome, tillErrorText } from './pay-report';

const till = { id: 't1', counterName: 'Counter 1', rssi: -50 };
const failedAtTill = (tillCode: string, message: string): PaymentSessionResult => ({
  till,
  resumed: false,
  outcome: {
    kind: 'failed',
    code: 'till_error',
    message: `${tillCode}: ${message}`,
    tillCode,
    charged: 'no',
  },
});
const count = (s: string, what: RegExp) => (s.match(what) ?? []).length;

describe('what pay says when the till stops a payment', () => {
  it('the payment network unreachable: one sentence each, no raw code in the line, the code kept for --json', () => {
    const r = reportOutcome(
      failedAtTill('backend_unavailable', 'The payment network is not reachable; nothing was charged'),
      {},
    );
    expect(r).toMatchObject({
      outcome: 'failed',
      exitCode: EXIT.notCharged,
      charged: 'no',
      error: { code: 'till_error', tillCode: 'backend_unavailable' },
    });
    expect(r.message).toBe('Failed: The payment network is not reachable. Nothing was charged.');
    expect(r.message).not.toContain('backend_unavailable');
    expect(count(r.message, /nothing was charged/gi)).toBe(1);
  });

  it("another till's words: its code prefix and its own 'nothing was charged' dropped, control characters removed", () => {
    const text = tillErrorText(
      'cvm_method_unknown',
      'cvm_method_unknown: the CVM method is not one the till knows; nothing was charged',
    );
    expect(text).toBe('The till stopped the payment: the CVM method is not one the till knows.');
    expect(tillErrorText('x', 'x: a\u001b[2Jb')).toBe('The till stopped the payment: a [2Jb.');
    expect(tillErrorText('x', 'x: ')).toBe('The till stopped the payment.');
    const r = reportOutcome(failedAtTill('no_basket', 'The till has no basket for this phone'), {});
    expect(r.message).not.toContain('no_basket');
    expect(count(r.message, /nothing was charged/gi)).toBe(1);
  });
});

describe('card failures in words (pay and card read|write)', () => {
  it('no pcscd: the reader is named as missing, not "transmit_failed"', () => {
    const e = new CardReadError('transmit_failed', 'the card reader is not available', {
      cause: new CardReaderError('no_reader', 'pcscd is not running (no answer on /run/pcscd/pcscd.comm)'),
    });
    const m = cardMessage(e);
    expect(m.code).toBe('no_reader');
    expect(m.message).toContain('No card reader: pcscd is not running');
    expect(m.message).toContain('check pcscd');
  });

  it('every other code has words, and none of them shows the code', () => {
    for (const code of [
      'no_card',
      'no_application',
      'card_status',
      'malformed_response',
      'missing_data',
      'card_removed',
      'transmit_failed',
      'bad_input',
    ] as const) {
      const m = cardMessage(new CardReadError(code, 'x'));
      expect(m.message, code).not.toContain(code);
      expect(m.message.length, code).toBeGreaterThan(10);
    }
    for (const code of ['no_card', 'card_removed', 'transmit_failed', 'unexpected_command'] as const) {
      const m = cardMessage(new CardReaderError(code, 'x'));
      expect(m).toMatchObject({ code });
      expect(m.message, code).not.toContain(code);
    }
  });
});
