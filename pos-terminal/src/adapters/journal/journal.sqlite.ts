/**
 * The till's local journal in SQLite (WAL): the record of every settlement attempt. Requests
 * carry card data, so they are stored encrypted (AES-256-GCM under the journal key, which comes
 * from the till key: journal-key.ts), and only while the outcome is unknown. Once an attempt is
 * approved, declined or abandoned, its request is wiped: what stays is the terminal transaction
 * id, the amount, the masked card number, a SHA-256 of the request and the response (masked card
 * numbers only). `secure_delete` zeroes the freed bytes in the database pages, and a TRUNCATE
 * checkpoint soon after (and on close) empties the WAL, so no copy of a wiped request stays in
 * the files (PCI DSS 3.3.1: nothing of the card kept after it is needed).
 *
 * Durability, per write. No write blocks the event loop (which also serves the phones) on an
 * fsync. `begin` (the write-ahead record made before a Settle is sent) commits at
 * synchronous=NORMAL (the row is visible and survives a crash of the till at once) and resolves
 * only once the WAL file is fsynced, on the thread pool: on disk before the backend can charge
 * anything. Writes whose loss in a power cut the till recovers from commit at NORMAL and reach the
 * disk with the next sync (the WAL is one file, synced whole):
 * - an attempt's outcome (approved, declined, unresolved, abandoned): lost, the attempt is still
 *   'pending' after the restart and is resolved by asking the backend, which answers as before;
 * - a resume token: it is always followed by its payment's `begin`; lost with it, no payment was
 *   sent, so nothing was charged.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, fsync, openSync } from 'node:fs';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { Item } from '@bluetill/protocol';
import type { AttemptRecord, Journal, PendingKind } from '../../common/ports/journal';
import type { BasketChange, BasketStore, StoredBasket } from '../../common/ports/basket-store';
import { checkTransition, type AttemptState } from '../../common/payment-attempt';
import { migrate, userVersion } from '../sqlite/migrate';
import { migrations } from './migrations';

const fsyncAsync = promisify(fsync);

/** States in which the outcome is known: the request (card data) is no longer needed. */
const KNOWN: readonly AttemptState[] = ['approved', 'declined', 'abandoned'];
/** How soon after an outcome the WAL is checkpointed and truncated (wiped requests leave it). */
const WIPE_AFTER_MS = 250;

/** Applies the journal's migrations above the database's user_version (up to `target`), each in its own transaction. */
export function migrateJournal(db: Database.Database, target = migrations.length): void {
  migrate(db, migrations, userVersion, target);
}

type Row = {
  terminalTxnId: string;
  basketId: string;
  state: AttemptState;
  request: Buffer;
  response: Buffer | null;
  updatedAt: number;
  amountMinor: number | null;
  maskedPan: string | null;
  requestHash: Buffer | null;
};
const COLUMNS =
  'terminal_txn_id AS terminalTxnId, basket_id AS basketId, state, request, response, updated_at AS updatedAt, amount_minor AS amountMinor, masked_pan AS maskedPan, request_hash AS requestHash';

export class SqliteJournal implements Journal, BasketStore {
  private readonly db: Database.Database;
  private readonly key: Uint8Array;

  /** `key`: 32 bytes, the journal key (journal-key.ts: derived from the till key, which is not on this disk). */
  constructor(
    private readonly path: string,
    options: { key: Uint8Array },
  ) {
    if (options.key.length !== 32) throw new Error('journal key must be 32 bytes');
    this.key = options.key;
    this.db = new Database(path);
    // Freed bytes (a wiped request's ciphertext) are overwritten with zeros, not left in free space.
    this.db.pragma('secure_delete = ON');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    migrateJournal(this.db);
  }

  private wipeTimer: ReturnType<typeof setTimeout> | undefined;

  /** After an outcome, soon: the WAL's frames (which hold the request as it was) are checkpointed and the file truncated. */
  private scheduleWalWipe(): void {
    if (this.wipeTimer) return;
    this.wipeTimer = setTimeout(() => this.wipeWal(), WIPE_AFTER_MS);
    this.wipeTimer.unref?.();
  }

  /** Checkpoints the WAL into the database and truncates it to zero bytes. */
  wipeWal(): void {
    if (this.wipeTimer) clearTimeout(this.wipeTimer);
    this.wipeTimer = undefined;
    if (this.db.open) this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** A write recovered from if a power cut loses it (see above): no fsync of its own. Refunds and closes stay FULL (rare). */
  private relaxed(fn: () => void): void {
    this.db.pragma('synchronous = NORMAL');
    try {
      this.db.transaction(fn)();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  async begin(a: {
    terminalTxnId: string;
    basketId: string;
    request: Uint8Array;
    at: number;
    amountMinor?: number;
    maskedPan?: string;
  }): Promise<void> {
    const hash = createHash('sha256').update(a.request).digest();
    this.relaxed(() => {
      this.db
        .prepare(
          "INSERT INTO attempts (terminal_txn_id, basket_id, state, request, updated_at, amount_minor, masked_pan, request_hash) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
        )
        .run(
          a.terminalTxnId,
          a.basketId,
          this.seal(a.request, a.terminalTxnId),
          a.at,
          a.amountMinor ?? null,
          a.maskedPan ?? null,
          hash,
        );
    });
    await this.syncWal();
  }

  /**
   * fsync of the WAL file on libuv's thread pool: every frame committed before the call is on
   * disk when it resolves (fsync covers the file, whichever descriptor wrote it). Counted, for tests.
   */
  private async syncWal(): Promise<void> {
    this.walFd ??= openSync(`${this.path}-wal`, 'r');
    await fsyncAsync(this.walFd);
    this.walSyncs++;
  }

  /** @internal WAL fsyncs done by `begin`. */
  walSyncs = 0;
  private walFd: number | undefined;

  private seal(plain: Uint8Array, txn: string): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(txn));
    return Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]);
  }

  private open(blob: Buffer, txn: string): Uint8Array {
    const d = createDecipheriv('aes-256-gcm', this.key, blob.subarray(0, 12));
    d.setAAD(Buffer.from(txn));
    d.setAuthTag(blob.subarray(blob.length - 16));
    return new Uint8Array(Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]));
  }

  private toRecord(r: Row): AttemptRecord {
    return {
      ...r,
      request: r.request.length === 0 ? new Uint8Array() : this.open(r.request, r.terminalTxnId),
      response: r.response && new Uint8Array(r.response),
      requestHash: r.requestHash && new Uint8Array(r.requestHash),
    };
  }

  transition(terminalTxnId: string, to: AttemptState, response: Uint8Array | null, at: number): void {
    this.relaxed(() => {
      const current = this.get(terminalTxnId);
      if (!current) throw new Error(`no attempt ${terminalTxnId}`);
      checkTransition(current.state, to);
      // Outcome known: the request (card data) goes; its hash, amount and masked card number stay.
      const wipe = KNOWN.includes(to) ? 1 : 0;
      this.db
        .prepare(
          "UPDATE attempts SET state = ?, response = COALESCE(?, response), updated_at = ?, request = CASE WHEN ? THEN x'' ELSE request END WHERE terminal_txn_id = ?",
        )
        .run(to, response, at, wipe, terminalTxnId);
      if (wipe) this.scheduleWalWipe();
    });
  }

  get(terminalTxnId: string): AttemptRecord | undefined {
    const r = this.db
      .prepare(`SELECT ${COLUMNS} FROM attempts WHERE terminal_txn_id = ?`)
      .get(terminalTxnId) as Row | undefined;
    return r && this.toRecord(r);
  }

  unresolved(): AttemptRecord[] {
    return (
      this.db
        .prepare(
          `SELECT ${COLUMNS} FROM attempts WHERE state IN ('pending', 'unresolved') ORDER BY updated_at`,
        )
        .all() as Row[]
    ).map((r) => this.toRecord(r));
  }

  forBasket(basketId: string): AttemptRecord[] {
    return (
      this.db
        .prepare(`SELECT ${COLUMNS} FROM attempts WHERE basket_id = ? ORDER BY updated_at`)
        .all(basketId) as Row[]
    ).map((r) => this.toRecord(r));
  }

  pendingOperation(kind: PendingKind, key: string): string | undefined {
    const row = this.db
      .prepare('SELECT operation_id AS id FROM pending_operations WHERE kind = ? AND key = ?')
      .get(kind, key) as { id: string } | undefined;
    return row?.id;
  }

  recordPendingOperation(kind: PendingKind, key: string, operationId: string, at: number): void {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO pending_operations (kind, key, operation_id, created_at) VALUES (?, ?, ?, ?)',
      )
      .run(kind, key, operationId, at);
  }

  clearPendingOperation(kind: PendingKind, key: string): void {
    this.db.prepare('DELETE FROM pending_operations WHERE kind = ? AND key = ?').run(kind, key);
  }

  recordResumeToken(r: {
    terminalTxnId: string;
    basketId: string;
    tokenHash: Uint8Array;
    at: number;
    purgeBefore: number;
  }): void {
    this.relaxed(() => {
      this.db.prepare('DELETE FROM resume_tokens WHERE created_at < ?').run(r.purgeBefore);
      this.db
        .prepare(
          'INSERT INTO resume_tokens (terminal_txn_id, basket_id, token_hash, created_at) VALUES (?, ?, ?, ?)',
        )
        .run(r.terminalTxnId, r.basketId, r.tokenHash, r.at);
    });
  }

  resumeToken(
    terminalTxnId: string,
  ): { readonly basketId: string; readonly tokenHash: Uint8Array } | undefined {
    const row = this.db
      .prepare(
        'SELECT basket_id AS basketId, token_hash AS tokenHash FROM resume_tokens WHERE terminal_txn_id = ?',
      )
      .get(terminalTxnId) as { basketId: string; tokenHash: Buffer } | undefined;
    return row && { basketId: row.basketId, tokenHash: new Uint8Array(row.tokenHash) };
  }

  loadBaskets(): { baskets: StoredBasket[]; lastNumber: number; draft: Item[] } {
    const rows = this.db.prepare('SELECT id, items FROM baskets ORDER BY rowid').all() as {
      id: string;
      items: string;
    }[];
    const state = new Map(
      (this.db.prepare('SELECT key, value FROM till_state').all() as { key: string; value: string }[]).map(
        (r) => [r.key, r.value],
      ),
    );
    return {
      baskets: rows.map((r) => ({ id: r.id, items: JSON.parse(r.items) as Item[] })),
      lastNumber: Number(state.get('last_basket_number') ?? 0),
      draft: JSON.parse(state.get('draft') ?? '[]') as Item[],
    };
  }

  /**
   * One change to the waiting baskets and the sale, in one transaction. Committed at once (a crash
   * of the till loses none of it); like an outcome, it reaches the disk with the next sync. A
   * number lost in a power cut is still never reused for a sale the journal knows (BasketBook's `taken`).
   */
  writeBaskets(c: BasketChange): void {
    this.relaxed(() => {
      if (c.remove !== undefined) this.db.prepare('DELETE FROM baskets WHERE id = ?').run(c.remove);
      if (c.put)
        this.db
          .prepare('INSERT OR REPLACE INTO baskets (id, items) VALUES (?, ?)')
          .run(c.put.id, JSON.stringify(c.put.items));
      const set = this.db.prepare('INSERT OR REPLACE INTO till_state (key, value) VALUES (?, ?)');
      if (c.lastNumber !== undefined) set.run('last_basket_number', String(c.lastNumber));
      if (c.draft) set.run('draft', JSON.stringify(c.draft));
    });
  }

  close(): void {
    if (this.db.open) this.wipeWal();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
    this.db.close();
  }
}
