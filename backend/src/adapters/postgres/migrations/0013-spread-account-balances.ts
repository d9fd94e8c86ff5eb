/**
 * An account's running balance is spread over slot rows (`account_balance_slots`: account, slot
 * 0-31, amount), and is their sum. The posting trigger adds each posting to the slot of the
 * database session that inserts it (`pg_backend_pid() % 32`), so concurrent sales of one merchant
 * update different rows: with one balance row per account, every sale of a merchant waited on that
 * row's lock until the sale before it had committed (its WAL flushed), one commit at a time. A
 * card's sales still serialize on the card row, taken first; a merchant's no longer do.
 *
 * The sum of an account's slots is what `balance_minor` was (moved to slot 0 here), and the column
 * goes: nothing can read a balance that is no longer kept. Postings stay append-only, so the slots
 * change only through the trigger, and each account's slots sum to the sum of its postings.
 */
export const BALANCE_SLOTS = 32;

export const up = `
  CREATE TABLE account_balance_slots (
    account_id text NOT NULL REFERENCES accounts (id),
    slot smallint NOT NULL CHECK (slot >= 0 AND slot < ${BALANCE_SLOTS}),
    balance_minor bigint NOT NULL,
    PRIMARY KEY (account_id, slot)
  );
  INSERT INTO account_balance_slots (account_id, slot, balance_minor)
    SELECT id, 0, balance_minor FROM accounts WHERE balance_minor <> 0;
  ALTER TABLE accounts DROP COLUMN balance_minor;

  CREATE OR REPLACE FUNCTION postings_keep_balance() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO account_balance_slots AS b (account_id, slot, balance_minor)
      VALUES (NEW.account_id, pg_backend_pid() % ${BALANCE_SLOTS}, NEW.amount_minor)
      ON CONFLICT (account_id, slot) DO UPDATE SET balance_minor = b.balance_minor + EXCLUDED.balance_minor;
    RETURN NULL;
  END $$;
`;
