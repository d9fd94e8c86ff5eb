/**
 * Pure rules of the temporary password (claims 1, 5, 6): what a code may be issued for, and
 * whether a sale keyed in with one may be paid. Inputs in, a decline code (or null) out. No I/O.
 *
 * ```mermaid
 * stateDiagram-v2
 *   [*] --> live: IssueCode (card + PIN proven)
 *   live --> used: SettleWithCode approved (same commit as the ledger rows)
 *   live --> expired: lifetime over (5 min)
 *   live --> live: declined (over its limit, funds): still usable until it expires
 * ```
 */
import { basketTotal, type DeclineCode, type Item, type Money } from '@bluetill/protocol';
import type { CardRow, MerchantRow, TerminalRow } from '../ports/backend-store';
import type { TemporaryCodeRow } from '../ports/shopper-store';
import { MAX_TRANSACTION_MINOR, isExpired } from './rules';

export const CODE_LIFETIME_MS = 5 * 60_000;
/**
 * Failed codes (wrong, used or expired: each answer tells a guesser something) a merchant's tills
 * may key in per window before codes are refused at all of them for a while, and one till before
 * codes are refused at that till.
 */
export const MAX_WRONG_CODES = 10;
export const MAX_WRONG_CODES_PER_TERMINAL = 5;
export const WRONG_CODE_WINDOW_MS = 10 * 60_000;

/** The limit a code may be issued for: the card's currency, at most one transaction's maximum. */
export function checkCodeIssue(card: CardRow, limit: Money): DeclineCode | null {
  if (limit.currency !== card.currency) return 'currency_unsupported';
  if (limit.minor > MAX_TRANSACTION_MINOR) return 'amount_limit_exceeded';
  return null;
}

export type CodeLookup =
  | { readonly kind: 'live'; readonly code: TemporaryCodeRow }
  | { readonly kind: 'used' }
  | { readonly kind: 'expired' }
  | { readonly kind: 'none' };

/** Answers that count as a failed guess (each tells a guesser something about the code space). */
export const isFailedCodeGuess = (d: DeclineCode | null): boolean =>
  d === 'code_invalid' || d === 'code_used' || d === 'code_expired';

/** Of the codes with one hash (newest first): the live one if any, else what became of the newest. */
export function lookupCode(rows: readonly TemporaryCodeRow[], now: number): CodeLookup {
  const live = rows.find((r) => r.usedAt === null && r.expiresAt > now);
  if (live) return { kind: 'live', code: live };
  const newest = rows[0];
  if (!newest) return { kind: 'none' };
  return newest.usedAt !== null ? { kind: 'used' } : { kind: 'expired' };
}

export interface CodeRedemptionFacts {
  readonly terminal: TerminalRow | undefined;
  readonly merchant: MerchantRow | undefined;
  readonly requestMerchantId: string;
  /** Failed codes keyed in at this merchant within the window, before this one. */
  readonly wrongCodes: number;
  /** Of which at this terminal. */
  readonly wrongCodesAtTerminal: number;
  readonly code: CodeLookup;
  readonly card: CardRow | undefined;
  readonly amount: Money;
  readonly items: readonly Item[];
  readonly availableMinor: number;
  readonly now: number;
}

export function checkCodeRedemption(f: CodeRedemptionFacts): DeclineCode | null {
  if (!f.terminal || f.terminal.status !== 'active') return 'terminal_unknown';
  if (!f.merchant || f.merchant.id !== f.requestMerchantId || f.terminal.merchantId !== f.merchant.id)
    return 'terminal_unknown';
  if (f.merchant.status !== 'active') return 'merchant_inactive';
  if (f.wrongCodes >= MAX_WRONG_CODES || f.wrongCodesAtTerminal >= MAX_WRONG_CODES_PER_TERMINAL)
    return 'code_attempts_exceeded';
  switch (f.code.kind) {
    case 'none':
      return 'code_invalid';
    case 'used':
      return 'code_used';
    case 'expired':
      return 'code_expired';
    case 'live':
      break;
  }
  const code = f.code.code;
  if (!f.card || f.card.id !== code.cardId) return 'unknown_card';
  if (f.card.status !== 'active') return 'card_blocked';
  if (isExpired(f.card.expiry, f.now)) return 'card_expired';
  if (f.amount.currency !== code.currency || f.amount.currency !== f.card.currency)
    return 'currency_unsupported';
  if (f.amount.currency !== f.merchant.currency) return 'currency_not_accepted';
  if (basketTotal(f.items, f.amount.currency).minor !== f.amount.minor) return 'amount_mismatch';
  if (f.amount.minor > code.limitMinor) return 'code_limit_exceeded';
  if (f.amount.minor > MAX_TRANSACTION_MINOR) return 'amount_limit_exceeded';
  if (f.amount.minor > f.availableMinor) return 'insufficient_funds';
  return null;
}
