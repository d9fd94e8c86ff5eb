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

/** The card row is the lock: everything that reads then writes a card's state runs after this. */
export const LOCK_CARD =
  'SELECT last_atc, pin_tries, credit_limit_minor, currency, account_id, status FROM cards WHERE id = $1 FOR UPDATE';

/** Moves the ATC forward; no row back → the ATC was not above the last one (a replay). */
export const ADVANCE_ATC =
  'UPDATE cards SET last_atc = $2 WHERE id = $1 AND last_atc < $2 RETURNING last_atc';
