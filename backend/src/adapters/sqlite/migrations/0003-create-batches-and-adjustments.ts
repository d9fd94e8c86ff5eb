import type Database from 'better-sqlite3';

/**
 * Batches (a terminal's business day: at most one open per terminal, closed with its totals),
 * adjustments (refunds and voids of a settlement, each with its stored response for retries),
 * and the links: settlements.batch_id, postings.batch_id and postings.adjustment_id.
 * Approved settlements made before this migration go into one open batch per terminal.
 */
export function up(db: Database.Database): void {
  db.exec(`
    CREATE TABLE batches (
      id INTEGER PRIMARY KEY,
      terminal_id TEXT NOT NULL REFERENCES terminals (id),
      status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
      opened_at INTEGER NOT NULL,
      closed_at INTEGER,
      close_request_id TEXT,
      currency TEXT,
      sale_count INTEGER,
      sale_minor INTEGER,
      refund_count INTEGER,
      refund_minor INTEGER,
      void_count INTEGER,
      void_minor INTEGER,
      net_minor INTEGER,
      CHECK ((status = 'open') = (closed_at IS NULL))
    ) STRICT;
    CREATE UNIQUE INDEX batches_one_open ON batches (terminal_id) WHERE status = 'open';
    CREATE UNIQUE INDEX batches_close_request ON batches (terminal_id, close_request_id) WHERE close_request_id IS NOT NULL;

    CREATE TABLE adjustments (
      id INTEGER PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('refund', 'void')),
      terminal_id TEXT NOT NULL,
      op_txn_id TEXT NOT NULL,               -- refund: refund_txn_id; void: the voided sale's id
      original_txn_id TEXT NOT NULL,         -- the sale's terminal_txn_id, as requested
      settlement_id INTEGER REFERENCES settlements (id),
      batch_id INTEGER REFERENCES batches (id),
      request_hash BLOB NOT NULL,
      approved INTEGER NOT NULL,
      decline_reason TEXT,
      amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
      currency TEXT NOT NULL,
      response BLOB NOT NULL,
      created_at INTEGER NOT NULL,
      UNIQUE (terminal_id, kind, op_txn_id)
    ) STRICT;
    CREATE INDEX adjustments_settlement ON adjustments (settlement_id);
    CREATE INDEX adjustments_batch ON adjustments (batch_id);

    ALTER TABLE settlements ADD COLUMN batch_id INTEGER REFERENCES batches (id);
    ALTER TABLE postings ADD COLUMN batch_id INTEGER REFERENCES batches (id);
    ALTER TABLE postings ADD COLUMN adjustment_id INTEGER REFERENCES adjustments (id);
    CREATE INDEX settlements_batch ON settlements (batch_id);
    CREATE INDEX settlements_created ON settlements (terminal_id, created_at);
    CREATE INDEX postings_batch ON postings (batch_id);

    INSERT INTO batches (terminal_id, status, opened_at)
      SELECT s.terminal_id, 'open', MIN(s.created_at) FROM settlements s JOIN terminals t ON t.id = s.terminal_id
      WHERE s.approved = 1 GROUP BY s.terminal_id;
    UPDATE settlements SET batch_id = (SELECT b.id FROM batches b WHERE b.terminal_id = settlements.terminal_id AND b.status = 'open')
      WHERE approved = 1;
    UPDATE postings SET batch_id = (SELECT s.batch_id FROM settlements s WHERE s.id = postings.settlement_id);
  `);
}
