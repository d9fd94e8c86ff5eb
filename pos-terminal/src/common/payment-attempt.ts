/**
 * A settlement attempt as an explicit transition table. 'unresolved' means the till does not
 * know whether the backend committed; it is left only by asking the backend.        [HS]
 *
 * ```mermaid
 * stateDiagram-v2
 *   [*] --> pending: journal.begin (before the request leaves)
 *   pending --> approved: backend approved
 *   pending --> declined: backend declined
 *   pending --> unresolved: no answer (timeout, unavailable, crash)
 *   unresolved --> approved: GetSettlement found it approved
 *   unresolved --> declined: GetSettlement found it declined
 *   unresolved --> abandoned: GetSettlement: never reached the ledger
 * ```
 */
export type AttemptState = 'pending' | 'approved' | 'declined' | 'unresolved' | 'abandoned';

const TRANSITIONS: Readonly<Record<AttemptState, readonly AttemptState[]>> = {
  pending: ['approved', 'declined', 'unresolved'],
  unresolved: ['approved', 'declined', 'abandoned'],
  approved: [],
  declined: [],
  abandoned: [],
};

export class TransitionError extends Error {
  constructor(
    readonly from: AttemptState,
    readonly to: AttemptState,
  ) {
    super(`settlement attempt cannot go from ${from} to ${to}`);
    this.name = 'TransitionError';
  }
}

export function checkTransition(from: AttemptState, to: AttemptState): void {
  if (!TRANSITIONS[from].includes(to)) throw new TransitionError(from, to);
}

export const isFinal = (s: AttemptState): boolean => TRANSITIONS[s].length === 0;
