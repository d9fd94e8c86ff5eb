/**
 * The offline sales journal on the till's journal file (journal.sqlite, its own connection; the
 * journal's migrations, 0006). Requests carry the card's records, so they are sealed
 * (AES-256-GCM under the journal key, the offline id as associated data) and wiped once the card
 * company has judged the sale. `record` commits and fsyncs (synchronous = FULL) before it
 * resolves: an approval the shopper was told of is on disk.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { OfflineJournal, OfflineSaleRecord, OfflineSaleState } from '../../common/ports/offline-journal';
import { migrateJournal } from './journal.sqlite';
import type { OfflineParametersStore } from '../../common/offline/offline-parameters';

const NEXT: Readonly<Record<OfflineSaleState, readonly OfflineSaleState[]>> = {
  approved: ['forwarding'],
  forwarding: ['settled', 'merchant_loss', 'declined'],
  settled: [],
  merchant_loss: [],
  declined: [],
};
const JUDGED: readonly OfflineSaleState[] = ['settled', 'merchant_loss', 'declined'];

type Row = Omit<OfflineSaleRecord, 'request' | 'response'> & { request: Buffer; response: Buffer | null };
const COLUMNS = `seq, offline_id AS offlineId, state, request, card_key AS cardKey, atc, amount_minor AS amountMinor, currency,
  masked_pan AS maskedPan, approved_at AS approvedAt, response, loss_reason AS lossReason, updated_at AS updatedAt`;

export class OfflineJournalError extends Error {
  constructor(
    readonly code: 'bad_transition' | 'unknown_sale',
    message: string,
  ) {
    super(message);
    this.name = 'OfflineJournalError';
  }
}

export class SqliteOfflineJournal implements OfflineJournal, OfflineParametersStore {
  private readonly db: Database.Database;
  private readonly key: Uint8Array;

  constructor(path: string, options: { key: Uint8Array }) {
    if (options.key.length !== 32) throw new Error('journal key must be 32 bytes');
    this.key = options.key;
    this.db = new Database(path);
    this.db.pragma('secure_delete = ON');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    migrateJournal(this.db);
  }

  async record(a: {
    offlineId: string;
    request: Uint8Array;
    cardKey: string;
    atc: number;
    amountMinor: number;
    currency: string;
    maskedPan: string;
    approvedAt: number;
  }): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO offline_sales (offline_id, state, request, card_key, atc, amount_minor, currency, masked_pan, approved_at, updated_at)
         VALUES (?, 'approved', ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        a.offlineId,
        this.seal(a.request, a.offlineId),
        a.cardKey,
        a.atc,
        a.amountMinor,
        a.currency,
        a.maskedPan,
        a.approvedAt,
        a.approvedAt,
      );
  }

  transition(
    offlineId: string,
    to: OfflineSaleState,
    answer: { response: Uint8Array; lossReason: string | null } | null,
    at: number,
  ): void {
    this.db.transaction(() => {
      const row = this.db.prepare('SELECT state FROM offline_sales WHERE offline_id = ?').get(offlineId) as
        { state: OfflineSaleState } | undefined;
      if (!row) throw new OfflineJournalError('unknown_sale', `no offline sale ${offlineId}`);
      // Forwarding again after a restart or a lost answer is the same state: nothing changes.
      if (row.state === to && to === 'forwarding') return;
      if (!NEXT[row.state].includes(to))
        throw new OfflineJournalError('bad_transition', `offline sale cannot go from ${row.state} to ${to}`);
      const judged = JUDGED.includes(to);
      if (judged && !answer)
        throw new OfflineJournalError('bad_transition', `${to} needs the card company's answer`);
      this.db
        .prepare(
          `UPDATE offline_sales SET state = ?, updated_at = ?, response = ?, loss_reason = ?,
             request = CASE WHEN ? THEN x'' ELSE request END WHERE offline_id = ?`,
        )
        .run(
          to,
          at,
          answer ? Buffer.from(answer.response) : null,
          answer?.lossReason ?? null,
          judged ? 1 : 0,
          offlineId,
        );
    })();
  }

  open(): OfflineSaleRecord[] {
    return (
      this.db
        .prepare(
          `SELECT ${COLUMNS} FROM offline_sales WHERE state IN ('approved', 'forwarding') ORDER BY seq`,
        )
        .all() as Row[]
    ).map((r) => this.toRecord(r));
  }

  since(sinceMs: number): OfflineSaleRecord[] {
    return (
      this.db
        .prepare(`SELECT ${COLUMNS} FROM offline_sales WHERE approved_at >= ? ORDER BY seq`)
        .all(sinceMs) as Row[]
    ).map((r) => this.toRecord(r));
  }

  hasAtc(cardKey: string, atc: number): boolean {
    return (
      this.db.prepare('SELECT 1 FROM offline_sales WHERE card_key = ? AND atc = ?').get(cardKey, atc) !==
      undefined
    );
  }

  highestTime(): number {
    const r = this.db.prepare('SELECT highest_ms AS ms FROM offline_clock WHERE id = 1').get() as
      { ms: number } | undefined;
    return r?.ms ?? 0;
  }

  raiseHighestTime(ms: number): void {
    this.db
      .prepare(
        'INSERT INTO offline_clock (id, highest_ms) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET highest_ms = MAX(highest_ms, excluded.highest_ms)',
      )
      .run(ms);
  }

  close(): void {
    if (this.db.open) {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.close();
    }
  }

  private toRecord(r: Row): OfflineSaleRecord {
    return {
      ...r,
      request: r.request.length === 0 ? new Uint8Array() : this.openSealed(r.request, r.offlineId),
      response: r.response ? new Uint8Array(r.response) : null,
    };
  }

  private seal(plain: Uint8Array, id: string): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(`offline:${id}`));
    return Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]);
  }

  private openSealed(blob: Buffer, id: string): Uint8Array {
    const d = createDecipheriv('aes-256-gcm', this.key, blob.subarray(0, 12));
    d.setAAD(Buffer.from(`offline:${id}`));
    d.setAuthTag(blob.subarray(blob.length - 16));
    return new Uint8Array(Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]));
  }

  loadParameters(): Uint8Array | null {
    const row = this.db.prepare('SELECT signed FROM offline_parameters WHERE id = 1').get() as
      { signed: Buffer } | undefined;
    return row ? new Uint8Array(row.signed) : null;
  }

  keepParameters(signed: Uint8Array, issuedAtMs: number): void {
    this.db
      .prepare(
        `INSERT INTO offline_parameters (id, signed, issued_at, kept_at) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET signed = excluded.signed, issued_at = excluded.issued_at, kept_at = excluded.kept_at`,
      )
      .run(Buffer.from(signed), issuedAtMs, Date.now());
  }

  dropParameters(): void {
    this.db.prepare('DELETE FROM offline_parameters').run();
  }
}
