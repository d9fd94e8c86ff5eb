/** Receipt verification on the phone and at the till: the settlement server's signature, its key certified by the root. */
import type { KeyObject } from 'node:crypto';
import { Receipt, type SignedReceipt } from './gen/bluetill/v1/common';
import { verifyCertificate, verifyWith } from './pki/certificate';
import { formatMoney } from './money';
import { ProtocolError } from './errors';

/**
 * Why a till ends a payment before settling it (Settlement.Cancel): the phone's Payment is not the
 * basket (sum, items, transaction id, card), or the cashier cancelled. The settlement server signs
 * the first four as a decline and `cancelled` as a cancellation.
 */
export const CANCEL_REASONS = [
  'amount_mismatch',
  'items_mismatch',
  'authorization_invalid',
  'card_authentication_failed',
  'cancelled',
] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/** A sale's outcome as its signed receipt states it (Receipt.result); null for anything else. */
export type SignedOutcome = 'approved' | 'declined' | 'cancelled';
export function signedOutcomeOf(r: Receipt): SignedOutcome | null {
  return r.result === 'approved' || r.result === 'declined' || r.result === 'cancelled' ? r.result : null;
}

export class ReceiptError extends ProtocolError<'bad_certificate' | 'bad_signature' | 'malformed'> {}

export function verifyReceipt(signed: SignedReceipt, cardCompanyRoot: KeyObject, now: number): Receipt {
  let keyCert;
  try {
    keyCert = verifyCertificate(signed.certificate, cardCompanyRoot, { role: 'receipt', now });
  } catch (cause) {
    throw new ReceiptError('bad_certificate', 'receipt key not certified by the card company', { cause });
  }
  if (!verifyWith(keyCert.publicKey, signed.receipt, signed.signature))
    throw new ReceiptError('bad_signature', 'receipt signature invalid');
  try {
    return Receipt.decode(signed.receipt);
  } catch (cause) {
    throw new ReceiptError('malformed', 'receipt does not decode', { cause });
  }
}

/** The receipt as text, for the till's printer and the phone's screen (fixed 32-column layout). */
export function formatReceiptText(r: Receipt, width = 32): string {
  const line = (left: string, right = '') => {
    const space = Math.max(1, width - left.length - right.length);
    return (left + ' '.repeat(space) + right).slice(0, Math.max(width, left.length + right.length + 1));
  };
  const money = (minor: number) => formatMoney({ minor, currency: r.total?.currency ?? 'EUR' });
  const out = [
    r.merchantName.padStart(Math.floor((width + r.merchantName.length) / 2)),
    line(`Terminal ${r.terminalId}`),
    line(new Date(r.issuedAtMs).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'),
    '-'.repeat(width),
    ...(r.items.length > 0
      ? [
          ...r.items.map((i) =>
            line(`${i.quantity} x ${i.name}`.slice(0, width - 11), money(i.quantity * i.unitPriceMinor)),
          ),
          '-'.repeat(width),
        ]
      : []),
    ...(r.kind === 'refund' || r.kind === 'void'
      ? [line(r.kind === 'refund' ? 'REFUND of' : 'VOID of'), line(`  ${r.originalTxnId}`.slice(0, width))]
      : []),
    line(r.kind === 'refund' ? 'REFUND' : r.kind === 'void' ? 'VOIDED' : 'TOTAL', money(r.total?.minor ?? 0)),
    line('Card', r.maskedPan),
    r.result === 'approved'
      ? line('APPROVED', `code ${r.approvalCode}`)
      : r.result === 'cancelled'
        ? line('CANCELLED', 'not charged')
        : line('DECLINED', r.declineReason),
    line(`Txn ${r.terminalTxnId}`.slice(0, width)),
  ];
  return out.map((l) => l.trimEnd()).join('\n');
}
