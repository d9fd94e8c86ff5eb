/**
 * Edge checks for every request: sizes, lengths, formats. A failure names the field (never its
 * value) and becomes INVALID_ARGUMENT; nothing malformed reaches the use cases.          [ISO]
 */
import {
  OFFLINE_ID_PREFIX,
  isOfflineId,
  SUPPORTED_CURRENCIES,
  cvmNameOf,
  type AuthorizeRequest,
  type CardData,
  type Cryptogram,
  type ChallengeRequest,
  type CloseBatchRequest,
  type GetSettlementRequest,
  type Item,
  type ListTransactionsRequest,
  type Money,
  type RefundRequest,
  type CancelRequest,
  CANCEL_REASONS,
  type OfflineReceiptRequest,
  type OutcomeRequest,
  type SettleRequest,
  type ForwardOfflineRequest,
  type GetOfflineParametersRequest,
  type VoidRequest,
  isTemporaryCode,
  type IssueCodeRequest,
  type PayMerchantRequest,
  type SettleWithCodeRequest,
  type ShopperChallengeRequest,
} from '@bluetill/protocol';
import { RequestError } from '../../app/request-error';

const fail = (field: string, why: string): never => {
  throw new RequestError('invalid_argument', `${field}: ${why}`);
};
const id = (field: string, v: string) =>
  /^[A-Za-z0-9._-]{1,64}$/.test(v) ? v : fail(field, 'must be 1-64 characters of A-Z a-z 0-9 . _ -');
const bytes = (field: string, v: Uint8Array, min: number, max: number) =>
  v.length >= min && v.length <= max ? v : fail(field, `must be ${min}-${max} bytes`);

function card(c: CardData | undefined): void {
  if (!c) fail('card', 'required');
  if (!/^\d{12,19}$/.test(c!.pan)) fail('card.pan', 'must be 12-19 digits');
  if (!/^\d\d(0[1-9]|1[0-2])$/.test(c!.expiry)) fail('card.expiry', 'must be YYMM');
  if (c!.cardholderName.length > 26) fail('card.cardholder_name', 'at most 26 characters');
  if (c!.panSequence > 99) fail('card.pan_sequence', 'at most 99');
  bytes('card.records', c!.records, 0, 4096);
  bytes('card.signed_dynamic_data', c!.signedDynamicData, 0, 512);
  const ac = c!.authorizationCryptogram;
  if (ac) {
    bytes('card.authorization_cryptogram.arqc', ac.arqc, 0, 8);
    if (ac.atc > 0xffff) fail('card.authorization_cryptogram.atc', 'at most 65535');
    bytes('card.authorization_cryptogram.cdol_data', ac.cdolData, 0, 256);
    bytes('card.authorization_cryptogram.iad', ac.iad, 0, 32);
    bytes('card.authorization_cryptogram.cvm_results', ac.cvmResults, 0, 3);
  }
}

function money(field: string, m: Money | undefined): void {
  if (!m) fail(field, 'required');
  if (!Number.isSafeInteger(m!.minor) || m!.minor <= 0) fail(`${field}.minor`, 'must be a positive integer');
  if (!SUPPORTED_CURRENCIES.includes(m!.currency)) fail(`${field}.currency`, 'unsupported currency');
}

/**
 * The items' SKUs and names together, in UTF-8 bytes. A declined sale's signed receipt carries
 * them back in the decline trailer (FAILED_PRECONDITION, `bluetill-decline-bin`), and HTTP/2
 * peers accept ~64 KiB of headers (grpc-js hangs past it): this keeps every decline's trailer far
 * below DECLINE_TRAILER_MAX_BYTES. A till's basket also crosses BLE in messages of at most 8 KiB.
 */
export const ITEMS_TEXT_MAX_BYTES = 16 * 1024;

function items(list: readonly Item[]): void {
  if (list.length < 1 || list.length > 200) fail('items', 'must have 1-200 items');
  let text = 0;
  list.forEach((it, i) => {
    id(`items[${i}].sku`, it.sku);
    if (it.name.length < 1 || it.name.length > 80) fail(`items[${i}].name`, 'must be 1-80 characters');
    if (!Number.isInteger(it.quantity) || it.quantity < 1 || it.quantity > 9999)
      fail(`items[${i}].quantity`, 'must be 1-9999');
    if (!Number.isSafeInteger(it.unitPriceMinor) || it.unitPriceMinor < 0 || it.unitPriceMinor > 100_000_000)
      fail(`items[${i}].unit_price_minor`, 'out of range');
    text += it.sku.length + Buffer.byteLength(it.name, 'utf8');
  });
  if (text > ITEMS_TEXT_MAX_BYTES)
    fail('items', `SKUs and names together must be at most ${ITEMS_TEXT_MAX_BYTES} bytes (UTF-8)`);
}

/** The card's application cryptogram: present, each field within its EMV size. */
function cryptogram(c: Cryptogram | undefined): void {
  if (!c) return fail('cryptogram', 'required');
  bytes('cryptogram.arqc', c.arqc, 0, 8);
  if (c.atc > 0xffff) fail('cryptogram.atc', 'at most 65535');
  bytes('cryptogram.cdol_data', c.cdolData, 0, 256);
  bytes('cryptogram.iad', c.iad, 0, 32);
}

export function validateChallenge(r: ChallengeRequest): ChallengeRequest {
  id('terminal_id', r.terminalId);
  return r;
}

export function validateAuthorize(r: AuthorizeRequest): AuthorizeRequest {
  id('terminal_id', r.terminalId);
  bytes('unpredictable_number', r.unpredictableNumber, 4, 4);
  card(r.card);
  bytes('sealed_pin_block', r.sealedPinBlock, 0, 256);
  const cvm = cvmNameOf(r.cvmMethod ?? 0);
  if (!cvm) fail('cvm_method', 'not a known method');
  // A method the card checks carries no PIN block: an attempt to have both judged is refused.
  if (cvm !== 'online_pin' && r.sealedPinBlock.length > 0)
    fail('sealed_pin_block', 'must be empty when the card verified the cardholder');
  return r;
}

/** What a Settle and a Cancel share: the till's ids, the authorization, the card, the basket. */
function paymentFields(r: SettleRequest | CancelRequest): void {
  id('terminal_id', r.terminalId);
  id('terminal_txn_id', r.terminalTxnId);
  id('merchant_id', r.merchantId);
  if (r.authorizationRef.length < 1 || r.authorizationRef.length > 128)
    fail('authorization_ref', 'must be 1-128 characters');
  card(r.card);
  money('amount', r.amount);
  items(r.items);
}

export function validateSettle(r: SettleRequest): SettleRequest {
  paymentFields(r);
  cryptogram(r.cryptogram);
  return r;
}

/** A till's Cancel: its ids, the basket, the card as authorized, the cryptogram when the phone sent one. */
export function validateCancel(r: CancelRequest): CancelRequest {
  paymentFields(r);
  if (r.cryptogram) cryptogram(r.cryptogram);
  if (!(CANCEL_REASONS as readonly string[]).includes(r.reason))
    fail('reason', `must be one of ${CANCEL_REASONS.join(', ')}`);
  return r;
}

export function validateGetSettlement(r: GetSettlementRequest): GetSettlementRequest {
  id('terminal_id', r.terminalId);
  id('terminal_txn_id', r.terminalTxnId);
  return r;
}

export function validateRefund(r: RefundRequest): RefundRequest {
  id('terminal_id', r.terminalId);
  id('terminal_txn_id', r.terminalTxnId);
  id('refund_txn_id', r.refundTxnId);
  money('amount', r.amount);
  return r;
}

export function validateVoid(r: VoidRequest): VoidRequest {
  id('terminal_id', r.terminalId);
  id('terminal_txn_id', r.terminalTxnId);
  return r;
}

export function validateCloseBatch(r: CloseBatchRequest): CloseBatchRequest {
  id('terminal_id', r.terminalId);
  if (r.closeRequestId !== '') id('close_request_id', r.closeRequestId);
  return r;
}

export function validateListTransactions(r: ListTransactionsRequest): ListTransactionsRequest {
  id('terminal_id', r.terminalId);
  if (!Number.isSafeInteger(r.fromMs) || r.fromMs < 0) fail('from_ms', 'must be a non-negative integer');
  if (!Number.isSafeInteger(r.toMs) || r.toMs < 0) fail('to_ms', 'must be a non-negative integer');
  if (r.toMs !== 0 && r.toMs < r.fromMs) fail('to_ms', 'must not be before from_ms');
  return r;
}

export function validateSettleWithCode(r: SettleWithCodeRequest): SettleWithCodeRequest {
  id('terminal_id', r.terminalId);
  id('terminal_txn_id', r.terminalTxnId);
  id('merchant_id', r.merchantId);
  if (!isTemporaryCode(r.code)) fail('code', 'must be 8 digits');
  money('amount', r.amount);
  items(r.items);
  return r;
}

export function validateShopperChallenge(r: ShopperChallengeRequest): ShopperChallengeRequest {
  return r;
}

export function validateIssueCode(r: IssueCodeRequest): IssueCodeRequest {
  bytes('unpredictable_number', r.unpredictableNumber, 4, 4);
  card(r.card);
  bytes('sealed_pin_block', r.sealedPinBlock, 0, 256);
  money('amount_limit', r.amountLimit);
  return r;
}

export function validateGetOutcome(r: OutcomeRequest): OutcomeRequest {
  bytes('unpredictable_number', r.unpredictableNumber, 4, 4);
  card(r.card);
  id('terminal_id', r.terminalId);
  id('terminal_txn_id', r.terminalTxnId);
  if (!Number.isInteger(r.atc) || r.atc < 1 || r.atc > 0xffff) fail('atc', 'must be 1-65535');
  money('amount', r.amount);
  return r;
}

export function validateGetOfflineReceipt(r: OfflineReceiptRequest): OfflineReceiptRequest {
  bytes('unpredictable_number', r.unpredictableNumber, 4, 4);
  card(r.card);
  id('terminal_id', r.terminalId);
  id('offline_id', r.offlineId);
  return r;
}

export function validatePayMerchant(r: PayMerchantRequest): PayMerchantRequest {
  if (!/^[A-Za-z0-9._-]{8,64}$/.test(r.idempotencyKey))
    fail('idempotency_key', 'must be 8-64 characters of A-Z a-z 0-9 . _ -');
  bytes('unpredictable_number', r.unpredictableNumber, 4, 4);
  if (!r.merchantCard) fail('merchant_card', 'required');
  try {
    card(r.merchantCard);
  } catch (e) {
    throw new RequestError('invalid_argument', `merchant_${(e as Error).message}`);
  }
  card(r.card);
  bytes('sealed_pin_block', r.sealedPinBlock, 0, 256);
  money('amount', r.amount);
  items(r.items);
  cryptogram(r.cryptogram);
  return r;
}

/** A till's forwarded offline sale: its ids, the card's TC (its own bytes, each within its size), the basket, when. */
export function validateGetOfflineParameters(r: GetOfflineParametersRequest): GetOfflineParametersRequest {
  id('terminal_id', r.terminalId);
  return r;
}

export function validateForwardOffline(r: ForwardOfflineRequest): ForwardOfflineRequest {
  id('terminal_id', r.terminalId);
  id('offline_id', r.offlineId);
  if (!isOfflineId(r.offlineId)) fail('offline_id', `must start with ${OFFLINE_ID_PREFIX}`);
  id('merchant_id', r.merchantId);
  if (!r.tc) fail('tc', 'required');
  bytes('tc.records', r.tc!.records, 1, 4096);
  bytes('tc.pdol_data', r.tc!.pdolData, 1, 256);
  bytes('tc.cdol1_data', r.tc!.cdol1Data, 1, 256);
  bytes('tc.response', r.tc!.response, 1, 1024);
  money('amount', r.amount);
  items(r.items);
  if (!Number.isSafeInteger(r.approvedAtMs) || r.approvedAtMs <= 0)
    fail('approved_at_ms', 'must be ms since the epoch');
  return r;
}
