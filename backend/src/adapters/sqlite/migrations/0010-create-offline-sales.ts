import type Database from 'better-sqlite3';

/**
 * Offline sales a till forwarded (Settlement.ForwardOffline): one row per forwarded sale beside
 * its settlement (exactly once per terminal and offline id, as every settlement), with what the
 * card company made of it — settled, or the merchant's loss and why — the card's ATC (an offline
 * TC settles once: the same card and ATC never settle twice) and the till's time of approval.
 *
 * The card's status history: a card's state at the time of an offline sale decides whether it is
 * honoured (blocked before the sale: the merchant's loss; blocked after it: settled), so every
 * change of `cards.status` is recorded with its time by a trigger, whoever makes it.
 */
export function up(db: Database.Database): void {
  db.exec(`
    CREATE TABLE offline_sales (
      settlement_id INTEGER PRIMARY KEY REFERENCES settlements (id),
      terminal_id TEXT NOT NULL,
      offline_id TEXT NOT NULL,
      card_id TEXT REFERENCES cards (id),
      atc INTEGER CHECK (atc BETWEEN 0 AND 65535),
      outcome TEXT NOT NULL CHECK (outcome IN ('settled', 'merchant_loss')),
      loss_reason TEXT,
      amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
      currency TEXT NOT NULL,
      approved_at INTEGER NOT NULL,
      forwarded_at INTEGER NOT NULL,
      UNIQUE (terminal_id, offline_id),
      CHECK ((outcome = 'settled') = (loss_reason IS NULL)),
      CHECK (outcome = 'merchant_loss' OR (card_id IS NOT NULL AND atc IS NOT NULL))
    ) STRICT;
    CREATE UNIQUE INDEX offline_sales_settled_atc ON offline_sales (card_id, atc) WHERE outcome = 'settled';
    CREATE INDEX offline_sales_card_atc ON offline_sales (card_id, atc);
    CREATE INDEX offline_sales_by_time ON offline_sales (forwarded_at);

    CREATE TABLE card_status_changes (
      id INTEGER PRIMARY KEY,
      card_id TEXT NOT NULL REFERENCES cards (id),
      old_status TEXT NOT NULL,
      new_status TEXT NOT NULL,
      changed_at INTEGER NOT NULL              -- ms since the epoch
    ) STRICT;
    CREATE INDEX card_status_changes_by_card ON card_status_changes (card_id, changed_at);
    CREATE TRIGGER cards_status_changed AFTER UPDATE OF status ON cards
      WHEN NEW.status IS NOT OLD.status
    BEGIN
      INSERT INTO card_status_changes (card_id, old_status, new_status, changed_at)
        VALUES (NEW.id, OLD.status, NEW.status, CAST(unixepoch('subsec') * 1000 AS INTEGER));
    END;
  `);
}
