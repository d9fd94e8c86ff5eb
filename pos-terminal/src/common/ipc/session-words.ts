/**
 * What the cashier reads for each reason a phone's session ends: one table from code to words.
 * A session records its reason as `<source>: <code>` (session.ts: `disconnected: …`, `phone: …`,
 * `protocol error: …`, `payment network: …`, or a refusal `<code>: <message>`) or as a sentence;
 * `reasonWords` turns the coded ones into a sentence and never shows a code.
 */
import type { ChannelErrorCode, FrameErrorCode, MessageError, StreamError } from '@bluetill/protocol';
import type { BackendErrorCode } from '../ports/backend-client';

/** Why the BLE link ended (protocol's `disconnectReason`). */
export const DISCONNECT_WORDS = {
  remote_user_terminated: 'the phone ended the connection',
  supervision_timeout: 'the phone went out of range',
  local_host_terminated: 'the till ended the connection',
  failed_to_establish: 'the connection could not be set up',
  unknown: 'the connection dropped',
} as const satisfies Record<string, string>;

/** What the phone said when it stopped (the Error message's code). */
export const PHONE_WORDS = {
  cancelled: 'the shopper cancelled on the phone',
  card_error: 'the phone could not read the card',
  cvm_failed: 'the shopper could not be verified on the phone',
} as const satisfies Record<string, string>;

/** Why the till refused a phone (session.ts `refuse`). */
export const REFUSAL_WORDS = {
  unexpected_message: 'the phone sent a message out of order',
  bad_message: 'the phone sent a message the till cannot use',
  busy: 'the till was busy; the phone may try again',
  bad_resume_token: 'the phone asked about a payment the till does not know',
} as const satisfies Record<string, string>;

/** A broken BLE frame, message, message stream or secure channel. */
export const PROTOCOL_WORDS: Record<
  FrameErrorCode | ChannelErrorCode | MessageError['code'] | StreamError['code'],
  string
> = {
  malformed: 'the phone sent a message the till cannot read',
  empty: 'the phone sent an empty message',
  clear_after_handshake: 'the phone sent an unencrypted message on the encrypted link',
  sealed_before_handshake: 'the phone sent a message before the link was encrypted',
  nested_seal: 'the phone sent a broken message',
  empty_value: 'the phone sent an empty message',
  value_too_large: 'the phone sent a message too large',
  message_too_large: 'the phone sent a message too large',
  bad_length: 'the phone sent a broken message',
  unexpected_continuation: 'the phone sent a broken message',
  unexpected_first: 'the phone sent a broken message',
  counter_mismatch: 'the phone sent a broken message',
  too_much_data: 'the phone sent more than announced',
  length_mismatch: 'the phone sent a broken message',
  reassembly_timeout: 'the phone stopped in the middle of a message',
  bad_hello: 'the phone greeted the till wrongly',
  untrusted_terminal: 'the phone does not trust this till',
  untrusted_pin_key: "the phone does not trust the till's PIN key",
  untrusted_statement: "the phone does not trust the till's statement",
  bad_signature: 'a signature did not check out',
  bad_record: 'the encrypted link was tampered with or broken',
  out_of_order: 'the encrypted link lost a message',
  closed: 'the encrypted link was already closed',
};

/** The payment network's failures (the till's backend client). */
export const NETWORK_WORDS: Record<BackendErrorCode, string> = {
  unavailable: 'the payment network is not reachable',
  rejected: 'the payment network refused this till',
  refused: 'the card company refused this till (its certificate is revoked or unknown)',
  deadline: 'the payment network did not answer in time',
};

/** Why the till declined a sale offline ("card company unreachable"): the check that stopped it. */
export const OFFLINE_WORDS: Readonly<Record<string, string>> = {
  not_requested: 'declined offline: the card answered a TC the till did not ask for',
  not_a_tc: 'declined offline: the card did not approve offline (it asked to go online)',
  malformed: 'declined offline: the card’s answer could not be read',
  card_certificates: 'declined offline: the card’s certificates do not verify',
  cda_signature: 'declined offline: the card’s signature does not verify',
  data_mismatch: 'declined offline: the card’s data disagree',
  amount_mismatch: 'declined offline: the card signed another amount',
  unpredictable_number_mismatch: 'declined offline: the card signed another number',
  atc_replayed: 'declined offline: the card’s answer was used before',
  cardholder_not_verified: 'declined offline: the card did not verify the cardholder',
  no_parameters: 'declined offline: no valid offline limits from the card company',
  card_company_reachable: 'declined offline: the card company is reachable',
  card_company_slow: 'declined offline: the card company is slow, not unreachable',
  card_blocked: 'declined offline: the card is on the block list',
  currency: 'declined offline: another currency',
  floor_limit: 'declined offline: over the floor limit',
  card_daily_count: 'declined offline: the card’s offline sales for today are used up',
  card_daily_amount: 'declined offline: over the card’s offline amount for today',
  till_exposure: 'declined offline: over the till’s offline exposure',
  items_mismatch: 'declined offline: the phone asked to pay other items',
  authorization_invalid: 'declined offline: the phone named another payment',
  'no TC': 'declined offline: the phone sent no answer of the card',
};

const SOURCES: Readonly<Record<string, { words: Readonly<Record<string, string>>; otherwise: string }>> = {
  'declined offline': { words: OFFLINE_WORDS, otherwise: 'declined offline: card company unreachable' },
  disconnected: { words: DISCONNECT_WORDS, otherwise: 'the connection dropped' },
  phone: { words: PHONE_WORDS, otherwise: 'the phone stopped the payment' },
  'protocol error': { words: PROTOCOL_WORDS, otherwise: 'the phone broke the protocol' },
  'payment network': { words: NETWORK_WORDS, otherwise: 'the payment network failed' },
};

const SOURCED = /^([a-z_ ]+): (.*)$/s;
const CODE = /^[a-z0-9]+(_[a-z0-9]+)+$/;

/** The words for a session's reason; a code the table lacks becomes a general sentence, never the code. */
export function reasonWords(detail: string): string {
  const m = SOURCED.exec(detail);
  if (m) {
    const [, from, what] = m as unknown as [string, string, string];
    const source = SOURCES[from];
    if (source)
      return (
        source.words[what] ??
        (from === 'disconnected' && what.startsWith('hci_') ? 'the radio link dropped' : source.otherwise)
      );
    if (from in REFUSAL_WORDS) return REFUSAL_WORDS[from as keyof typeof REFUSAL_WORDS];
    // A refusal the table does not know yet: its message (written for the phone's shopper), not its code.
    if (CODE.test(from)) return what;
  }
  return CODE.test(detail) ? 'something unexpected happened' : detail;
}
