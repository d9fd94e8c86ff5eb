/**
 * `bluetill-phone receipt`: the card company's confirmation of a sale a till approved offline.
 * The shopper names the sale as the till's offline receipt did (`pay` prints the command with the
 * till's terminal id and the offline id); the card proves itself to the backend's shopper listener
 * and the signed receipt is checked under the card company's root (confirmOfflineSale).
 *
 *   bluetill-phone receipt --terminal T-0001 --offline-id OFF-… --backend HOST:PORT --trust trust.json
 *                          [--amount 3.50 --currency EUR] [--atc N] [--reader NAME | --card-file FILE] [--json]
 *
 * Exit codes: 0 settled (the shopper paid), 3 not honoured (the merchant's loss: nothing owed),
 * 5 not confirmed yet (not forwarded, or the card company could not be asked), 2 wrong usage.
 */
import type { Command } from 'commander';
import { formatMoney, formatReceiptText } from '@bluetill/protocol';
import { PromptError } from '../adapters/prompt.terminal';
import { CardReadError } from '../core/card/card-read-error';
import {
  confirmOfflineSale,
  type ConfirmedOffline,
  type OfflineSaleTicket,
} from '../core/offline-receipt-flow';
import { PhoneError } from '../core/phone-error';
import { CardReaderError } from '../ports/card-reader';
import { ShopperBackendError } from '../ports/shopper-backend';
import { openCard, type CardChoice } from './card-source';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { parseCount } from './hci-option';
import type { CliExtensions } from './pay-command';
import { cardMessage, printReport, receiptFields, reportError, type PayReport } from './pay-report';
import { parseAmount } from './sale-options';
import { shopperBackend } from './shopper-commands';
import { readTrustFile } from './trust-file';

interface ReceiptFlags {
  terminal: string;
  offlineId: string;
  backend: string;
  trust: string;
  amount?: string;
  currency: string;
  atc?: string;
  reader?: string;
  cardFile?: string;
  cardTimeout: string;
  json?: boolean;
}

export interface OfflineReceiptReport extends PayReport {
  readonly confirmation: ConfirmedOffline['kind'] | 'not_asked';
  readonly lossReason?: string;
}

/** The card company's answer as the shopper reads it. */
export function confirmationReport(c: ConfirmedOffline, ticket: OfflineSaleTicket): OfflineReceiptReport {
  switch (c.kind) {
    case 'settled':
      return {
        confirmation: 'settled',
        outcome: 'approved',
        exitCode: EXIT.ok,
        charged: 'yes',
        message: `Confirmed by the card company: ${c.receipt.merchantName}, ${c.receipt.total ? formatMoney(c.receipt.total) : ''} settled.`,
        receipt: receiptFields(c.receipt),
        receiptText: formatReceiptText(c.receipt),
        card: c.receipt.maskedPan,
      };
    case 'merchant_loss':
      return {
        confirmation: 'merchant_loss',
        outcome: 'declined',
        exitCode: EXIT.declined,
        charged: 'no',
        reason: 'offline_merchant_loss',
        lossReason: c.lossReason,
        message: `Not honoured by the card company (${c.lossReason}): the merchant bears it, you owe nothing for this sale.`,
        receipt: receiptFields(c.receipt),
        receiptText: formatReceiptText(c.receipt),
        card: c.receipt.maskedPan,
      };
    case 'declined':
      return {
        confirmation: 'declined',
        outcome: 'declined',
        exitCode: EXIT.declined,
        charged: 'no',
        reason: c.reason,
        message: `Refused by the card company (${c.reason}): nothing was charged for this sale.`,
        receipt: receiptFields(c.receipt),
        receiptText: formatReceiptText(c.receipt),
        card: c.receipt.maskedPan,
      };
    case 'not_forwarded':
      return {
        confirmation: 'not_forwarded',
        outcome: 'unknown',
        exitCode: EXIT.unknown,
        charged: 'unknown',
        terminalTxnId: ticket.offlineId,
        message: `Not confirmed yet: till ${ticket.terminalId} has not forwarded sale ${ticket.offlineId} to the card company. Ask again later.`,
      };
  }
}

/** A question that got no answer: the sale stays as the till's receipt says, to be confirmed. */
function notAsked(e: unknown): OfflineReceiptReport {
  const base = {
    confirmation: 'not_asked' as const,
    outcome: 'unknown' as const,
    exitCode: EXIT.unknown,
    charged: 'unknown' as const,
  };
  if (e instanceof CardReadError || e instanceof CardReaderError) {
    const card = cardMessage(e);
    return { ...base, message: `Not asked: ${card.message}`, error: { code: card.code, message: e.message } };
  }
  if (e instanceof ShopperBackendError || e instanceof PhoneError || e instanceof PromptError)
    return {
      ...base,
      message: `Not confirmed: ${e.message.replace(/[.\s]+$/, '')}.`,
      error: { code: e.code, message: e.message },
    };
  throw e;
}

async function receiptOnce(o: ReceiptFlags, ext: CliExtensions): Promise<OfflineReceiptReport> {
  if (o.reader !== undefined && o.cardFile !== undefined)
    throw CliError.usage('usage', '--reader and --card-file exclude each other');
  const trust = readTrustFile(o.trust);
  const ticket: OfflineSaleTicket = {
    terminalId: o.terminal,
    offlineId: o.offlineId,
    ...(o.amount !== undefined
      ? { total: { minor: parseAmount('--amount', o.amount), currency: o.currency } }
      : {}),
    ...(o.atc !== undefined ? { atc: parseCount('--atc', o.atc) } : {}),
  };
  const backend = shopperBackend({ backend: o.backend, trust });
  const choice: CardChoice =
    o.cardFile !== undefined
      ? { kind: 'file', path: o.cardFile }
      : { kind: 'reader', ...(o.reader ? { readerName: o.reader } : {}) };
  try {
    const card = await openCard(choice, {
      progress: (s) => process.stderr.write(`${s}\n`),
      waitTimeoutMs: parseCount('--card-timeout', o.cardTimeout),
      ...(ext.simulatedCards ? { simulatedCards: ext.simulatedCards } : {}),
    });
    try {
      return confirmationReport(
        await confirmOfflineSale({ backend, card: card.card, trust, ticket }),
        ticket,
      );
    } finally {
      await card.close().catch(() => undefined);
    }
  } catch (e) {
    return notAsked(e);
  } finally {
    backend.close();
  }
}

export function registerReceipt(program: Command, ext: CliExtensions = {}): void {
  program
    .command('receipt')
    .description(
      "the card company's confirmation of a sale a till approved offline: settled, not honoured (you owe nothing), or not yet forwarded",
    )
    .requiredOption('--terminal <id>', "the till's terminal id, from its offline receipt")
    .requiredOption('--offline-id <id>', "the offline id of the sale, from the till's offline receipt")
    .requiredOption('--backend <host:port>', "the payment network's shopper address")
    .requiredOption('--trust <file>', 'trust anchors (trust.json: card company root, backend CA)')
    .option('--amount <amount>', "the sum on the till's receipt: the card company's must be the same")
    .option('--currency <code>', 'ISO 4217 currency of --amount', 'EUR')
    .option('--atc <n>', "the card's ATC on the till's receipt: the card company's must be the same")
    .option('--reader <name>', 'part of the PC/SC reader name (default: the first reader)')
    .option(
      '--card-file <file>',
      'testers: a simulated card personalized from this file, instead of a reader',
    )
    .option('--card-timeout <ms>', 'how long to wait for the card', '30000')
    .option('--json', 'print one JSON object: confirmation, receipt fields')
    .action(async (o: ReceiptFlags) => {
      let report: PayReport;
      try {
        report = await receiptOnce(o, ext);
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        report = reportError(e);
      }
      printReport(report, o.json === true);
      process.exit(report.exitCode);
    });
}
