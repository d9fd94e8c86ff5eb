/**
 * A call's deadline (ms since the epoch), carried with the work it causes: the gRPC handler runs
 * the use case inside `withDeadline`, a call crossing to a worker thread takes it along in its
 * message, and the group committer reads it when a transaction is queued. Work whose deadline has
 * passed is dropped where it waits (before a worker picks it up, before its transaction runs),
 * answered DEADLINE_EXCEEDED, and writes nothing: the caller has already given up on it, and
 * a Challenge nobody will use must not become a row.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export class DeadlineExceededError extends Error {
  readonly code = 'deadline_exceeded';
  constructor(message = "the call's deadline passed before its work was done; nothing was written") {
    super(message);
    this.name = 'DeadlineExceededError';
  }
}

const current = new AsyncLocalStorage<number>();

/** Runs fn with `deadline` (ms since the epoch; Infinity: none) as the current call's deadline. */
export function withDeadline<T>(deadline: number, fn: () => T): T {
  return Number.isFinite(deadline) ? current.run(deadline, fn) : current.exit(fn);
}

/** The deadline of the call this code runs for, or undefined (none, or outside a call). */
export function currentDeadline(): number | undefined {
  return current.getStore();
}

/** Whether `deadline` has passed (an absent one never does). */
export function deadlinePassed(deadline: number | undefined, now = Date.now()): boolean {
  return deadline !== undefined && now >= deadline;
}
