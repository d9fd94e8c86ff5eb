/**
 * What `bluetill-phone pay` tells the shopper: a few lines of text (the receipt as the till
 * prints it), or with `--json` one object; and the exit code. Card numbers appear masked only.
 */
import { formatReceiptText, type Receipt } from '@bluetill/protocol';
import { CardReaderError } from '../ports/card-reader';
import { CardReadError } from '../core/card/card-read-error';
import type { PhoneErrorCode } from '../core/phone-error';
import type { PaymentOutcome } from '../core/payment-flow';
import type { CliError } from './cli-error';
import { EXIT, type ExitCode } from './exit-codes';
import type { PaymentSessionResult } from '../core/payment-session';
import { rssiAvailable } from '../core/signal';

export interface PayReport {
  readonly outcome: 'approved' | 'declined' | 'cancelled' | 'failed' | 'unknown';
  readonly exitCode: ExitCode;
  readonly message: string;
  /** rssi null: the radio gave none (127, "not available"). */
  readonly till?: { readonly counterName: string; readonly rssi: number | null };
  /** First 6 / last 4. */
  readonly card?: string;
  readonly reason?: string;
  readonly pinTriesLeft?: number;
  /** The card's tries left for the method it refused (offline PIN, fingerprint, secret). */
  readonly triesLeft?: number;
  readonly charged?: 'yes' | 'no' | 'unknown';
  readonly error?: { readonly code: string; readonly message: string };
  readonly resumed?: boolean;
  /** The outcome came from the card company directly (the till left it unknown). */
  readonly asked?: boolean;
  readonly terminalTxnId?: string;
  readonly receipt?: ReturnType<typeof receiptFields>;
  readonly receiptText?: string;
}

export function receiptFields(r: Receipt) {
  return {
    receiptId: r.receiptId,
    merchantName: r.merchantName,
    terminalId: r.terminalId,
    terminalTxnId: r.terminalTxnId,
    maskedPan: r.maskedPan,
    items: r.items.map((i) => ({ sku: i.sku, name: i.name, quantity: i.quantity, unitPriceMinor: i.unitPriceMinor })),
    total: r.total ? { minor: r.total.minor, currency: r.total.currency } : undefined,
    result: r.result,
    approvalCode: r.approvalCode,
    declineReason: r.declineReason,
    issuedAt: new Date(r.issuedAtMs).toISOString(),
  };
}

const withReceipt = (r: Receipt | undefined) => (r ? { receipt: receiptFields(r), receiptText: formatReceiptText(r), card: r.maskedPan } : {});

/** A card failure in words the shopper can act on. */
function cardMessage(cause: unknown): { code: string; message: string } {
  if (cause instanceof CardReadError) {
    const inner = cause.cause;
    if (inner instanceof CardReaderError && inner.code === 'no_reader') return { code: 'no_reader', message: `No card reader: ${inner.message}. Connect a reader (or check pcscd), or name it with --reader.` };
    switch (cause.code) {
      case 'no_card':
        return { code: 'no_card', message: 'No card: none was held to the reader in time.' };
      case 'card_removed':
        return { code: 'card_removed', message: 'The card was removed while it was being read. Hold it still on the reader and pay again.' };
      default:
        return { code: `card_${cause.code}`, message: `The card could not be read (${cause.code}).` };
    }
  }
  if (cause instanceof CardReaderError) return { code: cause.code, message: `The card reader failed (${cause.code}).` };
  return { code: 'card', message: 'The card could not be read.' };
}

function failureMessage(code: PhoneErrorCode | string, message: string, cardFailure: unknown): { code: string; message: string } {
  if (code === 'card') return cardMessage(cardFailure);
  switch (code) {
    case 'till_untrusted':
      return { code, message: 'Till not trusted: it could not prove who it is with a certificate from the acquirer in the trust file. No card data was sent.' };
    case 'link_lost':
      return { code, message: 'The connection to the till was lost.' };
    case 'timeout':
      return { code, message: 'The till did not answer in time.' };
    case 'receipt_invalid':
      return { code, message: 'The receipt is not signed by the payment network.' };
    case 'receipt_mismatch':
      return { code, message: 'The till sent the receipt of another payment: whether this one was charged is not known.' };
    default:
      return { code, message };
  }
}

/** `card.failure` is the error the card or reader raised (the payment flow keeps only its text). */
export function reportOutcome(r: PaymentSessionResult, card: { maskedPan?: string | undefined; failure?: unknown }): PayReport {
  const maskedPan = card.maskedPan;
  const base = { till: { counterName: r.till.counterName, rssi: rssiAvailable(r.till.rssi) ? r.till.rssi : null }, ...(maskedPan ? { card: maskedPan } : {}), ...(r.resumed ? { resumed: true } : {}), ...(r.asked ? { asked: true } : {}) };
  const o: PaymentOutcome = r.outcome;
  switch (o.kind) {
    case 'approved':
      return { outcome: 'approved', exitCode: EXIT.ok, message: `Approved: ${o.receipt.merchantName}, code ${o.receipt.approvalCode}`, charged: 'yes', ...base, ...withReceipt(o.receipt) };
    case 'declined': {
      const locked = o.reason === 'pin_tries_exceeded' || o.reason === 'cvm_tries_exceeded';
      const left = o.triesLeft ?? o.pinTriesLeft;
      const tries = left !== undefined && (o.reason === 'pin_incorrect' || o.reason === 'cvm_failed') ? ` (${left} ${left === 1 ? 'try' : 'tries'} left)` : '';
      const what = o.reason === 'pin_tries_exceeded' ? 'The PIN is locked' : 'This verification is locked on the card';
      const message = locked ? `Declined: ${o.text}. ${what}; ask your card issuer to unlock it.` : `Declined: ${o.text}${tries}`;
      return {
        outcome: 'declined', exitCode: EXIT.declined, message, reason: o.reason, charged: 'no', ...(o.pinTriesLeft !== undefined ? { pinTriesLeft: o.pinTriesLeft } : {}),
        ...(o.triesLeft !== undefined ? { triesLeft: o.triesLeft } : {}), ...base, ...withReceipt(o.receipt),
      };
    }
    case 'cancelled':
      return {
        outcome: 'cancelled', exitCode: EXIT.notCharged, charged: 'no', ...base, ...withReceipt(o.receipt),
        message: o.receipt ? 'Cancelled at the payment network (signed): nothing was charged.' : 'Cancelled: nothing was charged.',
      };
    case 'failed': {
      const error = failureMessage(o.code, o.message, card.failure);
      if (o.charged === 'unknown') {
        const txn = o.resume?.terminalTxnId;
        return {
          outcome: 'unknown', exitCode: EXIT.unknown, charged: 'unknown', error, ...base, ...(txn ? { terminalTxnId: txn } : {}),
          message: `Outcome unknown: ${error.message} The payment was sent and no outcome signed by the payment network came${txn ? `; ask at the till for transaction ${txn} (with --backend the phone asks the payment network itself)` : ''}.`,
        };
      }
      return { outcome: 'failed', exitCode: EXIT.notCharged, message: `Failed: ${error.message} Nothing was charged.`, charged: 'no', error, ...base };
    }
  }
}

/** A failure before there was a payment (no till, no Bluetooth, bad usage). */
export function reportError(e: CliError): PayReport {
  const tail = e.exitCode === EXIT.notCharged ? ' Nothing was charged.' : '';
  return { outcome: 'failed', exitCode: e.exitCode, message: `${e.message}${tail}`, charged: 'no', error: { code: e.code, message: e.message } };
}

export function printReport(r: PayReport, json: boolean, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): void {
  if (json) {
    out.write(`${JSON.stringify(r)}\n`);
    return;
  }
  if (r.receiptText) out.write(`\n${r.receiptText}\n\n`);
  (r.exitCode === EXIT.ok ? out : err).write(`${r.message}\n`);
}
