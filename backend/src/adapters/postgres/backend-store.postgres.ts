/**
 * BackendStore on PostgreSQL (the `postgres` driver), for any number of backend nodes over one
 * database. What SQLite's single writer gives the SQLite store, this store gets from the database
 * (backend/README.md § "Scaling past one machine"):
 *
 * - commit(fn) is one PostgreSQL transaction (`sql.begin`, READ COMMITTED) per request; the
 *   database groups the WAL flushes of concurrent commits itself.
 * - The card row is the lock: inside commit(), findCardById/findCardByPanHash read the card
 *   `FOR UPDATE`, so ATC forward only, PIN tries and available credit are decided under it.
 *   read() reads committed data on the pool, taking no lock.
 * - Exactly once by unique keys: a transaction that loses a race on a unique key (two nodes
 *   settling the same terminal txn id, opening the same batch) or hits a serialization failure or
 *   a deadlock is rolled back and fn runs again; the rerun finds the winner's row and answers with
 *   it (replayOf). Bounded: after `attempts` runs, CommitError('commit_failed').
 * - A connection lost during commit() is CommitError('commit_failed'): the outcome is unknown to
 *   this node (the COMMIT may have landed); the caller's retry with the same request id resolves it.
 * - Every query is bounded (query, queue and cancel timeouts, the server's statement and
 *   idle-in-transaction timeouts, TCP keepalive): a database or network gone silent fails a call
 *   in seconds, as a lost connection; read() then throws CommitError('store_unavailable'). With
 *   `probe`, the store watches the database on a connection of its own (`reachable`,
 *   `onReachability`) and makes a new pool at each change.
 * - A terminal's open batch row is the close's lock: inside commit(), an operation recorded into
 *   the batch reads it `FOR KEY SHARE` and a close `FOR UPDATE`, so a close waits for the
 *   operations already in the batch and later ones land in the next batch, never in a closed one.
 *   Locks are taken card first, then batch.
 * - A UN is redeemed by one conditional UPDATE (TAKE_CHALLENGE); a temporary code's rows are read
 *   `FOR UPDATE` inside commit() and marked used by a conditional UPDATE (USE_CODE).
 * - Postings: the database checks each ledger transaction sums to zero per currency at COMMIT
 *   (migration 0008's deferred `postings_balanced`); this store adds no check of its own, so an
 *   unbalanced commit is refused by the database and surfaces as LedgerError('unbalanced').
 * - Money, ATCs and times are bigint in the database and numbers here (a value beyond 2^53 is an
 *   error, never rounded); bytea comes back as Uint8Array.
 *
 * @example
 *   const store = await PostgresBackendStore.open(
 *     'postgresql://bluetill_app@db1:5432,db2:5432/bluetill?target_session_attrs=read-write');
 *   await store.commit(async (tx) => { const card = await tx.findCardById('card-alice'); … });
 *   await store.close();
 */
import postgres, { type Sql } from 'postgres';
import { batchTotalsOf, toBatch, type BatchDbRow, type BatchGroup } from '../batch-row';
import type { DeclineCode } from '@bluetill/protocol';
import {
  CommitError,
  type AdjustmentKind,
  type AdjustmentRow,
  type AuthorizationRow,
  type BackendStore,
  type CardRow,
  type ChallengeState,
  type MerchantRow,
  type Posting,
  type SettleDecision,
  type SettleFacts,
  type SettleQuery,
  type SettlementRow,
  type StoreTx,
  type TerminalCertificateRow,
  type TerminalRow,
  type TransactionListRow,
} from '../../ports/backend-store';
import type { MerchantCardRow, TemporaryCodeRow } from '../../ports/shopper-store';
import { migratePostgres } from './migrate';
import { postgresErrorKind } from './postgres-errors';
import {
  ADVANCE_ATC,
  ATC_USED,
  SETTLE_FACTS,
  SETTLE_ITEM_STALE,
  SETTLE_ITEM_UNBALANCED,
  SETTLE_RECORD_MANY,
  RAISE_LAST_ATC,
  USE_ATC,
  CARD_COLUMNS,
  CHALLENGE_STATE,
  LOCK_CARD,
  LOCK_CARD_BY_PAN_HASH,
  TAKE_CHALLENGE,
  TAKE_SHOPPER_CHALLENGE,
  USE_CODE,
} from './statements';

/** The database refused a ledger transaction: its postings do not sum to zero in some currency. */
export class LedgerError extends Error {
  readonly code = 'unbalanced';
  constructor(options?: { cause?: unknown }) {
    super('unbalanced postings (each currency must sum to zero): refused by the database at commit', options);
    this.name = 'LedgerError';
  }
}

export interface PostgresStoreOptions {
  /** Connections in the pool (default 10): at most this many transactions at once from this node. */
  readonly max?: number;
  /** Runs of fn per commit() when it loses a race on a unique key or to a serialization failure (default 5). */
  readonly attempts?: number;
  /** Run the migrations at open (default true; migratePostgres takes an advisory lock, so nodes starting together migrate once). */
  readonly migrate?: boolean;
  /** Seconds to wait for a connection (default 10). */
  readonly connectTimeoutSeconds?: number;
  /**
   * Seconds a query may take (default 5; 0 for no bound): the driver's `query_timeout` (waiting for
   * a connection and running; inside a transaction from when it is sent) and the server's
   * `statement_timeout`. The migrations at open run without it.
   * A database or network that goes silent fails a query in this time, plus `cancelTimeoutSeconds`
   * when the cancel request gets no answer either (the connection is then closed), instead of in
   * the minutes TCP takes to give up.
   */
  readonly queryTimeoutSeconds?: number;
  /** Seconds to wait for the answer to a cancel request before closing its connection (default 2). */
  readonly cancelTimeoutSeconds?: number;
  /** Seconds a commit may wait for a free connection before it is refused, never sent (default 5; 0 for no bound). */
  readonly queueTimeoutSeconds?: number;
  /**
   * Milliseconds the server keeps a session that idles inside a transaction (PostgreSQL
   * `idle_in_transaction_session_timeout`; default IDLE_IN_TRANSACTION_TIMEOUT_MS, 0 = never): a
   * commit runs its statements back to back, so a session idle that long belongs to a node cut off
   * (or stopped) mid-transaction; the server ends it, its row locks (the card, a batch, a
   * settlement's key) go to the other nodes, and nothing of it commits.
   */
  readonly idleInTransactionTimeoutMs?: number;
  /**
   * The planner's cost of a page read out of order (PostgreSQL `random_page_cost`) in the store's
   * sessions: default STORE_RANDOM_PAGE_COST, for a database whose hot pages are in memory or on
   * SSD, as PostgreSQL's documentation advises for them. With the server's default of 4, the
   * planner reads small tables (terminals, accounts, a small issuer's cards) from end to end
   * instead of through their primary keys, and each of their rows that concurrent Settles lock
   * together (a merchant's account, a batch, a card) costs a multixact lookup on every such read.
   */
  readonly randomPageCost?: number;
  /** TCP keepalive of the pool's connections, seconds (default 5). */
  readonly keepAliveSeconds?: number;
  /**
   * At open, how long to keep trying a database that cannot be reached (a connection error: the
   * primary failing over, the server restarting), every half second (default 0: the first failure
   * is the answer). `serve` waits SERVE_WAIT_FOR_DATABASE_MS: a node started while the standby is
   * being promoted comes up on the promoted one instead of exiting.
   */
  readonly waitForDatabaseMs?: number;
  /** Watch the database with a probe (reachable, onReachability); off by default. */
  readonly probe?: ProbeOptions;
}

/** The store's probe: `SELECT 1` on a connection of its own, every `intervalMs`. */
export interface ProbeOptions {
  /** Between probes (default 500 ms). */
  readonly intervalMs?: number;
  /** A probe not answered in this time failed (default 1000 ms). */
  readonly timeoutMs?: number;
  /** Failed probes in a row before the database counts as unreachable (default 2); one answered probe makes it reachable. */
  readonly failures?: number;
}

/** How long a `serve` node keeps trying to reach its PostgreSQL store at start (PostgresStoreOptions.waitForDatabaseMs). */
export const SERVE_WAIT_FOR_DATABASE_MS = 60_000;

/** Retries, replays and failures of commit() so far (the store's pool metrics). */
export interface PostgresCommitCounts {
  readonly commits: number;
  /** Runs of fn again after a unique-key race (the rerun answers with the winner's row). */
  readonly uniqueRetries: number;
  /** Runs of fn again after a serialization failure or deadlock. */
  readonly serializationRetries: number;
  /** settleOnce: decisions made again because the card (or the id, the batch) changed before the write. */
  readonly staleRetries: number;
  /** settleOnce: Settles handed back to commit() after the card kept changing. */
  readonly contended: number;
  /** settleOnce: settle_record_many statements sent (each with one or more Settles' writes). */
  readonly settleGroups: number;
  readonly failed: number;
}

/** int8 as a JS number (money, ids, times); a value a double cannot hold exactly is an error, never rounded. */
const int8AsNumber = {
  to: 20,
  from: [20],
  serialize: (x: number | bigint) => x.toString(),
  parse: (x: string): number => {
    const n = Number(x);
    if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${x} is beyond a JS number's exact range`);
    return n;
  },
};
/** bytea as a plain Uint8Array (the ports' byte type), and written from one. */
const byteaAsUint8Array = {
  to: 17,
  from: [17],
  serialize: (x: Uint8Array) => '\\x' + Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex'),
  parse: (x: string): Uint8Array => new Uint8Array(Buffer.from(x.slice(2), 'hex')),
};

/** PostgresStoreOptions.randomPageCost's default: PostgreSQL's advice for data in memory or on SSD. */
export const STORE_RANDOM_PAGE_COST = 1.1;

/** A session of a store idle this long inside a transaction is ended by the server (PostgresStoreOptions). */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 2_000;

/**
 * The driver's options for the store: int8 as numbers, bytea as Uint8Array, notices dropped, every
 * query bounded; each session named `bluetill-backend <pid>` (pg_stat_activity and pg_locks show
 * which node holds what).
 */
export function postgresStoreConnection(url: string, options: PostgresStoreOptions = {}): Sql {
  const queryTimeout = options.queryTimeoutSeconds ?? 5;
  return postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    query_timeout: queryTimeout,
    cancel_timeout: options.cancelTimeoutSeconds ?? 2,
    queue_timeout: options.queueTimeoutSeconds ?? 5,
    keep_alive: options.keepAliveSeconds ?? 5,
    connection: {
      application_name: `bluetill-backend ${process.pid}`,
      statement_timeout: Math.round(queryTimeout * 1000),
      idle_in_transaction_session_timeout:
        options.idleInTransactionTimeoutMs ?? IDLE_IN_TRANSACTION_TIMEOUT_MS,
      random_page_cost: options.randomPageCost ?? STORE_RANDOM_PAGE_COST,
    },
    onnotice: () => undefined,
    types: { int8: int8AsNumber, bytea: byteaAsUint8Array },
  }) as unknown as Sql;
}

/** What the store needs of a connection or a transaction: a query with $n parameters. */
export type Query = <T>(text: string, params?: readonly unknown[]) => Promise<T[]>;

/** The query behind each transaction handle this store gave out, for the adapters of other ports on the same transaction. */
const queries = new WeakMap<StoreTx, Query>();

/** The query of a PostgreSQL transaction handle (from commit() or read()); a handle of another store is an error. */
export function queryOfTx(tx: StoreTx): Query {
  const q = queries.get(tx);
  if (!q) throw new TypeError('not a transaction handle of PostgresBackendStore');
  return q;
}
const queryOn =
  (q: Pick<Sql, 'unsafe'>): Query =>
  async <T>(text: string, params: readonly unknown[] = []) =>
    (await q.unsafe(text, params as never[], { prepare: true })) as unknown as T[];

/**
 * `SELECT 1` every intervalMs on a connection of its own (not the pool's: a pool busy with calls,
 * or whose connections hang on a dead network, must not delay it). A probe that fails or is not
 * answered within timeoutMs counts; `failures` in a row make the database unreachable, and the
 * connection is dropped and made again for the next probe. One answered probe makes it reachable.
 */
class Probe {
  reachable = true;
  readonly listeners = new Set<(reachable: boolean, cause?: string) => void>();
  private sql: Sql | undefined;
  private failed = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly failures: number;

  constructor(
    private readonly url: string,
    o: ProbeOptions,
  ) {
    this.intervalMs = Math.max(10, o.intervalMs ?? 500);
    this.timeoutMs = Math.max(10, o.timeoutMs ?? 1000);
    this.failures = Math.max(1, o.failures ?? 2);
    this.schedule();
  }

  private connection(): Sql {
    const seconds = this.timeoutMs / 1000;
    return (this.sql ??= postgres(this.url, {
      max: 1,
      connect_timeout: seconds,
      query_timeout: seconds,
      cancel_timeout: seconds,
      keep_alive: 1,
      connection: { application_name: 'bluetill-probe', statement_timeout: this.timeoutMs },
      onnotice: () => undefined,
    }) as unknown as Sql);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.once().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  private async once(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let cause: string | undefined;
    try {
      const sql = this.connection();
      await Promise.race([
        sql`SELECT 1`,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
    } catch (err) {
      cause = codeOf(err) ?? (err as Error).message;
    } finally {
      clearTimeout(timer);
    }
    if (this.stopped) return;
    if (cause === undefined) {
      this.failed = 0;
      this.set(true);
      return;
    }
    this.failed++;
    // The probe's connection may be the one that hangs: a new one for the next probe.
    const old = this.sql;
    this.sql = undefined;
    void old?.end({ timeout: 0 }).catch(() => undefined);
    if (this.failed >= this.failures) this.set(false, cause);
  }

  private set(reachable: boolean, cause?: string): void {
    if (this.reachable === reachable) return;
    this.reachable = reachable;
    for (const l of this.listeners) l(reachable, cause);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.sql?.end({ timeout: 0 }).catch(() => undefined);
  }
}

export class PostgresBackendStore implements BackendStore {
  private readonly attempts: number;
  /** settleOnce's writes waiting for a group, and the groups running (recordSettle). */
  private readonly settleWrites: PendingSettle[] = [];
  private settleGroupsRunning = 0;
  private readonly stats = {
    commits: 0,
    uniqueRetries: 0,
    serializationRetries: 0,
    staleRetries: 0,
    contended: 0,
    settleGroups: 0,
    failed: 0,
  };
  private readonly reader: StoreTx;
  private closed = false;
  private readonly probe: Probe | undefined;

  private constructor(
    private pool: Sql,
    private readonly url: string,
    private readonly options: PostgresStoreOptions,
  ) {
    this.attempts = Math.max(1, options.attempts ?? 5);
    const unsafe = ((...args: Parameters<Sql['unsafe']>) => this.pool.unsafe(...args)) as Sql['unsafe'];
    this.reader = postgresTx(queryOn({ unsafe }), false);
    this.probe = options.probe ? new Probe(url, options.probe) : undefined;
    // Each change of reachability makes a new pool for what comes next: reachable again, no call
    // waits on connection attempts made during the cut (stuck until their connect timeout) or on
    // connections that died in it. The old pool's queries still running keep their own bounds
    // (a misjudged probe on a loaded machine costs no call); then it is closed.
    this.probe?.listeners.add(() => this.recycle());
  }

  /** The driver's pool the store runs on now (a new one after each change of reachability). */
  get sql(): Sql {
    return this.pool;
  }

  private recycle(): void {
    if (this.closed) return;
    const old = this.pool;
    this.pool = postgresStoreConnection(this.url, this.options);
    const grace = (this.options.queryTimeoutSeconds || 5) + (this.options.cancelTimeoutSeconds ?? 2);
    void old.end({ timeout: grace }).catch(() => undefined);
  }

  /**
   * Whether the database answers, as the probe last found it (true without a probe). A node that
   * cannot reach it should stop taking calls (main.ts: health NOT_SERVING, calls refused).
   */
  get reachable(): boolean {
    return this.probe?.reachable ?? true;
  }

  /** Calls `listener` whenever `reachable` changes (never without a probe); returns the unsubscribe. */
  onReachability(listener: (reachable: boolean, cause?: string) => void): () => void {
    if (!this.probe) return () => undefined;
    this.probe.listeners.add(listener);
    return () => this.probe!.listeners.delete(listener);
  }

  /**
   * Connects (a multi-host URL with `target_session_attrs=read-write` finds the primary) and runs
   * the pending migrations; fails when the database cannot be reached (within `waitForDatabaseMs`)
   * or migrated.
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresBackendStore> {
    const until = Date.now() + (options.waitForDatabaseMs ?? 0);
    for (;;) {
      const sql = postgresStoreConnection(url, options);
      try {
        if (options.migrate ?? true) {
          // On a connection without the query bounds: a node waits for another's migrations
          // (their advisory lock) as long as they take.
          const migrating = postgresStoreConnection(url, {
            ...options,
            max: 1,
            queryTimeoutSeconds: 0,
            queueTimeoutSeconds: 0,
            idleInTransactionTimeoutMs: 0,
          });
          try {
            await migratePostgres(migrating);
          } finally {
            await migrating.end({ timeout: 1 });
          }
        }
        await sql`SELECT 1`;
        return new PostgresBackendStore(sql, url, options);
      } catch (err) {
        await sql.end({ timeout: 1 });
        if (postgresErrorKind(err) !== 'connection' || Date.now() >= until) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  get commitStats(): PostgresCommitCounts {
    return { ...this.stats };
  }

  async commit<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new CommitError('store_closed', 'the store is closed');
      try {
        const result = await this.pool.begin('isolation level read committed', (t) => {
          // A commit that got its connection only after close() was called: refused, nothing run.
          if (this.closed) throw new CommitError('store_closed', 'the store closed before the commit ran');
          return fn(postgresTx(queryOn(t), true));
        });
        this.stats.commits++;
        return result as T;
      } catch (err) {
        const kind = postgresErrorKind(err);
        if ((kind === 'unique_violation' || kind === 'serialization') && attempt < this.attempts) {
          if (kind === 'unique_violation') this.stats.uniqueRetries++;
          else this.stats.serializationRetries++;
          // The winner has committed (unique key) or the loser's locks are gone (serialization):
          // a short, jittered pause before the rerun keeps two losers from meeting again.
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
          continue;
        }
        throw this.commitFailure(err, kind);
      }
    }
  }

  /**
   * Runs fn on committed data on the pool (each query on its own, no lock taken). A database that
   * cannot be reached (a failover, a restart, a silent network past the query bound) is
   * CommitError('store_unavailable'): nothing was done.
   */
  async read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    try {
      return await fn(this.reader);
    } catch (err) {
      if (postgresErrorKind(err) !== 'connection') throw err;
      throw new CommitError(
        'store_unavailable',
        'the database could not be reached for this read: ask again',
        {
          cause: err,
        },
      );
    }
  }

  /**
   * BackendStore.settleOnce: SETTLE_FACTS on the pool (no transaction), `decide`, then the writes
   * in the node's next settle_record_many (recordSettle), which keeps them only if the card's row
   * and balance are still the ones decided on, and the id, the ATC and the authorization are still
   * free. Stale facts (or the group lost a deadlock): read and decide again, up to `attempts` times;
   * then undefined (commit() decides under the card's lock).
   */
  async settleOnce<R>(
    q: SettleQuery,
    decide: (facts: SettleFacts) => SettleDecision<R>,
  ): Promise<{ answer: R } | undefined> {
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (this.closed) throw new CommitError('store_closed', 'the store is closed');
      let row: SettleFactsRow | undefined;
      try {
        [row] = (await this.pool.unsafe(
          SETTLE_FACTS,
          [q.terminalId, q.terminalTxnId, q.panHash, q.authorizationRef, q.atc],
          { prepare: true },
        )) as unknown as SettleFactsRow[];
      } catch (err) {
        if (this.closed && codeOf(err) === 'CONNECTION_ENDED')
          throw new CommitError('store_closed', 'the store closed before the settlement ran', { cause: err });
        if (postgresErrorKind(err) !== 'connection') throw err;
        throw new CommitError(
          'store_unavailable',
          'the database could not be reached: nothing was done, ask again',
          {
            cause: err,
          },
        );
      }
      const decision = decide(settleFactsOf(row!));
      const w = decision.writes;
      if (!w) return { answer: decision.answer };
      const st = w.settlement;
      if (st.cardId !== row!.c_id)
        throw new Error('a Settle records the card its facts were read for (the card locked and checked)');
      try {
        const id = await this.recordSettle({
          cardId: st.cardId,
          cardVersion: row!.card_version,
          balance: row!.balance ?? 0,
          atc: w.useAtc?.atc ?? null,
          pinTries: w.pinTries?.tries ?? null,
          authorizationRef: w.settleAuthorization ?? null,
          terminalId: st.terminalId,
          terminalTxnId: st.terminalTxnId,
          requestHash: hex(st.requestHash),
          approved: st.approved,
          declineReason: st.declineReason,
          amountMinor: st.amountMinor,
          currency: st.currency,
          merchantId: st.merchantId,
          response: hex(st.response),
          createdAt: st.createdAt,
          accounts: w.postings.map((x) => x.accountId),
          amounts: w.postings.map((x) => x.amountMinor),
          currencies: w.postings.map((x) => x.currency),
        });
        if (id !== SETTLE_ITEM_STALE) {
          this.stats.commits++;
          return { answer: decision.answer };
        }
      } catch (err) {
        // Stale items come back as SETTLE_ITEM_STALE; an item sent alone can still lose a deadlock.
        const kind = postgresErrorKind(err);
        if (kind !== 'serialization') throw this.commitFailure(err, kind);
      }
      this.stats.staleRetries++;
      await new Promise((r) => setTimeout(r, Math.random() * 2 * attempt));
    }
    this.stats.contended++;
    return undefined;
  }

  /**
   * One Settle's writes, sent with the others this node has decided meanwhile as one
   * settle_record_many (migration 0016): one statement, one transaction, one WAL flush for the
   * group. At most SETTLE_GROUPS_AT_ONCE groups run at once; what is decided while they run waits
   * for the next one. Resolves with the settlement's id, or SETTLE_ITEM_STALE.
   */
  private recordSettle(item: SettleItem): Promise<number> {
    return new Promise((resolve, reject) => {
      this.settleWrites.push({ item, done: (r) => (typeof r === 'number' ? resolve(r) : reject(r)) });
      this.startSettleGroups();
    });
  }

  private startSettleGroups(): void {
    while (this.settleGroupsRunning < SETTLE_GROUPS_AT_ONCE && this.settleWrites.length > 0) {
      // Cards locked in one order in every group: two groups running at once do not deadlock on them.
      const group = this.settleWrites
        .splice(0, MAX_SETTLE_GROUP)
        .sort((a, b) => (a.item.cardId ?? '').localeCompare(b.item.cardId ?? ''));
      this.settleGroupsRunning++;
      void this.runSettleGroup(group).finally(() => {
        this.settleGroupsRunning--;
        this.startSettleGroups();
      });
    }
  }

  private async runSettleGroup(group: readonly PendingSettle[]): Promise<void> {
    this.stats.settleGroups++;
    try {
      const [row] = (await this.pool.unsafe(
        SETTLE_RECORD_MANY,
        [JSON.stringify(group.map((g) => g.item))] as never[],
        { prepare: true },
      )) as unknown as Array<{ ids: number[] }>;
      group.forEach((g, i) => {
        const id = row!.ids[i]!;
        g.done(id === SETTLE_ITEM_UNBALANCED ? new LedgerError() : id);
      });
    } catch (err) {
      // One item ended the whole statement (another invariant refused it), or the group lost a
      // deadlock to another node's: nothing of it was written; each item again on its own.
      if (group.length > 1 && postgresErrorKind(err) !== 'connection') {
        await Promise.all(group.map((g) => this.runSettleGroup([g])));
        return;
      }
      for (const g of group) g.done(err);
    }
  }

  /** What a failed write becomes for the caller (commit() and settleOnce, past their retries). */
  private commitFailure(err: unknown, kind = postgresErrorKind(err)): unknown {
    if (err instanceof CommitError) return err;
    // close() ended the pool before this write was sent: nothing of it ran.
    if (this.closed && codeOf(err) === 'CONNECTION_ENDED')
      return new CommitError('store_closed', 'the store closed before the commit ran', { cause: err });
    if (kind === 'unique_violation' || kind === 'serialization') {
      this.stats.failed++;
      return new CommitError('commit_failed', `commit failed after ${this.attempts} attempts (${kind})`, {
        cause: err,
      });
    }
    if (kind === 'connection') {
      this.stats.failed++;
      return new CommitError(
        'commit_failed',
        'the connection to the database was lost during the commit: its outcome is unknown here; retry the request with the same id',
        { cause: err },
      );
    }
    if (constraintOf(err) === 'postings_balanced') return new LedgerError({ cause: err });
    return err;
  }

  /** Refuses new commits and those still waiting for a connection (CommitError store_closed), lets the ones running finish, then ends the pool. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.pool.end({ timeout: 5 }), this.probe?.stop()]);
  }
}

const codeOf = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
const constraintOf = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'constraint_name' in err
    ? String((err as { constraint_name: unknown }).constraint_name)
    : undefined;

const BATCH_COLUMNS = `id, terminal_id AS "terminalId", status, opened_at AS "openedAt", closed_at AS "closedAt",
  close_request_id AS "closeRequestId", currency, sale_count AS "saleCount", sale_minor AS "saleMinor",
  refund_count AS "refundCount", refund_minor AS "refundMinor", void_count AS "voidCount", void_minor AS "voidMinor",
  net_minor AS "netMinor"`;
const ADJUSTMENT_COLUMNS = `id, kind, terminal_id AS "terminalId", op_txn_id AS "opTxnId", original_txn_id AS "originalTxnId",
  settlement_id AS "settlementId", batch_id AS "batchId", request_hash AS "requestHash", approved,
  decline_reason AS "declineReason", amount_minor AS "amountMinor", currency, response, created_at AS "createdAt"`;
const SETTLEMENT_COLUMNS = `id, terminal_id AS "terminalId", terminal_txn_id AS "terminalTxnId", request_hash AS "requestHash",
  approved, decline_reason AS "declineReason", amount_minor AS "amountMinor", currency, card_id AS "cardId",
  merchant_id AS "merchantId", response, created_at AS "createdAt", batch_id AS "batchId"`;
const CODE_COLUMNS = `id, code_hash AS "codeHash", card_id AS "cardId", limit_minor AS "limitMinor", currency,
  created_at AS "createdAt", expires_at AS "expiresAt", used_at AS "usedAt"`;

const TRANSACTIONS = `SELECT kind, "terminalTxnId", "originalTxnId", approved, "declineReason", "amountMinor", currency,
    "maskedPan", "batchId", "createdAt" FROM (
  SELECT 'sale' AS kind, s.terminal_txn_id AS "terminalTxnId", '' AS "originalTxnId", s.approved,
         COALESCE(s.decline_reason, '') AS "declineReason", s.amount_minor AS "amountMinor", s.currency::text AS currency,
         COALESCE(c.pan_masked, '') AS "maskedPan", COALESCE(s.batch_id, 0) AS "batchId", s.created_at AS "createdAt",
         0 AS src, s.id AS seq
    FROM settlements s LEFT JOIN cards c ON c.id = s.card_id
   WHERE s.terminal_id = $1 AND s.created_at >= $2 AND s.created_at < $3
  UNION ALL
  SELECT a.kind, CASE a.kind WHEN 'refund' THEN a.op_txn_id ELSE a.original_txn_id END, a.original_txn_id, a.approved,
         COALESCE(a.decline_reason, ''), a.amount_minor, a.currency::text, COALESCE(c.pan_masked, ''), COALESCE(a.batch_id, 0),
         a.created_at, 1, a.id
    FROM adjustments a LEFT JOIN settlements s ON s.id = a.settlement_id LEFT JOIN cards c ON c.id = s.card_id
   WHERE a.terminal_id = $1 AND a.created_at >= $2 AND a.created_at < $3
) t ORDER BY "createdAt", src, seq LIMIT $4`;

const MERCHANT_TRANSACTIONS = `SELECT kind, "terminalId", "terminalTxnId", "originalTxnId", approved, "declineReason", "amountMinor",
    currency, "maskedPan", "batchId", "createdAt" FROM (
  SELECT 'sale' AS kind, s.terminal_id AS "terminalId", s.terminal_txn_id AS "terminalTxnId", '' AS "originalTxnId", s.approved,
         COALESCE(s.decline_reason, '') AS "declineReason", s.amount_minor AS "amountMinor", s.currency::text AS currency,
         COALESCE(c.pan_masked, '') AS "maskedPan", COALESCE(s.batch_id, 0) AS "batchId", s.created_at AS "createdAt",
         0 AS src, s.id AS seq
    FROM settlements s LEFT JOIN cards c ON c.id = s.card_id
   WHERE s.merchant_id = $1 AND s.created_at >= $2 AND s.created_at < $3
  UNION ALL
  SELECT a.kind, a.terminal_id, CASE a.kind WHEN 'refund' THEN a.op_txn_id ELSE a.original_txn_id END, a.original_txn_id,
         a.approved, COALESCE(a.decline_reason, ''), a.amount_minor, a.currency::text, COALESCE(c.pan_masked, ''),
         COALESCE(a.batch_id, 0), a.created_at, 1, a.id
    FROM adjustments a JOIN settlements s ON s.id = a.settlement_id LEFT JOIN cards c ON c.id = s.card_id
   WHERE s.merchant_id = $1 AND a.created_at >= $2 AND a.created_at < $3
) t ORDER BY "createdAt", src, seq LIMIT $4`;

/**
 * The port's transaction handle over one connection or transaction. `locking`: inside commit(),
 * card reads take the card row's lock.
 */
function postgresTx(q: Query, locking: boolean): StoreTx {
  const one = async <T>(text: string, params: readonly unknown[] = []): Promise<T | undefined> =>
    (await q<T>(text, params))[0];
  const run = async (text: string, params: readonly unknown[] = []): Promise<number> =>
    (await q<unknown>(text, params)).length;
  const challengeState = (row: { expires_at: number; used_at: number | null } | undefined): ChallengeState =>
    !row ? 'unknown' : row.used_at !== null ? 'used' : 'expired';

  const tx: StoreTx = {
    findCardByPanHash: (panHash) =>
      one<CardRow>(
        locking ? LOCK_CARD_BY_PAN_HASH : `SELECT ${CARD_COLUMNS} FROM cards WHERE pan_hash = $1`,
        [panHash],
      ),
    findCardById: (id) =>
      one<CardRow>(locking ? LOCK_CARD : `SELECT ${CARD_COLUMNS} FROM cards WHERE id = $1`, [id]),
    setPinTries: async (cardId, tries) => {
      await q('UPDATE cards SET pin_tries = $2 WHERE id = $1', [cardId, tries]);
    },
    setLastAtc: async (cardId, atc) => {
      if ((await q(ADVANCE_ATC, [cardId, atc])).length !== 1)
        throw new Error(`the ATC of card ${cardId} is not below ${atc}: read the card under its lock first`);
    },
    atcUsed: async (cardId, atc) => (await one<{ used: boolean }>(ATC_USED, [cardId, atc]))?.used ?? false,
    useAtc: async (cardId, atc) => {
      if ((await q(USE_ATC, [cardId, atc])).length !== 1) return false;
      await q(RAISE_LAST_ATC, [cardId, atc]);
      return true;
    },

    findTerminal: (id) =>
      one<TerminalRow>('SELECT id, merchant_id AS "merchantId", status FROM terminals WHERE id = $1', [id]),
    findTerminalCertificate: (fingerprint) =>
      one<TerminalCertificateRow>(
        `SELECT fingerprint, terminal_id AS "terminalId", serial, not_after AS "notAfter", issued_at AS "issuedAt",
                revoked_at AS "revokedAt" FROM terminal_certificates WHERE fingerprint = $1`,
        [fingerprint],
      ),
    findMerchant: (id) =>
      one<MerchantRow>(
        `SELECT m.id, m.name, m.status, m.account_id AS "accountId", a.currency::text AS currency
           FROM merchants m JOIN accounts a ON a.id = m.account_id WHERE m.id = $1`,
        [id],
      ),

    insertChallenge: async (un, terminalId, expiresAt) =>
      (await run(
        `INSERT INTO challenges (un, terminal_id, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (un, terminal_id) DO NOTHING RETURNING un`,
        [un, terminalId, expiresAt],
      )) === 1,
    purgeChallenges: async (before) => {
      await q('DELETE FROM challenges WHERE expires_at < $1', [before]);
    },
    boundChallenges: async (terminalId, now, keep) =>
      run(
        `DELETE FROM challenges WHERE terminal_id = $1 AND (expires_at < $2 OR (used_at IS NULL AND un IN (
           SELECT un FROM challenges WHERE terminal_id = $1 AND expires_at >= $2
            ORDER BY expires_at DESC, un DESC OFFSET $3))) RETURNING un`,
        [terminalId, now, Math.max(0, keep)],
      ),
    takeChallenge: async (un, terminalId, now) => {
      // One statement for a good challenge; why it was refused is read only when it was.
      if ((await run(TAKE_CHALLENGE, [un, terminalId, now])) === 1) return 'ok';
      return challengeState(await one(CHALLENGE_STATE, [un, terminalId]));
    },

    insertAuthorization: async (row) => {
      await q(
        'INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at, cvm) VALUES ($1, $2, $3, $4, $5, $6)',
        [row.ref, row.cardId, row.terminalId, row.un, row.expiresAt, row.cvm],
      );
    },
    findAuthorization: (ref) =>
      one<AuthorizationRow>(
        `SELECT ref, card_id AS "cardId", terminal_id AS "terminalId", un, expires_at AS "expiresAt", settled, cvm
           FROM authorizations WHERE ref = $1`,
        [ref],
      ),
    markAuthorizationSettled: async (ref) => {
      await q('UPDATE authorizations SET settled = true WHERE ref = $1', [ref]);
    },

    findSettlement: async (terminalId, terminalTxnId) => {
      const row = await one<SettlementRow>(
        `SELECT ${SETTLEMENT_COLUMNS} FROM settlements WHERE terminal_id = $1 AND terminal_txn_id = $2`,
        [terminalId, terminalTxnId],
      );
      return row && { ...row, declineReason: row.declineReason as DeclineCode | null };
    },
    insertSettlement: async (r) =>
      (await one<{ id: number }>(
        `INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor,
           currency, card_id, merchant_id, response, created_at, batch_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
        [
          r.terminalId,
          r.terminalTxnId,
          r.requestHash,
          r.approved,
          r.declineReason,
          r.amountMinor,
          r.currency,
          r.cardId,
          r.merchantId,
          r.response,
          r.createdAt,
          r.batchId,
        ],
      ))!.id,
    insertPostings: async (settlementId, postings, at, link) => {
      // No balance check here: the database's deferred constraint trigger checks each ledger
      // transaction at COMMIT (commit() turns its refusal into LedgerError). One statement, one
      // round trip, for all of the operation's postings.
      if (postings.length === 0) return;
      const rows = postings.map((_, i) => {
        const n = i * 3;
        return `($1, $${n + 5}, $${n + 6}, $${n + 7}, $2, $3, $4)`;
      });
      await q(
        `INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id, adjustment_id)
         VALUES ${rows.join(', ')}`,
        [
          settlementId,
          at,
          link.batchId,
          link.adjustmentId,
          ...postings.flatMap((p) => [p.accountId, p.amountMinor, p.currency]),
        ],
      );
    },
    salePostingsOf: (settlementId) =>
      q<Posting>(
        `SELECT account_id AS "accountId", amount_minor AS "amountMinor", currency::text AS currency FROM postings
          WHERE settlement_id = $1 AND adjustment_id IS NULL ORDER BY id`,
        [settlementId],
      ),
    // The sum of the account's balance slots (migration 0011): a card's are read under its row lock,
    // which every posting to the card's account takes first, so the sum is settled.
    accountBalance: async (accountId) =>
      (await one<{ s: number }>(
        'SELECT COALESCE(SUM(balance_minor), 0)::bigint AS s FROM account_balance_slots WHERE account_id = $1',
        [accountId],
      ))!.s,
    ledgerSum: async () =>
      (await one<{ s: number }>('SELECT COALESCE(SUM(amount_minor), 0)::bigint AS s FROM postings'))!.s,
    ledgerSumsByCurrency: async () =>
      Object.fromEntries(
        (
          await q<{ c: string; s: number }>(
            'SELECT currency::text AS c, SUM(amount_minor)::bigint AS s FROM postings GROUP BY currency',
          )
        ).map((r) => [r.c, r.s]),
      ),

    openBatch: async (terminalId, now, use = 'record') => {
      // A close locks the row FOR UPDATE: it waits for the operations holding it (KEY SHARE)
      // to commit, and any that come later find the batch closed and open the next one.
      const open =
        use === 'close' && locking
          ? toBatch(
              await one<BatchDbRow>(
                `SELECT ${BATCH_COLUMNS} FROM batches WHERE terminal_id = $1 AND status = 'open' FOR UPDATE`,
                [terminalId],
              ),
            )
          : await tx.findOpenBatch(terminalId);
      if (open) return open;
      // Two nodes opening the terminal's batch at once: batches_one_open refuses the second (23505)
      // and commit() runs it again, finding the first.
      const row = await one<BatchDbRow>(
        `INSERT INTO batches (terminal_id, status, opened_at) VALUES ($1, 'open', $2) RETURNING ${BATCH_COLUMNS}`,
        [terminalId, now],
      );
      return toBatch(row)!;
    },
    findOpenBatch: async (terminalId) =>
      toBatch(
        await one<BatchDbRow>(
          `SELECT ${BATCH_COLUMNS} FROM batches WHERE terminal_id = $1 AND status = 'open'${locking ? ' FOR KEY SHARE' : ''}`,
          [terminalId],
        ),
      ),
    findBatch: async (id) =>
      toBatch(await one<BatchDbRow>(`SELECT ${BATCH_COLUMNS} FROM batches WHERE id = $1`, [id])),
    findBatchByCloseRequest: async (terminalId, closeRequestId) =>
      toBatch(
        await one<BatchDbRow>(
          `SELECT ${BATCH_COLUMNS} FROM batches WHERE terminal_id = $1 AND close_request_id = $2`,
          [terminalId, closeRequestId],
        ),
      ),
    computeBatchTotals: async (batchId) => {
      type Agg = BatchGroup;
      const adjustments = (kind: AdjustmentKind) =>
        q<Agg>(
          `SELECT currency::text AS c, COUNT(*) AS n, SUM(amount_minor)::bigint AS s FROM adjustments
            WHERE batch_id = $1 AND approved AND kind = $2 GROUP BY currency`,
          [batchId, kind],
        );
      const groups = {
        sales: await q<Agg>(
          `SELECT currency::text AS c, COUNT(*) AS n, SUM(amount_minor)::bigint AS s FROM settlements
            WHERE batch_id = $1 AND approved GROUP BY currency`,
          [batchId],
        ),
        refunds: await adjustments('refund'),
        voids: await adjustments('void'),
      };
      return batchTotalsOf(batchId, groups);
    },
    batchPostingSums: async (batchId, accountId) =>
      (await one<{ account: number; all: number }>(
        `SELECT COALESCE(SUM(account), 0)::bigint AS account, COALESCE(SUM(ABS(s)), 0)::bigint AS "all" FROM (
           SELECT SUM(CASE WHEN account_id = $1 THEN amount_minor ELSE 0 END) AS account, SUM(amount_minor) AS s
             FROM postings WHERE batch_id = $2 GROUP BY currency) t`,
        [accountId, batchId],
      ))!,
    closeBatch: async (batchId, t, now, closeRequestId) => {
      const changed = await run(
        `UPDATE batches SET status = 'closed', closed_at = $1, close_request_id = $2, currency = $3, sale_count = $4,
           sale_minor = $5, refund_count = $6, refund_minor = $7, void_count = $8, void_minor = $9, net_minor = $10
         WHERE id = $11 AND status = 'open' RETURNING id`,
        [
          now,
          closeRequestId,
          t.currency === '' ? null : t.currency,
          t.saleCount,
          t.saleMinor,
          t.refundCount,
          t.refundMinor,
          t.voidCount,
          t.voidMinor,
          t.netMinor,
          batchId,
        ],
      );
      if (changed !== 1) throw new Error(`batch ${batchId} is not open`);
    },
    findAdjustment: async (terminalId, kind, opTxnId) => {
      const row = await one<AdjustmentRow>(
        `SELECT ${ADJUSTMENT_COLUMNS} FROM adjustments WHERE terminal_id = $1 AND kind = $2 AND op_txn_id = $3`,
        [terminalId, kind, opTxnId],
      );
      return row && { ...row, declineReason: row.declineReason as DeclineCode | null };
    },
    insertAdjustment: async (r) =>
      (await one<{ id: number }>(
        `INSERT INTO adjustments (kind, terminal_id, op_txn_id, original_txn_id, settlement_id, batch_id, request_hash,
           approved, decline_reason, amount_minor, currency, response, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
        [
          r.kind,
          r.terminalId,
          r.opTxnId,
          r.originalTxnId,
          r.settlementId,
          r.batchId,
          r.requestHash,
          r.approved,
          r.declineReason,
          r.amountMinor,
          r.currency,
          r.response,
          r.createdAt,
        ],
      ))!.id,
    refundedMinor: async (settlementId) =>
      (await one<{ s: number }>(
        `SELECT COALESCE(SUM(amount_minor), 0)::bigint AS s FROM adjustments
          WHERE settlement_id = $1 AND kind = 'refund' AND approved`,
        [settlementId],
      ))!.s,
    listTransactions: (terminalId, fromMs, toMs, limit) =>
      q<TransactionListRow>(TRANSACTIONS, [terminalId, fromMs, toMs, limit]),

    insertShopperChallenge: async (un, expiresAt) =>
      (await run(
        'INSERT INTO shopper_challenges (un, expires_at) VALUES ($1, $2) ON CONFLICT (un) DO NOTHING RETURNING un',
        [un, expiresAt],
      )) === 1,
    takeShopperChallenge: async (un, now) => {
      if ((await run(TAKE_SHOPPER_CHALLENGE, [un, now])) === 1) return 'ok';
      return challengeState(
        await one('SELECT expires_at, used_at FROM shopper_challenges WHERE un = $1', [un]),
      );
    },
    peekShopperChallenge: async (un, now) => {
      const row = await one<{ expires_at: number; used_at: number | null }>(
        'SELECT expires_at, used_at FROM shopper_challenges WHERE un = $1',
        [un],
      );
      if (row && row.used_at === null && row.expires_at >= now) return 'ok';
      return challengeState(row);
    },
    purgeShopperChallenges: async (before) => {
      await q('DELETE FROM shopper_challenges WHERE expires_at < $1', [before]);
    },
    insertCode: async (r) =>
      (await one<{ id: number }>(
        `INSERT INTO temporary_codes (code_hash, card_id, limit_minor, currency, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [r.codeHash, r.cardId, r.limitMinor, r.currency, r.createdAt, r.expiresAt],
      ))!.id,
    // Inside commit() the code rows are the lock of their redemption: two tills keying in the
    // same code serialize here, and the second sees it used.
    findCodes: (codeHash) =>
      q<TemporaryCodeRow>(
        `SELECT ${CODE_COLUMNS} FROM temporary_codes WHERE code_hash = $1 ORDER BY id DESC LIMIT 16${locking ? ' FOR UPDATE' : ''}`,
        [codeHash],
      ),
    markCodeUsed: async (id, settlementId, now) => {
      if ((await run(USE_CODE, [now, settlementId, id])) !== 1)
        throw new Error('temporary code already used');
    },
    recordWrongCode: async (merchantId, terminalId, at) => {
      await q('INSERT INTO code_attempts (merchant_id, terminal_id, at) VALUES ($1, $2, $3)', [
        merchantId,
        terminalId,
        at,
      ]);
    },
    countWrongCodes: async (merchantId, terminalId, since) =>
      (await one<{ merchant: number; terminal: number }>(
        `SELECT COUNT(*) AS merchant, COUNT(*) FILTER (WHERE terminal_id = $1) AS terminal
           FROM code_attempts WHERE merchant_id = $2 AND at >= $3`,
        [terminalId, merchantId, since],
      ))!,
    findMerchantCardByPanHash: (panHash) =>
      one<MerchantCardRow>(
        `SELECT id, pan_hash AS "panHash", pan_masked AS "panMasked", pan_sequence AS "panSequence", expiry,
                merchant_id AS "merchantId", terminal_id AS "terminalId", status
           FROM merchant_cards WHERE pan_hash = $1`,
        [panHash],
      ),
    listMerchantTransactions: (merchantId, fromMs, toMs, limit) =>
      q<TransactionListRow & { terminalId: string }>(MERCHANT_TRANSACTIONS, [
        merchantId,
        fromMs,
        toMs,
        limit,
      ]),
  };
  queries.set(tx, q);
  return tx;
}

/** SETTLE_FACTS's row: each entity's columns, all null when it is not there. */
interface SettleFactsRow {
  p_request_hash: Uint8Array | null;
  p_response: Uint8Array | null;
  t_id: string | null;
  t_merchant_id: string;
  t_status: TerminalRow['status'];
  m_id: string | null;
  m_name: string;
  m_status: MerchantRow['status'];
  m_account_id: string;
  m_currency: string;
  c_id: string | null;
  c_pan_hash: string;
  c_pan_masked: string;
  c_pan_sequence: number;
  c_expiry: string;
  c_cardholder_name: string;
  c_status: CardRow['status'];
  c_pin_tries: number;
  c_credit_limit_minor: number;
  c_currency: string;
  c_account_id: string;
  c_last_atc: number;
  card_version: string | null;
  balance: number | null;
  atc_used: boolean | null;
  a_ref: string | null;
  a_card_id: string;
  a_terminal_id: string;
  a_un: string;
  a_expires_at: number;
  a_settled: boolean;
  a_cvm: AuthorizationRow['cvm'];
}

function settleFactsOf(r: SettleFactsRow): SettleFacts {
  return {
    prior:
      r.p_request_hash && r.p_response
        ? { requestHash: r.p_request_hash, response: r.p_response }
        : undefined,
    terminal: r.t_id ? { id: r.t_id, merchantId: r.t_merchant_id, status: r.t_status } : undefined,
    merchant: r.m_id
      ? { id: r.m_id, name: r.m_name, status: r.m_status, accountId: r.m_account_id, currency: r.m_currency }
      : undefined,
    card: r.c_id
      ? {
          id: r.c_id,
          panHash: r.c_pan_hash,
          panMasked: r.c_pan_masked,
          panSequence: r.c_pan_sequence,
          expiry: r.c_expiry,
          cardholderName: r.c_cardholder_name,
          status: r.c_status,
          pinTries: r.c_pin_tries,
          creditLimitMinor: r.c_credit_limit_minor,
          currency: r.c_currency,
          accountId: r.c_account_id,
          lastAtc: r.c_last_atc,
        }
      : undefined,
    balanceMinor: r.c_id ? (r.balance ?? 0) : 0,
    authorization: r.a_ref
      ? {
          ref: r.a_ref,
          cardId: r.a_card_id,
          terminalId: r.a_terminal_id,
          un: r.a_un,
          expiresAt: r.a_expires_at,
          settled: r.a_settled,
          cvm: r.a_cvm,
        }
      : undefined,
    atcUsed: r.atc_used === true,
  };
}

/** At most this many settle_record_many statements of one node at once, each of at most MAX_SETTLE_GROUP Settles. */
const SETTLE_GROUPS_AT_ONCE = 2;
const MAX_SETTLE_GROUP = 32;

/** One Settle's writes as settle_record_many takes them (settle_record's parameters, bytes in hex). */
interface SettleItem {
  readonly cardId: string | null;
  readonly cardVersion: string | null;
  readonly balance: number;
  readonly atc: number | null;
  readonly pinTries: number | null;
  readonly authorizationRef: string | null;
  readonly terminalId: string;
  readonly terminalTxnId: string;
  readonly requestHash: string;
  readonly approved: boolean;
  readonly declineReason: string | null;
  readonly amountMinor: number;
  readonly currency: string;
  readonly merchantId: string;
  readonly response: string;
  readonly createdAt: number;
  readonly accounts: readonly string[];
  readonly amounts: readonly number[];
  readonly currencies: readonly string[];
}

interface PendingSettle {
  readonly item: SettleItem;
  /** The settlement's id or SETTLE_ITEM_STALE; anything else is the error the write failed with. */
  readonly done: (result: unknown) => void;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
