/**
 * `settle_record(...)`: a Settle's writes as one statement, so that a node settles in two round
 * trips (the facts read without locks, then this) instead of one per statement of a transaction.
 * The node decided on facts it read earlier; the function writes only if they still hold, and
 * otherwise raises SQLSTATE BT409 and writes nothing (the statement's transaction rolls back):
 *
 * - the card's row is locked (FOR UPDATE: the card row is the lock, as everywhere) and must be the
 *   version the decision saw (`xmin`: any change to the card, such as an ATC used or PIN tries
 *   set, makes a new version), and the card account's balance must be the one it saw;
 * - the ATC to use must still be free (card_atcs' key; above the card's floor);
 * - the terminal transaction id must still be free (the settlement's unique key): the node reads
 *   again and answers with the winner's result;
 * - an approved sale's authorization must still be unsettled, and the terminal's open batch is
 *   taken FOR KEY SHARE (a close waits for it) or opened; one opened by another node at the same
 *   moment also makes the node read again.
 *
 * The rest of the invariants are the tables' own (migration 0008's triggers, the deferred
 * balanced-postings check at the statement's commit). Parameters: $1 card id (null: no card),
 * $2 the card row's version, $3 its account's balance, $4 ATC to use (null: none), $5 PIN tries to
 * set (null: none), $6 authorization to mark settled (null: none), then the settlement's
 * columns, then the postings as three arrays (account, amount, currency). Returns the settlement's id.
 */
export const up = `
  CREATE FUNCTION settle_record(
    p_card_id text, p_card_version text, p_balance bigint, p_atc integer, p_pin_tries integer,
    p_authorization_ref text, p_terminal_id text, p_terminal_txn_id text, p_request_hash bytea,
    p_approved boolean, p_decline_reason text, p_amount_minor bigint, p_currency text,
    p_merchant_id text, p_response bytea, p_created_at bigint,
    p_accounts text[], p_amounts bigint[], p_currencies text[]
  ) RETURNS bigint LANGUAGE plpgsql AS $$
  DECLARE
    card_version text;
    card_account text;
    balance bigint;
    batch bigint;
    settlement bigint;
  BEGIN
    IF p_card_id IS NOT NULL THEN
      SELECT xmin::text, account_id INTO card_version, card_account FROM cards WHERE id = p_card_id FOR UPDATE;
      IF card_version IS DISTINCT FROM p_card_version THEN
        RAISE EXCEPTION 'card % changed since the settlement was decided', p_card_id USING ERRCODE = 'BT409';
      END IF;
      SELECT COALESCE(SUM(balance_minor), 0) INTO balance FROM account_balance_slots WHERE account_id = card_account;
      IF balance <> p_balance THEN
        RAISE EXCEPTION 'the balance of card % changed since the settlement was decided', p_card_id USING ERRCODE = 'BT409';
      END IF;
    END IF;
    IF p_atc IS NOT NULL THEN
      INSERT INTO card_atcs (card_id, atc) SELECT id, p_atc FROM cards WHERE id = p_card_id AND atc_floor < p_atc
        ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'ATC % of card % is used already', p_atc, p_card_id USING ERRCODE = 'BT409';
      END IF;
      UPDATE cards SET last_atc = GREATEST(last_atc, p_atc) WHERE id = p_card_id;
    END IF;
    IF p_approved THEN
      SELECT id INTO batch FROM batches WHERE terminal_id = p_terminal_id AND status = 'open' FOR KEY SHARE;
      IF batch IS NULL THEN
        INSERT INTO batches (terminal_id, status, opened_at) VALUES (p_terminal_id, 'open', p_created_at)
          ON CONFLICT (terminal_id) WHERE status = 'open' DO NOTHING RETURNING id INTO batch;
        IF batch IS NULL THEN
          RAISE EXCEPTION 'terminal % opened a batch at the same moment', p_terminal_id USING ERRCODE = 'BT409';
        END IF;
      END IF;
    END IF;
    INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor,
        currency, card_id, merchant_id, response, created_at, batch_id)
      VALUES (p_terminal_id, p_terminal_txn_id, p_request_hash, p_approved, p_decline_reason, p_amount_minor,
        p_currency, p_card_id, p_merchant_id, p_response, p_created_at, batch)
      ON CONFLICT ON CONSTRAINT settlements_one_per_terminal_txn DO NOTHING
      RETURNING id INTO settlement;
    IF settlement IS NULL THEN
      RAISE EXCEPTION 'terminal transaction % % is settled already', p_terminal_id, p_terminal_txn_id USING ERRCODE = 'BT409';
    END IF;
    IF cardinality(p_accounts) > 0 THEN
      INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id, adjustment_id)
        SELECT settlement, x.account, x.amount, x.currency, p_created_at, batch, NULL
          FROM unnest(p_accounts, p_amounts, p_currencies) AS x(account, amount, currency);
    END IF;
    IF p_authorization_ref IS NOT NULL THEN
      UPDATE authorizations SET settled = true WHERE ref = p_authorization_ref AND NOT settled;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'authorization % is settled already', p_authorization_ref USING ERRCODE = 'BT409';
      END IF;
    END IF;
    IF p_pin_tries IS NOT NULL THEN
      UPDATE cards SET pin_tries = p_pin_tries WHERE id = p_card_id;
    END IF;
    RETURN settlement;
  END $$;
`;
