/**
 * The statements whose shape carries an invariant, for the PostgreSQL store to use verbatim.
 * Each decides in one statement what the SQLite store decides by reading then writing (safe there
 * only under SQLite's single writer). The database's triggers (migration 0008) refuse the
 * writes that would break the same invariants by any other route.
 */

/** Redeems an unpredictable number once across all servers: one row back → ok; none → look up why. */
export const TAKE_CHALLENGE = `
  UPDATE challenges SET used_at = $3
   WHERE un = $1 AND terminal_id = $2 AND used_at IS NULL AND expires_at >= $3
  RETURNING un`;

/** Why a challenge could not be taken: no row → unknown; used_at set → used; else expired. */
export const CHALLENGE_STATE =
  'SELECT expires_at, used_at FROM challenges WHERE un = $1 AND terminal_id = $2';

/** The same for a phone's challenge (no terminal): one row back → ok. */
export const TAKE_SHOPPER_CHALLENGE = `
  UPDATE shopper_challenges SET used_at = $2
   WHERE un = $1 AND used_at IS NULL AND expires_at >= $2
  RETURNING un`;

/** The card's row as the store returns it (CardRow's fields). */
export const CARD_COLUMNS = `id, pan_hash AS "panHash", pan_masked AS "panMasked", pan_sequence AS "panSequence", expiry,
  cardholder_name AS "cardholderName", status, pin_salt AS "pinSalt", pin_verifier AS "pinVerifier",
  pin_tries AS "pinTries", credit_limit_minor AS "creditLimitMinor", currency, account_id AS "accountId",
  last_atc AS "lastAtc"`;

/**
 * The card row is the lock: everything that reads then writes a card's state (ATC forward only,
 * PIN tries, available credit) runs after one of these, in the same transaction. Two nodes
 * judging the same card serialize here, as they do on SQLite's write lock.
 */
export const LOCK_CARD = `SELECT ${CARD_COLUMNS} FROM cards WHERE id = $1 FOR UPDATE`;
export const LOCK_CARD_BY_PAN_HASH = `SELECT ${CARD_COLUMNS} FROM cards WHERE pan_hash = $1 FOR UPDATE`;

/** Moves the ATC forward; no row back → the ATC was not above the last one (a replay). */
export const ADVANCE_ATC =
  'UPDATE cards SET last_atc = $2 WHERE id = $1 AND last_atc < $2 RETURNING last_atc';

/**
 * Uses up one of the card's ATCs: no row back → used already (the primary key (card_id, atc)
 * decides between two nodes), or at or below the card's floor (its highest when the set began).
 */
export const USE_ATC = `INSERT INTO card_atcs (card_id, atc)
  SELECT id, $2 FROM cards WHERE id = $1 AND atc_floor < $2
  ON CONFLICT DO NOTHING RETURNING atc`;

/** Raises the card's highest ATC seen (never lowers it). */
export const RAISE_LAST_ATC = 'UPDATE cards SET last_atc = GREATEST(last_atc, $2) WHERE id = $1';

/** Uses a temporary code once: no row back → it was used already. */
export const USE_CODE =
  'UPDATE temporary_codes SET used_at = $1, settlement_id = $2 WHERE id = $3 AND used_at IS NULL RETURNING id';
