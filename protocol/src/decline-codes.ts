/**
 * The one normalized set of reasons a payment is declined. Used verbatim on the wire, in the
 * ledger, in logs and in the UI.                                                      [STYLE: errors]
 */
export const DECLINE_CODES = [
  'unknown_card',
  'card_blocked',
  'card_expired',
  'pin_incorrect',
  'pin_tries_exceeded',
  'pin_missing',
  'card_authentication_failed',
  'unpredictable_number_invalid',
  'authorization_invalid',
  'cryptogram_invalid',
  'atc_replayed',
  'insufficient_funds',
  'amount_limit_exceeded',
  'currency_unsupported',
  'merchant_inactive',
  'terminal_unknown',
  'amount_mismatch',
  'items_mismatch',
  'backend_unavailable',
  'cancelled',
  'original_not_found',
  'not_refundable',
  'refund_exceeds_original',
  'not_voidable',
  'code_invalid',
  'code_used',
  'code_expired',
  'code_limit_exceeded',
  'code_attempts_exceeded',
  'merchant_card_unknown',
  'merchant_card_blocked',
  'merchant_card_invalid',
] as const;

export type DeclineCode = (typeof DECLINE_CODES)[number];

export const isDeclineCode = (s: string): s is DeclineCode => (DECLINE_CODES as readonly string[]).includes(s);

const TEXT: Record<DeclineCode, string> = {
  unknown_card: 'Card not recognised',
  card_blocked: 'Card blocked',
  card_expired: 'Card expired',
  pin_incorrect: 'Incorrect PIN',
  pin_tries_exceeded: 'PIN tries exceeded: card locked',
  pin_missing: 'PIN required',
  card_authentication_failed: 'Card could not be authenticated',
  unpredictable_number_invalid: 'Session expired: please try again',
  authorization_invalid: 'Authorization not valid for this payment',
  cryptogram_invalid: 'Card cryptogram invalid',
  atc_replayed: 'Card transaction counter replayed',
  insufficient_funds: 'Insufficient funds',
  amount_limit_exceeded: 'Amount over the limit',
  currency_unsupported: 'Currency not supported',
  merchant_inactive: 'Merchant not active',
  terminal_unknown: 'Terminal not registered',
  amount_mismatch: 'Amount differs from the till',
  items_mismatch: 'Items differ from the till',
  backend_unavailable: 'Payment network unavailable',
  cancelled: 'Cancelled',
  original_not_found: 'Original payment not found',
  not_refundable: 'Payment cannot be refunded (declined or voided)',
  refund_exceeds_original: 'Refund exceeds what is left of the payment',
  not_voidable: 'Payment cannot be voided (refunded, or its batch is closed)',
  code_invalid: 'Payment code not recognised',
  code_used: 'Payment code already used',
  code_expired: 'Payment code expired',
  code_limit_exceeded: 'Amount over the payment code\'s limit',
  code_attempts_exceeded: 'Too many wrong payment codes: try again later',
  merchant_card_unknown: 'Merchant card not registered',
  merchant_card_blocked: 'Merchant card blocked',
  merchant_card_invalid: 'Merchant card could not be authenticated',
};

export const declineText = (code: DeclineCode): string => TEXT[code];
