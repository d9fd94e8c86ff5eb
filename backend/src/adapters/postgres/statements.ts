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

/** Whether USE_ATC would take no row now: the ATC was used already, or it is at or below the card's floor. */
export const ATC_USED = `SELECT atc_floor >= $2 OR EXISTS (SELECT 1 FROM card_atcs WHERE card_id = $1 AND atc = $2) AS used
  FROM cards WHERE id = $1`;

/**
 * A Settle's facts in one statement and one row, without locks (SettleFacts, flattened: p_ the
 * stored answer under the id, t_ the terminal, m_ its merchant, c_ the card without its PIN's salt
 * and verifier, a_ the authorization). `card_version` is the card row's version (xmin): settle_record (migration
 * 0014, through SETTLE_RECORD_MANY) writes only if the row is still that one. $1 terminal,
 * $2 terminal txn id, $3 PAN hash, $4 authorization ref, $5 ATC (-1: none).
 */
export const SETTLE_FACTS = `
  SELECT p.request_hash AS p_request_hash, p.response AS p_response,
         t.id AS t_id, t.merchant_id AS t_merchant_id, t.status AS t_status,
         m.id AS m_id, m.name AS m_name, m.status AS m_status, m.account_id AS m_account_id, ma.currency::text AS m_currency,
         c.id AS c_id, c.pan_hash AS c_pan_hash, c.pan_masked AS c_pan_masked, c.pan_sequence AS c_pan_sequence,
         c.expiry AS c_expiry, c.cardholder_name AS c_cardholder_name, c.status AS c_status,
         c.pin_tries AS c_pin_tries, c.credit_limit_minor AS c_credit_limit_minor,
         c.currency AS c_currency, c.account_id AS c_account_id, c.last_atc AS c_last_atc,
         c.xmin::text AS card_version,
         (SELECT COALESCE(SUM(balance_minor), 0)::bigint FROM account_balance_slots WHERE account_id = c.account_id) AS balance,
         $5::integer >= 0 AND (c.atc_floor >= $5::integer
           OR EXISTS (SELECT 1 FROM card_atcs WHERE card_id = c.id AND atc = $5::integer)) AS atc_used,
         a.ref AS a_ref, a.card_id AS a_card_id, a.terminal_id AS a_terminal_id, a.un AS a_un,
         a.expires_at AS a_expires_at, a.settled AS a_settled, a.cvm AS a_cvm
    FROM (SELECT 1) AS one
    LEFT JOIN settlements p ON p.terminal_id = $1 AND p.terminal_txn_id = $2
    LEFT JOIN terminals t ON t.id = $1
    LEFT JOIN merchants m ON m.id = t.merchant_id
    LEFT JOIN accounts ma ON ma.id = m.account_id
    LEFT JOIN cards c ON c.pan_hash = $3
    LEFT JOIN authorizations a ON a.ref = $4`;

/**
 * Several Settles' writes in one statement (migration 0016): $1 a JSON array of settle_record's
 * parameters. Returns `ids`, one per item: its settlement id, SETTLE_ITEM_STALE (settle_record
 * raised BT409: decided on facts no longer current, nothing of it written) or SETTLE_ITEM_UNBALANCED.
 */
export const SETTLE_RECORD_MANY = 'SELECT settle_record_many($1::text::jsonb) AS ids';
export const SETTLE_ITEM_STALE = -1;
export const SETTLE_ITEM_UNBALANCED = -2;
