/**
 * The ATCs each card has used, as the SQLite migration 0012-create-card-atcs: one row per card
 * and ATC (the primary key makes a second use of an ATC fail whichever node tries it), and
 * `cards.atc_floor`, the highest ATC used when the set began, at or below which every ATC counts
 * as used.
 */
export const up = `
  ALTER TABLE cards ADD COLUMN atc_floor integer NOT NULL DEFAULT -1 CHECK (atc_floor BETWEEN -1 AND 65535);
  UPDATE cards SET atc_floor = last_atc;
  CREATE TABLE card_atcs (
    card_id text NOT NULL REFERENCES cards (id),
    atc integer NOT NULL CHECK (atc BETWEEN 0 AND 65535),
    PRIMARY KEY (card_id, atc)
  );
`;
