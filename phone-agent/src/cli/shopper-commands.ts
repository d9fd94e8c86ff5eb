/**
 * `bluetill-phone pay --code` and `bluetill-phone pay --merchant-card`: the phone talks to the
 * backend's shopper-facing listener directly (claims 1, 2, 5-8). Composition roots: the gRPC
 * shopper backend (TLS checked against the backend CA in the trust file), the card(s), the prompt.
 */
import { randomBytes } from 'node:crypto';
import {
  basketTotal,
  formatMoney,
  formatReceiptText,
  type Item,
  type Money,
  type Receipt,
} from '@bluetill/protocol';
import { GrpcShopperBackend } from '../adapters/shopper-backend.grpc';
import { PromptError } from '../adapters/prompt.terminal';
import { CardReadError } from '../core/card/card-read-error';
import { requestCode, type CodeOutcome } from '../core/code-flow';
import { payMerchantCard, type MerchantPaymentOutcome } from '../core/merchant-card-flow';
import { PhoneError } from '../core/phone-error';
import { CardReaderError } from '../ports/card-reader';
import { ShopperBackendError, type ShopperBackend } from '../ports/shopper-backend';
import type { Prompt } from '../ports/prompt';
import { openCard, type CardChoice, type SimulatedCardMaker } from './card-source';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { cardMessage, receiptFields, type PayReport } from './pay-report';
import type { Trust } from './trust-file';

export interface ShopperCommandOptions {
  readonly backend: string;
  readonly trust: Trust;
  readonly prompt: Prompt;
  readonly card: CardChoice;
  readonly cardTimeoutMs: number;
  readonly simulatedCards?: SimulatedCardMaker;
}

/** The card company's shopper listener at `--backend`, its TLS checked against the trust file's backend CA. */
export function shopperBackend(o: Pick<ShopperCommandOptions, 'backend' | 'trust'>): GrpcShopperBackend {
  if (!o.trust.backendTlsCa)
    throw CliError.usage(
      'trust_file',
      'the trust file has no backendTlsCa: the backend cannot be checked (get a trust file from a newer seed)',
    );
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(o.backend))
    throw CliError.usage('usage', `--backend must be HOST:PORT, got "${o.backend.slice(0, 40)}"`);
  return new GrpcShopperBackend({ address: o.backend, backendCa: o.trust.backendTlsCa });
}

/** Failures of the phone-direct flows as a report (nothing was charged in any of them, except an unanswered PayMerchant). */
export function failure(e: unknown, paymentSent: boolean, paymentKey?: string): PayReport {
  if (e instanceof PromptError)
    return {
      outcome: 'cancelled',
      exitCode: EXIT.notCharged,
      message: `Cancelled (${e.message}): nothing was charged.`,
      charged: 'no',
      error: { code: e.code, message: e.message },
    };
  if (e instanceof ShopperBackendError) {
    const unknown =
      paymentSent && e.code !== 'rejected' && e.code !== 'untrusted' && e.code !== 'not_shopper_listener';
    const text =
      e.code === 'untrusted'
        ? 'The payment network could not prove who it is (its TLS certificate does not chain to the backend CA in the trust file).'
        : e.code === 'not_shopper_listener'
          ? '--backend names the card company\'s port for tills, which asks for a till\'s certificate; phones use its shopper port (by default the next port up; bluetill-backend serve prints it as "shopper listener on HOST:PORT").'
          : e.code === 'rejected'
            ? `The payment network refused the request: ${e.message}.`
            : 'The payment network did not answer.';
    if (unknown) {
      return {
        outcome: 'unknown',
        exitCode: EXIT.unknown,
        charged: 'unknown',
        error: { code: e.code, message: e.message },
        ...(paymentKey ? { terminalTxnId: paymentKey } : {}),
        message: `Outcome unknown: ${text} The payment may have gone through: ask the merchant for transaction ${paymentKey ?? '(unknown)'} before paying again.`,
      };
    }
    return {
      outcome: 'failed',
      exitCode: EXIT.notCharged,
      charged: 'no',
      message: `Failed: ${text} Nothing was charged.`,
      error: { code: e.code, message: e.message },
    };
  }
  if (e instanceof CardReadError || e instanceof CardReaderError) {
    const card = cardMessage(e);
    return {
      outcome: 'failed',
      exitCode: EXIT.notCharged,
      charged: 'no',
      message: `Failed: ${card.message} Nothing was charged.`,
      error: { code: card.code, message: e.message },
    };
  }
  if (e instanceof PhoneError) {
    const message =
      e.code === 'backend_untrusted'
        ? 'The PIN key is not certified by the card company; the PIN was not sent.'
        : `${e.message.replace(/[.\s]+$/, '')}.`;
    return {
      outcome: 'failed',
      exitCode: EXIT.notCharged,
      charged: 'no',
      message: `Failed: ${message} Nothing was charged.`,
      error: { code: e.code, message: e.message },
    };
  }
  throw e;
}

export interface CodeReport extends PayReport {
  readonly paymentCode?: {
    readonly code: string;
    readonly limit: Money;
    readonly limitText: string;
    readonly expiresAt: string;
  };
}

export function codeReport(out: CodeOutcome): CodeReport {
  if (out.kind === 'declined') {
    const tries =
      out.pinTriesLeft !== undefined && out.reason === 'pin_incorrect'
        ? ` (${out.pinTriesLeft} ${out.pinTriesLeft === 1 ? 'try' : 'tries'} left)`
        : '';
    return {
      outcome: 'declined',
      exitCode: EXIT.declined,
      charged: 'no',
      reason: out.reason,
      message: `Declined: ${out.text}${tries}. No code was issued.`,
      ...(out.pinTriesLeft !== undefined ? { pinTriesLeft: out.pinTriesLeft } : {}),
    };
  }
  const expiresAt = new Date(out.expiresAtMs).toISOString();
  const limitText = formatMoney(out.limit);
  return {
    outcome: 'approved',
    exitCode: EXIT.ok,
    charged: 'no',
    card: out.maskedPan,
    paymentCode: { code: out.code, limit: out.limit, limitText, expiresAt },
    message: `Payment code ${out.code.slice(0, 4)} ${out.code.slice(4)}\nfor up to ${limitText}, once, until ${expiresAt.replace('T', ' ').slice(0, 19)} UTC (card ${out.maskedPan}).\nTell it to the cashier; it pays one sale.`,
  };
}

export async function runCodeCommand(
  o: ShopperCommandOptions & { readonly limit: Money },
): Promise<CodeReport> {
  const backend = shopperBackend(o);
  const card = await openCard(o.card, {
    progress: (s) => o.prompt.progress(s),
    waitTimeoutMs: o.cardTimeoutMs,
    ...(o.simulatedCards ? { simulatedCards: o.simulatedCards } : {}),
  });
  try {
    return codeReport(
      await requestCode({ backend, card: card.card, prompt: o.prompt, trust: o.trust, limit: o.limit }),
    );
  } catch (e) {
    return failure(e, false);
  } finally {
    await card.close().catch(() => undefined);
    backend.close();
  }
}

export function merchantReport(out: MerchantPaymentOutcome): PayReport {
  const withReceipt = (r: { receipt?: Receipt }) =>
    r.receipt
      ? {
          receipt: receiptFields(r.receipt),
          receiptText: formatReceiptText(r.receipt),
          card: r.receipt.maskedPan,
          terminalTxnId: r.receipt.terminalTxnId,
        }
      : {};
  switch (out.kind) {
    case 'approved':
      return {
        outcome: 'approved',
        exitCode: EXIT.ok,
        charged: 'yes',
        message: `Approved: ${out.receipt.merchantName}, code ${out.receipt.approvalCode}${out.replayed ? ' (confirmed on retry)' : ''}`,
        ...withReceipt(out),
      };
    case 'declined': {
      const tries =
        out.pinTriesLeft !== undefined && out.reason === 'pin_incorrect'
          ? ` (${out.pinTriesLeft} ${out.pinTriesLeft === 1 ? 'try' : 'tries'} left)`
          : '';
      return {
        outcome: 'declined',
        exitCode: EXIT.declined,
        charged: 'no',
        reason: out.reason,
        message: `Declined: ${out.text}${tries}`,
        ...(out.pinTriesLeft !== undefined ? { pinTriesLeft: out.pinTriesLeft } : {}),
        ...withReceipt(out),
      };
    }
    case 'cancelled':
      return {
        outcome: 'cancelled',
        exitCode: EXIT.notCharged,
        charged: 'no',
        message: 'Cancelled: nothing was charged.',
      };
  }
}

export async function runMerchantCardCommand(
  o: ShopperCommandOptions & {
    readonly merchantCard: CardChoice;
    readonly items: readonly Item[];
    readonly total: Money;
    readonly idempotencyKey?: string;
  },
): Promise<PayReport> {
  const backend = shopperBackend(o);
  const progress = (s: string) => o.prompt.progress(s);
  const sim = o.simulatedCards ? { simulatedCards: o.simulatedCards } : {};
  const merchantCard = await openCard(o.merchantCard, { progress, waitTimeoutMs: o.cardTimeoutMs, ...sim });
  const card = await openCard(o.card, { progress, waitTimeoutMs: o.cardTimeoutMs, ...sim }).catch(
    async (e: unknown) => {
      await merchantCard.close().catch(() => undefined);
      throw e;
    },
  );
  let sent = false;
  // Whether the PayMerchant request left the phone: after that, a lost answer is an unknown outcome.
  const counting: ShopperBackend = {
    challenge: () => backend.challenge(),
    issueCode: (r) => backend.issueCode(r),
    payMerchant: (r) => {
      sent = true;
      return backend.payMerchant(r);
    },
    getOutcome: (r) => backend.getOutcome(r),
    getOfflineReceipt: (r) => backend.getOfflineReceipt(r),
    close: () => backend.close(),
  };
  const idempotencyKey =
    o.idempotencyKey ?? `P-${Date.now().toString(36)}-${randomBytes(12).toString('hex')}`;
  try {
    return merchantReport(
      await payMerchantCard({
        backend: counting,
        merchantCard: merchantCard.card,
        card: card.card,
        prompt: o.prompt,
        trust: o.trust,
        items: o.items,
        total: o.total,
        idempotencyKey,
      }),
    );
  } catch (e) {
    return failure(e, sent, idempotencyKey);
  } finally {
    await card.close().catch(() => undefined);
    await merchantCard.close().catch(() => undefined);
    backend.close();
  }
}

/** The sale given on the command line: its items, their total, and (if given) the amount it must equal. */
export function saleFrom(
  items: readonly Item[],
  currency: string,
  amountMinor?: number,
): { items: readonly Item[]; total: Money } {
  if (items.length === 0)
    throw CliError.usage(
      'usage',
      '--merchant-card needs the items: --item SKU:NAME:QTY:PRICE (repeat) or --items FILE',
    );
  const total = basketTotal(items, currency);
  if (amountMinor !== undefined && amountMinor !== total.minor)
    throw CliError.usage(
      'usage',
      `--amount ${formatMoney({ minor: amountMinor, currency })} differs from the items' total ${formatMoney(total)}`,
    );
  return { items, total };
}
