/**
 * The phone's outcome from the till's ReceiptMessage (outcomeOf): the signed receipt's result
 * alone, for this till, payment, sum and ATC; the till's own flag and reason never count.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  Receipt,
  issueCertificate,
  rawFromPublicKey,
  signWith,
  type SignedReceipt,
} from '@bluetill/protocol';
import { outcomeOf, statusWords } from './payment-flow';

const root = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const receiptKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const now = Date.UTC(2026, 11, 7, 12);
const certificate = issueCertificate(
  {
    subjectId: 'receipt-1',
    role: 'receipt',
    merchantId: '',
    merchantName: '',
    publicKey: rawFromPublicKey(receiptKey.publicKey),
    notAfterMs: now + 86_400_000,
    issuer: 'card company',
  },
  root.privateKey,
);
const trust = { acquirerCa: root.publicKey, cardCompanyRoot: root.publicKey };
const total = { minor: 700, currency: 'EUR' };
const expected = { terminalId: 'T-0001', terminalTxnId: 'txn-1', total, atc: 7 };

function signed(over: Partial<Receipt> = {}, key = receiptKey.privateKey): SignedReceipt {
  const bytes = Receipt.encode({
    receiptId: 'R-T-0001-txn-1',
    merchantId: 'M-0001',
    merchantName: 'Corner Shop',
    terminalId: 'T-0001',
    terminalTxnId: 'txn-1',
    maskedPan: '679999*********0019',
    items: [],
    total,
    approvalCode: 'ABC123',
    result: 'approved',
    declineReason: '',
    issuedAtMs: now,
    kind: 'sale',
    originalTxnId: '',
    atc: 7,
    offline: false,
    lossReason: '',
    ...over,
  }).finish();
  return { receipt: bytes, signature: signWith(key, bytes), keyId: 'receipt-1', certificate };
}
const ask = (approved: boolean, declineReason: string, receipt: SignedReceipt | undefined) => () =>
  outcomeOf({ approved, declineReason, receipt }, trust, () => now, expected);

describe('outcomeOf', () => {
  it("the signed result decides, whatever the till's flag says", () => {
    expect(ask(false, 'insufficient_funds', signed())()).toMatchObject({ kind: 'approved' });
    expect(
      ask(true, '', signed({ result: 'declined', declineReason: 'insufficient_funds', approvalCode: '' }))(),
    ).toMatchObject({ kind: 'declined', reason: 'insufficient_funds' });
    expect(
      ask(
        false,
        'cancelled',
        signed({ result: 'cancelled', declineReason: 'cancelled', approvalCode: '', atc: 0 }),
      )(),
    ).toMatchObject({ kind: 'cancelled', receipt: { result: 'cancelled' } });
  });

  it('no signed receipt, or one that states no known outcome: unknown', () => {
    expect(ask(false, 'amount_mismatch', undefined)).toThrow(
      expect.objectContaining({ code: 'outcome_unknown' }),
    );
    expect(ask(true, '', signed({ result: 'maybe' }))).toThrow(
      expect.objectContaining({ code: 'outcome_unknown' }),
    );
  });

  it('signed by another key: receipt_invalid; of another till, payment, sum, ATC or kind: receipt_mismatch', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(ask(true, '', signed({}, other.privateKey))).toThrow(
      expect.objectContaining({ code: 'receipt_invalid' }),
    );
    for (const over of [
      { terminalId: 'T-0002' },
      { terminalTxnId: 'txn-2' },
      { total: { minor: 1, currency: 'EUR' } },
      { atc: 8 },
      { kind: 'refund' },
    ] as Partial<Receipt>[])
      expect(ask(true, '', signed(over)), JSON.stringify(over)).toThrow(
        expect.objectContaining({ code: 'receipt_mismatch' }),
      );
  });
});

describe("the till's status words on the phone (statusWords)", () => {
  it('shows them as one short line without control characters; empty words become a general sentence', () => {
    expect(
      statusWords('Your card is checked. The till is waiting for the cashier to ring up your sale.'),
    ).toBe('Your card is checked. The till is waiting for the cashier to ring up your sale.');
    expect(statusWords('wait\u001b[2J\nplease\u0085')).toBe('wait [2J please');
    expect(statusWords('x'.repeat(500))).toHaveLength(200);
    expect(statusWords(' \u0000 ')).toBe('The till is still working on this payment.');
  });
});
