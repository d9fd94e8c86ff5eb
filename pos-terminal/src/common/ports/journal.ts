import type { AttemptState } from '../payment-attempt';

/**
 * The till's durable journal of settlement attempts: written before a request leaves and after
 * its answer arrives, so a crash or a lost answer is resolved by asking, never by guessing.
 *
 * @example
 *   journal.begin({ terminalTxnId, basketId, request });   // state 'pending'
 *   journal.finish(terminalTxnId, 'approved', response);
 *   for (const a of journal.unresolved()) ...               // after a restart
 */
export interface AttemptRecord {
  readonly terminalTxnId: string;
  readonly basketId: string;
  readonly state: AttemptState;
  /** Encoded SettleRequest. */
  readonly request: Uint8Array;
  /** Encoded SettleResponse, once known. */
  readonly response: Uint8Array | null;
  readonly updatedAt: number;
}

export interface Journal {
  begin(a: { terminalTxnId: string; basketId: string; request: Uint8Array; at: number }): void;
  transition(terminalTxnId: string, to: AttemptState, response: Uint8Array | null, at: number): void;
  get(terminalTxnId: string): AttemptRecord | undefined;
  /** Attempts whose outcome the till does not know ('pending' after a crash, or 'unresolved'). */
  unresolved(): AttemptRecord[];
  forBasket(basketId: string): AttemptRecord[];
  close(): void;
}
