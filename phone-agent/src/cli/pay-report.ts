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
  /** `tillCode`: the code of the till's Error message (error code till_error). */
  readonly error?: { readonly code: string; readonly message: string; readonly tillCode?: string };
  readonly resumed?: boolean;
  /** The outcome came from the card company directly (the till left it unknown). */
  readonly asked?: boolean;
  readonly terminalTxnId?: string;
  readonly receipt?: ReturnType<typeof receiptFields>;
  readonly receiptText?: string;
  /** A sale the till approved offline: what names it to the card company (`bluetill-phone receipt`). */
  readonly offline?: {
    readonly terminalId: string;
    readonly offlineId: string;
    readonly total?: { readonly minor: number; readonly currency: string };
    readonly atc: number;
  };
}

export function receiptFields(r: Receipt) {
  return {
    receiptId: r.receiptId,
    merchantName: r.merchantName,
    terminalId: r.terminalId,
    terminalTxnId: r.terminalTxnId,
    maskedPan: r.maskedPan,
    items: r.items.map((i) => ({
      sku: i.sku,
      name: i.name,
      quantity: i.quantity,
      unitPriceMinor: i.unitPriceMinor,
    })),
    total: r.total ? { minor: r.total.minor, currency: r.total.currency } : undefined,
    result: r.result,
    approvalCode: r.approvalCode,
    declineReason: r.declineReason,
    issuedAt: new Date(r.issuedAtMs).toISOString(),
  };
}

const withReceipt = (r: Receipt | undefined) =>
  r ? { receipt: receiptFields(r), receiptText: formatReceiptText(r), card: r.maskedPan } : {};

/** What went wrong with the card, in words, for each code the card and its reader raise. */
const CARD_READ_WORDS: Record<CardReadError['code'], string> = {
  no_card: 'No card: none was held to the reader in time.',
  card_removed: 'The card was removed while it was being read. Hold it still on the reader and try again.',
  no_application: 'This card has no payment application this phone can use.',
  card_status: 'The card refused a command.',
  malformed_response: 'The card gave an answer that is not valid.',
  missing_data: 'The card lacks data a payment needs.',
  transmit_failed: 'The card reader stopped answering. Check the reader (and pcscd), then try again.',
  bad_input: 'The card could not be asked for what the payment needs.',
};
const CARD_READER_WORDS: Record<CardReaderError['code'], string> = {
  no_reader: 'No card reader. Connect a reader (or check pcscd), or name it with --reader.',
  no_card: CARD_READ_WORDS.no_card,
  card_removed: CARD_READ_WORDS.card_removed,
  transmit_failed: CARD_READ_WORDS.transmit_failed,
  unexpected_command: 'The card reader was asked a command it did not expect.',
};

/**
 * A card failure in words the shopper can act on (the code is kept apart, for --json). Used by
 * `pay` and by `card read|write`, so both say the same thing.
 */
export function cardMessage(cause: unknown): { code: string; message: string } {
  if (cause instanceof CardReadError) {
    const inner = cause.cause;
    if (inner instanceof CardReaderError && inner.code === 'no_reader')
      return {
        code: 'no_reader',
        message: `No card reader: ${inner.message}. Connect a reader (or check pcscd), or name it with --reader.`,
      };
    return {
      code: cause.code === 'no_card' || cause.code === 'card_removed' ? cause.code : `card_${cause.code}`,
      message: CARD_READ_WORDS[cause.code] ?? 'The card could not be read.',
    };
  }
  if (cause instanceof CardReaderError) {
    if (cause.code === 'no_reader')
      return {
        code: 'no_reader',
        message: `No card reader: ${cause.message}. Connect a reader (or check pcscd), or name it with --reader.`,
      };
    return { code: cause.code, message: CARD_READER_WORDS[cause.code] ?? 'The card reader failed.' };
  }
  return { code: 'card', message: 'The card could not be read.' };
}

/**
 * The till's Error message in words. The till's code stays in `error.code` (for --json), never in
 * the sentence; "nothing was charged" is left to the report, which says it once.
 */
const TILL_ERROR_WORDS: Readonly<Record<string, string>> = {
  backend_unavailable: 'The payment network is not reachable.',
  cancelled: 'The cashier cancelled this payment.',
  no_basket:
    'No basket was offered at the till while this phone waited: ask the cashier to ring up the sale, then pay again.',
  not_charged: 'This payment never reached the payment network.',
  outcome_unknown: 'The payment network has not confirmed the outcome yet.',
  internal: 'The till failed while taking this payment.',
};

export function tillErrorText(tillCode: string | undefined, message: string): string {
  const known = tillCode !== undefined ? TILL_ERROR_WORDS[tillCode] : undefined;
  if (known) return known;
  // Another till's own words: without its code prefix, control characters or a "nothing was charged" tail.
  let text =
    tillCode !== undefined && message.startsWith(`${tillCode}: `)
      ? message.slice(tillCode.length + 2)
      : message;
  text = [...text]
    .map((c) => (c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f) ? ' ' : c))
    .join('')
    .replace(/ {2,}/g, ' ')
    .replace(/[;,.]?\s*nothing (was|is) charged\.?\s*$/i, '')
    .trim()
    .slice(0, 200);
  if (text === '') return 'The till stopped the payment.';
  return `The till stopped the payment: ${text}${/[.!?]$/.test(text) ? '' : '.'}`;
}

function failureMessage(
  code: PhoneErrorCode | string,
  message: string,
  cardFailure: unknown,
  tillCode?: string,
): { code: string; message: string; tillCode?: string } {
  if (code === 'card') return cardMessage(cardFailure);
  switch (code) {
    case 'till_untrusted':
      return {
        code,
        message:
          'Till not trusted: it could not prove who it is with a certificate from the acquirer in the trust file. No card data was sent.',
      };
    case 'link_lost':
      return { code, message: 'The connection to the till was lost.' };
    case 'timeout':
      return { code, message: 'The till did not answer in time.' };
    case 'receipt_invalid':
      return { code, message: 'The receipt is not signed by the payment network.' };
    case 'receipt_mismatch':
      return {
        code,
        message: 'The till sent the receipt of another payment: whether this one was charged is not known.',
      };
    case 'till_error':
      return {
        code,
        message: tillErrorText(tillCode, message),
        ...(tillCode !== undefined ? { tillCode } : {}),
      };
    default:
      return { code, message };
  }
}

/** `card.failure` is the error the card or reader raised (the payment flow keeps only its text). */
export function reportOutcome(
  r: PaymentSessionResult,
  card: { maskedPan?: string | undefined; failure?: unknown },
): PayReport {
  const maskedPan = card.maskedPan;
  const base = {
    till: { counterName: r.till.counterName, rssi: rssiAvailable(r.till.rssi) ? r.till.rssi : null },
    ...(maskedPan ? { card: maskedPan } : {}),
    ...(r.resumed ? { resumed: true } : {}),
    ...(r.asked ? { asked: true } : {}),
  };
  const o: PaymentOutcome = r.outcome;
  switch (o.kind) {
    case 'approved':
      return {
        outcome: 'approved',
        exitCode: EXIT.ok,
        message: `Approved: ${o.receipt.merchantName}, code ${o.receipt.approvalCode}`,
        charged: 'yes',
        ...base,
        ...withReceipt(o.receipt),
      };
    case 'approved_offline':
      return {
        outcome: 'approved',
        exitCode: EXIT.ok,
        message: `Approved offline by ${o.receipt.merchantName}'s till (${o.receipt.offlineId}): to be confirmed by the card company (bluetill-phone receipt --terminal ${o.receipt.terminalId} --offline-id ${o.receipt.offlineId})`,
        charged: 'yes',
        ...base,
        offline: {
          terminalId: o.receipt.terminalId,
          offlineId: o.receipt.offlineId,
          ...(o.receipt.total
            ? { total: { minor: o.receipt.total.minor, currency: o.receipt.total.currency } }
            : {}),
          atc: o.receipt.atc,
        },
      };
    case 'declined': {
      const locked = o.reason === 'pin_tries_exceeded' || o.reason === 'cvm_tries_exceeded';
      const left = o.triesLeft ?? o.pinTriesLeft;
      const tries =
        left !== undefined && (o.reason === 'pin_incorrect' || o.reason === 'cvm_failed')
          ? ` (${left} ${left === 1 ? 'try' : 'tries'} left)`
          : '';
      const what =
        o.reason === 'pin_tries_exceeded' ? 'The PIN is locked' : 'This verification is locked on the card';
      const message = locked
        ? `Declined: ${o.text}. ${what}; ask your card issuer to unlock it.`
        : `Declined: ${o.text}${tries}`;
      return {
        outcome: 'declined',
        exitCode: EXIT.declined,
        message,
        reason: o.reason,
        charged: 'no',
        ...(o.pinTriesLeft !== undefined ? { pinTriesLeft: o.pinTriesLeft } : {}),
        ...(o.triesLeft !== undefined ? { triesLeft: o.triesLeft } : {}),
        ...base,
        ...withReceipt(o.receipt),
      };
    }
    case 'cancelled':
      return {
        outcome: 'cancelled',
        exitCode: EXIT.notCharged,
        charged: 'no',
        ...base,
        ...withReceipt(o.receipt),
        message: o.receipt
          ? 'Cancelled at the payment network (signed): nothing was charged.'
          : 'Cancelled: nothing was charged.',
      };
    case 'failed': {
      const error = failureMessage(o.code, o.message, card.failure, o.tillCode);
      if (o.charged === 'unknown') {
        const txn = o.resume?.terminalTxnId;
        return {
          outcome: 'unknown',
          exitCode: EXIT.unknown,
          charged: 'unknown',
          error,
          ...base,
          ...(txn ? { terminalTxnId: txn } : {}),
          message: `Outcome unknown: ${error.message} The payment was sent and no outcome signed by the payment network came${txn ? `; ask at the till for transaction ${txn} (with --backend the phone asks the payment network itself)` : ''}.`,
        };
      }
      return {
        outcome: 'failed',
        exitCode: EXIT.notCharged,
        message: `Failed: ${error.message} Nothing was charged.`,
        charged: 'no',
        error,
        ...base,
      };
    }
  }
}

/** A failure before there was a payment (no till, no Bluetooth, bad usage). */
export function reportError(e: CliError): PayReport {
  const tail = e.exitCode === EXIT.notCharged ? ' Nothing was charged.' : '';
  return {
    outcome: 'failed',
    exitCode: e.exitCode,
    message: `${e.message}${tail}`,
    charged: 'no',
    error: { code: e.code, message: e.message },
  };
}

export function printReport(
  r: PayReport,
  json: boolean,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): void {
  if (json) {
    out.write(`${JSON.stringify(r)}\n`);
    return;
  }
  if (r.receiptText) out.write(`\n${r.receiptText}\n\n`);
  (r.exitCode === EXIT.ok ? out : err).write(`${r.message}\n`);
}
