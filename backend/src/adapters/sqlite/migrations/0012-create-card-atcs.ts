import type Database from 'better-sqlite3';

/**
 * The ATCs each card has used: one row per card and ATC that a genuine cryptogram carried (an
 * online payment settled or cancelled, an offline TC forwarded), so each ATC is used at most once
 * per card in whatever order the card's payments reach the card company. `cards.atc_floor` is the
 * highest ATC the card had used when this set began (its `last_atc` then): every ATC at or below
 * it counts as used, as it did before; `last_atc` stays the highest ATC seen.
 */
export function up(db: Database.Database): void {
  db.exec(`
    ALTER TABLE cards ADD COLUMN atc_floor INTEGER NOT NULL DEFAULT -1 CHECK (atc_floor BETWEEN -1 AND 65535);
    UPDATE cards SET atc_floor = last_atc;
    CREATE TABLE card_atcs (
      card_id TEXT NOT NULL REFERENCES cards (id),
      atc INTEGER NOT NULL CHECK (atc BETWEEN 0 AND 65535),
      PRIMARY KEY (card_id, atc)
    ) STRICT, WITHOUT ROWID;
  `);
}
