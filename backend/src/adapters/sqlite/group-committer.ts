/**
 * Group commit: the transactions of concurrent requests run in one SQLite transaction
 * and commit once (one fsync under synchronous=FULL). Only after that COMMIT has returned is any
 * request's promise settled, so a response is never sent for a change that is not durable.
 *
 *   commit(fn) ──queue──► flush (next macrotask, at most maxBatch)
 *                         BEGIN IMMEDIATE
 *                           fn₁(); fn₂(); …                    (first run: no savepoints)
 *                         └ one threw: ROLLBACK; BEGIN IMMEDIATE (second run:)
 *                           SAVEPOINT; fn₁(); RELEASE          → value₁
 *                           SAVEPOINT; fn₂() throws; ROLLBACK TO; RELEASE → error₂ (only fn₂ undone)
 *                           …
 *                         COMMIT (one fsync)  ──► resolve value₁, reject error₂, …
 *
 * - A function sees every change of the functions before it in the batch (same connection), so
 *   two requests with the same (terminal, txn id) in one batch behave as if run one after the
 *   other: the second finds the first's row.
 * - A function that throws rolls back its own changes only; its caller gets its own error.
 * - Savepoints only when needed: a batch first runs with none (two statements fewer per request;
 *   with the one-statement challenge, an approved Authorize runs 3 instead of 6). If a
 *   function throws, that whole run is rolled back and the batch runs again, each function in its
 *   own savepoint as above. So a function may run twice, and must have no effect outside the
 *   database that a second run would change (the use cases' functions read and write the store
 *   and compute their response — at most filling a cache of verified public card records; events
 *   and metrics come after commit() resolves). What a caller gets is always what the committed run
 *   returned.
 * - When BEGIN or COMMIT fails, nothing of the batch is durable: every request of it is rejected
 *   with a CommitError (cause attached) and no value is ever returned.
 * - Functions may be asynchronous (the store port's `commit(async (tx) => …)`): each is awaited
 *   before the next one runs, so the batch's statements still run one request at a time on the
 *   one connection. A function must await nothing but the store: the SQLite store's queries
 *   resolve at once, so a batch still runs to its COMMIT within one turn of the event loop.
 * - exclusive(fn) runs fn (reads outside any batch) between batches, never inside one, so it
 *   sees only committed data.
 * - A transaction queued by a call whose deadline (call-deadline.ts) has passed when its batch
 *   is flushed is not run: it is rejected with a DeadlineExceededError and writes nothing.
 * - Batching needs no timer: the flush runs on the next macrotask (setImmediate), so it takes
 *   every request that arrived in the same turn of the event loop; while one batch runs (it is
 *   within one turn) the next one gathers. Latency added: one event-loop turn.
 *
 * @example
 *   const committer = new GroupCommitter(db, { maxBatch: 256 });
 *   const response = await committer.commit(async () => { ...reads and writes...; return response; });
 */
import { CommitError } from '../../ports/backend-store';
import { DeadlineExceededError, currentDeadline, deadlinePassed } from '../call-deadline';
import type { Db } from './open-database';

export interface CommitStats {
  /** Transactions in the batch. */
  readonly size: number;
  /** Of which rolled back to their savepoint (their callers got their error). */
  readonly failed: number;
  /** Milliseconds from BEGIN to the end of COMMIT (the fsync included). */
  readonly ms: number;
  /** A function threw in the first run (no savepoints): the batch ran again with savepoints. */
  readonly rerun: boolean;
}

export interface GroupCommitOptions {
  /** Most transactions in one commit (default 256); the rest go in the next batch at once. */
  readonly maxBatch?: number;
  /**
   * Commit at once, inside commit(), when this many transactions wait (default: never; the batch
   * waits for the next event-loop turn). A thread that receives calls in bursts (the use-case
   * worker: the gRPC thread posts a whole burst before this thread has worked through the first)
   * would otherwise gather the whole burst into one batch and answer all of it at once, after all
   * of it was worked through; the gRPC thread idles meanwhile, then works through all the answers
   * while this one idles. Committing every `flushAt` lets the two overlap.
   */
  readonly flushAt?: number;
  /** Called after every durable commit, in the same turn, so before any caller sees its result (metrics, tests). */
  readonly onCommit?: (stats: CommitStats) => void;
}

interface Pending {
  readonly fn: () => unknown;
  /** The deadline of the call that queued it (call-deadline.ts): passed at flush time, it is dropped unrun. */
  readonly deadline: number | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export class GroupCommitter {
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;
  /** A batch or an exclusive() runs; the next one waits in `waiters` or the queue. */
  private flushing = false;
  private readonly waiters: Array<() => void> = [];
  private readonly maxBatch: number;
  private readonly flushAt: number;
  private readonly begin;
  private readonly commitStmt;
  private readonly rollback;
  private readonly savepoint;
  private readonly releaseSavepoint;
  private readonly rollbackTo;

  constructor(
    private readonly db: Db,
    private readonly options: GroupCommitOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 256);
    this.flushAt = Math.max(1, options.flushAt ?? Number.POSITIVE_INFINITY);
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commitStmt = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT group_commit_request');
    this.releaseSavepoint = db.prepare('RELEASE group_commit_request');
    this.rollbackTo = db.prepare('ROLLBACK TO group_commit_request');
  }

  /** Runs fn in the next batch; resolves with its value once the batch's COMMIT is durable. */
  commit<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new CommitError('store_closed', 'the store is closed'));
    const promise = new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, deadline: currentDeadline(), resolve: resolve as (v: unknown) => void, reject });
    });
    if (this.queue.length >= this.flushAt && !this.flushing) this.flush();
    else this.schedule();
    return promise;
  }

  /**
   * Runs fn outside any batch: after the batch that runs now (if any), before the next one starts.
   * For reads that must see committed data only.
   */
  async exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.flushing)
      await new Promise<void>((resolve) => this.waiters.push(resolve)); // handed over with flushing still set
    else this.flushing = true;
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Requests waiting for the next batch. */
  get pending(): number {
    return this.queue.length;
  }

  /** Rejects what is still queued (nothing of it ran); later commits reject at once. */
  close(): void {
    this.closed = true;
    const left = this.queue.splice(0);
    for (const p of left)
      p.reject(new CommitError('store_closed', 'the store closed before this transaction ran'));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed || this.flushing) return; // release() flushes or schedules what is queued then
    this.flushing = true;
    void this.flushBatch();
  }

  /** The batch or exclusive() that ran is done: hand over to a waiting exclusive(), else go on with the queue. */
  private release(): void {
    const next = this.waiters.shift();
    if (next) {
      next();
      return;
    }
    this.flushing = false;
    if (this.closed || this.queue.length === 0) return;
    if (this.queue.length >= this.flushAt) this.flush();
    else this.schedule();
  }

  private async flushBatch(): Promise<void> {
    try {
      await this.runBatch();
    } finally {
      this.release();
    }
  }

  private async runBatch(): Promise<void> {
    // With flushAt a batch holds at most that many (the rest waited while this batch ran), as when commit() flushes.
    const taken = this.queue.splice(0, Math.min(this.maxBatch, this.flushAt));
    if (this.queue.length > 0) this.schedule();
    // A transaction whose caller's deadline has passed does not run: its caller has given up.
    const now = Date.now();
    const batch = taken.filter((p) => {
      if (!deadlinePassed(p.deadline, now)) return true;
      p.reject(new DeadlineExceededError());
      return false;
    });
    if (batch.length === 0) return;
    const started = performance.now();
    const fail = (message: string, cause: unknown) => {
      if (this.db.inTransaction) this.rollback.run();
      for (const p of batch) p.reject(new CommitError('commit_failed', message, { cause }));
    };
    try {
      this.begin.run();
    } catch (cause) {
      fail('could not begin the batch transaction; nothing of it is stored', cause);
      return;
    }
    let rerun = false;
    let outcomes = await this.runPlain(batch);
    if (outcomes === 'threw') {
      // One of them threw: undo the whole run, then run the batch again with a savepoint each.
      rerun = true;
      try {
        this.rollback.run();
        this.begin.run();
      } catch (cause) {
        fail('could not begin the batch transaction again; nothing of it is stored', cause);
        return;
      }
      outcomes = await this.runWithSavepoints(batch);
    }
    if (outcomes === 'aborted') {
      // SQLite rolled the whole transaction back (e.g. an I/O error): the batch is lost.
      fail('the batch transaction was aborted; nothing of it is stored', undefined);
      return;
    }
    const failed = outcomes.filter((o) => !o.ok).length;
    try {
      this.commitStmt.run();
    } catch (cause) {
      fail('the batch did not commit; nothing of it is stored', cause);
      return;
    }
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
    this.options.onCommit?.({ size: batch.length, failed, ms: performance.now() - started, rerun });
  }

  /** Every function, no savepoints: their values, or 'threw' at the first one that throws (the run is then to be rolled back). */
  private async runPlain(batch: readonly Pending[]): Promise<Outcome[] | 'threw' | 'aborted'> {
    const outcomes: Outcome[] = [];
    for (const p of batch) {
      try {
        const value = p.fn();
        outcomes.push({ ok: true, value: isThenable(value) ? await value : value });
      } catch {
        return this.db.inTransaction ? 'threw' : 'aborted';
      }
    }
    return outcomes;
  }

  private async runWithSavepoints(batch: readonly Pending[]): Promise<Outcome[] | 'aborted'> {
    const outcomes: Outcome[] = [];
    for (const p of batch) {
      this.savepoint.run();
      let o: Outcome;
      try {
        const value = p.fn();
        o = { ok: true, value: isThenable(value) ? await value : value };
      } catch (error) {
        o = { ok: false, error };
      }
      if (!this.db.inTransaction) return 'aborted';
      // ROLLBACK TO undoes this request's changes and keeps the savepoint; RELEASE then drops it.
      if (!o.ok) this.rollbackTo.run();
      this.releaseSavepoint.run();
      outcomes.push(o);
    }
    return outcomes;
  }
}

/** A value to await (a function's promise); a plain value is used as it is. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function'
  );
}
