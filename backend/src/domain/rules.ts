/**
 * Pure authorization and settlement rules: inputs in, a decline code (or null) out. No I/O.
 */
import type { CardCounters, Cvr, CvmName, DeclineCode, Item, Money } from '@bluetill/protocol';
import { SUPPORTED_CURRENCIES, basketTotal, cvrResultOf, cvrShowsFailure } from '@bluetill/protocol';
import type {
  AuthorizationRow,
  CardRow,
  MerchantRow,
  SettleCard,
  SettlementRow,
  TerminalRow,
} from '../ports/backend-store';

export const MAX_PIN_TRIES = 3;
export const CHALLENGE_LIFETIME_MS = 60_000;
export const AUTHORIZATION_LIFETIME_MS = 5 * 60_000;
export const MAX_TRANSACTION_MINOR = 1_000_000; // 10,000.00 per transaction

/** Expiry YYMM is valid through the last day of that month (UTC). */
export function isExpired(expiry: string, now: number): boolean {
  const yy = Number(expiry.slice(0, 2));
  const mm = Number(expiry.slice(2, 4));
  const firstOfNextMonth = Date.UTC(2000 + yy, mm, 1);
  return now >= firstOfNextMonth;
}

/** Card status and expiry, checked before the PIN. */
export function checkCard(
  card: Pick<CardRow, 'status' | 'expiry' | 'pinTries'> | undefined,
  now: number,
): DeclineCode | null {
  if (!card) return 'unknown_card';
  if (card.status !== 'active') return 'card_blocked';
  if (isExpired(card.expiry, now)) return 'card_expired';
  if (card.pinTries >= MAX_PIN_TRIES) return 'pin_tries_exceeded';
  return null;
}

/**
 * One budget of MAX_PIN_TRIES guesses at the cardholder's PIN, whether typed online (the server
 * counts them) or at the card (offline PIN: the card counts them and signs its PIN Try Counter,
 * 9F17, in the DDA over this authorization's UN). The card's share is MAX_PIN_TRIES − its tries
 * left (bluetill cards are issued with a limit of 3; a higher limit counts only below 3 left).
 * No counters (a card issued before it signed them): 0, the server's counter alone, as before.
 */
export function cardWrongPinTries(counters: CardCounters | undefined): number {
  return counters ? Math.max(0, MAX_PIN_TRIES - counters.pinTriesLeft) : 0;
}

/** Guesses left in the one budget: the server's wrong tries and the card's signed ones together. */
export function pinTriesLeft(serverTries: number, counters: CardCounters | undefined): number {
  return Math.max(0, MAX_PIN_TRIES - serverTries - cardWrongPinTries(counters));
}

/**
 * Before any PIN is looked at, for every method: the budget spent (server's wrong tries plus the
 * card's signed ones reach MAX_PIN_TRIES, or the card signed 0 left) is `pin_tries_exceeded`, no
 * PIN checked (no oracle), and the caller locks the server's counter so no method pays until the
 * issuer unlocks it.
 */
export function pinBudgetSpent(serverTries: number, counters: CardCounters | undefined): boolean {
  return counters?.pinTriesLeft === 0 || pinTriesLeft(serverTries, counters) === 0;
}

/**
 * Online PIN is not checked for a card that signed another of its methods locked (fingerprint or
 * knowledge secret at 0 tries left): `cvm_tries_exceeded`, as at settlement from the CVR. Those
 * counters are the card's own (other secrets, not guesses at the PIN) and do not join the budget.
 */
export function otherMethodLocked(counters: CardCounters | undefined): boolean {
  return counters?.biometricTriesLeft === 0 || counters?.knowledgeTriesLeft === 0;
}

/**
 * The server's try counter after an online PIN attempt, and the decline if any. `cardWrong`: the
 * card's share of the budget (cardWrongPinTries); the wrong guess that spends the budget sets the
 * server's counter to MAX_PIN_TRIES (locked) and is `pin_tries_exceeded`.
 */
export function pinOutcome(
  triesBefore: number,
  matched: boolean,
  cardWrong = 0,
): { tries: number; decline: DeclineCode | null } {
  if (matched) return { tries: 0, decline: null };
  const tries = triesBefore + 1;
  if (tries + cardWrong >= MAX_PIN_TRIES)
    return { tries: Math.max(tries, MAX_PIN_TRIES), decline: 'pin_tries_exceeded' };
  return { tries, decline: 'pin_incorrect' };
}

export interface SettlementFacts {
  readonly terminal: TerminalRow | undefined;
  readonly merchant: MerchantRow | undefined;
  readonly requestMerchantId: string;
  readonly authorization: AuthorizationRow | undefined;
  readonly card: SettleCard | undefined;
  readonly amount: Money;
  readonly items: readonly Item[];
  readonly availableMinor: number;
  /**
   * The card had used this cryptogram's ATC before (CardStore.useAtc said so). Each ATC is used at
   * most once per card, in any order: an online payment whose ATC is below one an offline TC or
   * another till already settled still settles.
   */
  readonly atcUsed: boolean;
  /** Result of the ARQC check (verifyCryptogram): null when the card's cryptogram is valid. */
  readonly cryptogram: DeclineCode | null;
  /** The card verification results from the cryptogram's IAD; trusted only when `cryptogram` is null. */
  readonly cvr: Cvr | undefined;
  readonly now: number;
}

/**
 * A cardholder verification the card performed counts only when the card signed it.
 * Called only with the CVR of a cryptogram that verified (the ARQC covers the IAD). The declared
 * method must show as performed and passed; any method the card saw fail in the same session
 * declines, whatever was declared (never a weaker method after a failed one). Online PIN was
 * checked by the authorization server; the card must not have seen a failure either.
 */
export function checkCardholderVerification(method: CvmName, cvr: Cvr | undefined): DeclineCode | null {
  if (!cvr) return 'cvm_failed';
  if (method === 'online_pin') {
    // The card's own PIN counter is the same secret's: once the card has signed that its limit
    // was exceeded, online PIN is over too (the guesses at the card and at the server are one budget).
    if (cvr.pinTryLimitExceeded) return 'pin_tries_exceeded';
    if (cvr.biometricTryLimitExceeded === true || cvr.knowledgeTryLimitExceeded === true)
      return 'cvm_tries_exceeded';
    return cvrShowsFailure(cvr) ? 'cvm_failed' : null;
  }
  const r = cvrResultOf(method, cvr);
  if (r.performed && !r.failed && !r.locked && !cvrShowsFailure(cvr)) return null;
  const pin = method === 'offline_pin';
  if (r.locked) return pin ? 'pin_tries_exceeded' : 'cvm_tries_exceeded';
  if (r.performed && r.failed && pin) return 'pin_incorrect';
  return 'cvm_failed';
}

export function checkSettlement(f: SettlementFacts): DeclineCode | null {
  if (!f.terminal || f.terminal.status !== 'active') return 'terminal_unknown';
  if (!f.merchant || f.merchant.id !== f.requestMerchantId || f.terminal.merchantId !== f.merchant.id)
    return 'terminal_unknown';
  if (f.merchant.status !== 'active') return 'merchant_inactive';
  if (!f.card) return 'unknown_card';
  const auth = f.authorization;
  if (
    !auth ||
    auth.cardId !== f.card.id ||
    auth.terminalId !== f.terminal.id ||
    auth.settled ||
    auth.expiresAt < f.now
  )
    return 'authorization_invalid';
  if (f.card.status !== 'active') return 'card_blocked';
  if (f.cryptogram) return f.cryptogram;
  const cvm = checkCardholderVerification(auth.cvm, f.cvr);
  if (cvm) return cvm;
  // Amounts are never converted: the sale is in the card's currency and the merchant's.
  if (!SUPPORTED_CURRENCIES.includes(f.amount.currency) || f.amount.currency !== f.card.currency)
    return 'currency_unsupported';
  if (f.amount.currency !== f.merchant.currency) return 'currency_not_accepted';
  if (basketTotal(f.items, f.amount.currency).minor !== f.amount.minor) return 'amount_mismatch';
  if (f.amount.minor > MAX_TRANSACTION_MINOR) return 'amount_limit_exceeded';
  if (f.atcUsed) return 'atc_replayed';
  if (f.amount.minor > f.availableMinor) return 'insufficient_funds';
  return null;
}

/** The terminal may act for its merchant only while both are active. */
function checkTerminal(
  terminal: TerminalRow | undefined,
  merchant: MerchantRow | undefined,
): DeclineCode | null {
  if (!terminal || terminal.status !== 'active' || !merchant || terminal.merchantId !== merchant.id)
    return 'terminal_unknown';
  if (merchant.status !== 'active') return 'merchant_inactive';
  return null;
}

export interface RefundFacts {
  readonly terminal: TerminalRow | undefined;
  readonly merchant: MerchantRow | undefined;
  /** The original sale, looked up by (terminal, its terminal transaction id). */
  readonly sale: SettlementRow | undefined;
  readonly saleVoided: boolean;
  /** Sum of the sale's approved refunds so far. */
  readonly refundedMinor: number;
  readonly amount: Money;
}

/** A refund: of an approved, not voided sale of this merchant, at most what is left of it. */
export function checkRefund(f: RefundFacts): DeclineCode | null {
  const t = checkTerminal(f.terminal, f.merchant);
  if (t) return t;
  if (!f.sale || f.sale.merchantId !== f.merchant!.id) return 'original_not_found';
  if (!f.sale.approved || f.saleVoided) return 'not_refundable';
  if (f.amount.currency !== f.sale.currency) return 'currency_unsupported';
  if (f.amount.minor > f.sale.amountMinor - f.refundedMinor) return 'refund_exceeds_original';
  return null;
}

export interface VoidFacts {
  readonly terminal: TerminalRow | undefined;
  readonly merchant: MerchantRow | undefined;
  readonly sale: SettlementRow | undefined;
  readonly refundedMinor: number;
  /** The terminal's open batch, if any. */
  readonly openBatchId: number | null;
}

/** A void: of an approved sale of the terminal's open batch that has no refunds. */
export function checkVoid(f: VoidFacts): DeclineCode | null {
  const t = checkTerminal(f.terminal, f.merchant);
  if (t) return t;
  if (!f.sale || f.sale.merchantId !== f.merchant!.id) return 'original_not_found';
  if (!f.sale.approved || f.sale.batchId === null || f.sale.batchId !== f.openBatchId || f.refundedMinor > 0)
    return 'not_voidable';
  return null;
}
