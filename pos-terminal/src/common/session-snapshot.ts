/** What the till shows of one phone's session (its state machine lives in session.ts). */
import type { DeclineCode } from '@bluetill/protocol';

export type SessionState =
  | 'connected'
  | 'secured'
  | 'authorizing'
  | 'waiting_for_basket'
  | 'authorized'
  | 'paying'
  | 'approved'
  | 'declined'
  | 'failed'
  | 'closed';

export interface SessionSnapshot {
  readonly id: string;
  readonly state: SessionState;
  readonly basketId: string | null;
  readonly maskedPan: string | null;
  readonly decline: DeclineCode | null;
  readonly detail: string;
}
