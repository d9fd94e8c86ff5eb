/**
 * The invariants the database guards itself, whatever a node (or a person with a SQL prompt
 * and the application's role) sends:
 *
 * - **Each ledger transaction sums to zero per currency.** A ledger transaction is the postings
 *   of one settlement (`adjustment_id IS NULL`) or of one refund or void (`adjustment_id`). A
 *   constraint trigger, DEFERRABLE INITIALLY DEFERRED, checks each group a transaction touched at
 *   COMMIT, so the postings may be inserted one by one; an unbalanced group rolls the whole
 *   transaction back (SQLSTATE 23514, constraint `postings_balanced`).
 * - **A posting's currency is its account's.** Derived from the account when the insert leaves it
 *   out, refused when it names another (`postings_currency_of_account`); an account's currency
 *   never changes (`accounts_currency_fixed`).
 * - **One settlement per (terminal, terminal transaction id)**: the unique key
 *   `settlements_one_per_terminal_txn` of the first migration; a racing duplicate fails with 23505.
 * - **An unpredictable number is redeemed once.** The store takes one with a conditional
 *   `UPDATE … WHERE used_at IS NULL AND expires_at >= $now RETURNING` (statements.ts); here a
 *   used challenge can never be changed again (so `used_at` cannot be reset), a redemption after
 *   the expiry or a changed expiry is refused, and a challenge can be deleted (purged) only once
 *   expired by the database's clock. The same for the phones' `shopper_challenges`, and a used
 *   temporary code stays used (`challenge_used_once`, `code_used_once`).
 * - **ATCs only move forward**: `cards.last_atc` never goes down (`cards_atc_forward`) and stays
 *   within the two bytes EMV gives it. That a repeated ATC is declined is the conditional
 *   `UPDATE cards SET last_atc = $atc WHERE id = $1 AND last_atc < $atc` the store runs.
 *
 * A database that already breaks one of these refuses the migration (the transaction rolls back).
 * The triggers bind every role but a table owner, who could disable them: run the servers under a
 * role that does not own the tables.
 */
export const up = `
  DO $$
  BEGIN
    IF EXISTS (SELECT 1 FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.currency <> a.currency) THEN
      RAISE EXCEPTION 'a posting has a currency other than its account''s' USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM postings GROUP BY settlement_id, adjustment_id, currency HAVING SUM(amount_minor) <> 0) THEN
      RAISE EXCEPTION 'the ledger has a transaction that does not sum to zero' USING ERRCODE = 'check_violation';
    END IF;
  END $$;

  CREATE FUNCTION postings_currency_of_account() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE account_currency char(3);
  BEGIN
    SELECT currency INTO account_currency FROM accounts WHERE id = NEW.account_id;
    IF NOT FOUND THEN
      RETURN NEW;  -- the foreign key refuses it
    END IF;
    IF NEW.currency IS NULL THEN
      NEW.currency := account_currency;
    ELSIF NEW.currency <> account_currency THEN
      RAISE EXCEPTION 'posting in % to an account kept in %', NEW.currency, account_currency
        USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_currency_of_account';
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER postings_currency_of_account BEFORE INSERT ON postings FOR EACH ROW EXECUTE FUNCTION postings_currency_of_account();

  CREATE FUNCTION accounts_currency_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'an account''s currency never changes' USING ERRCODE = 'check_violation', CONSTRAINT = 'accounts_currency_fixed';
  END $$;
  CREATE TRIGGER accounts_currency_fixed BEFORE UPDATE OF currency ON accounts
    FOR EACH ROW WHEN (OLD.currency IS DISTINCT FROM NEW.currency) EXECUTE FUNCTION accounts_currency_fixed();

  CREATE FUNCTION postings_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE unbalanced record;
  BEGIN
    SELECT currency, SUM(amount_minor) AS total INTO unbalanced FROM postings
      WHERE settlement_id = NEW.settlement_id AND adjustment_id IS NOT DISTINCT FROM NEW.adjustment_id
      GROUP BY currency HAVING SUM(amount_minor) <> 0 LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'ledger transaction of settlement % (adjustment %) sums to % %, not zero',
          NEW.settlement_id, COALESCE(NEW.adjustment_id::text, 'none'), unbalanced.total, unbalanced.currency
        USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balanced';
    END IF;
    RETURN NULL;
  END $$;
  CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION postings_balanced();

  CREATE FUNCTION challenge_used_once() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      IF OLD.expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint THEN
        RAISE EXCEPTION 'a challenge is deleted only once expired' USING ERRCODE = 'check_violation', CONSTRAINT = 'challenge_used_once';
      END IF;
      RETURN OLD;
    END IF;
    IF OLD.used_at IS NOT NULL THEN
      RAISE EXCEPTION 'challenge already used' USING ERRCODE = 'check_violation', CONSTRAINT = 'challenge_used_once';
    END IF;
    IF NEW.expires_at IS DISTINCT FROM OLD.expires_at OR NEW.un IS DISTINCT FROM OLD.un THEN
      RAISE EXCEPTION 'a challenge''s number and expiry never change' USING ERRCODE = 'check_violation', CONSTRAINT = 'challenge_used_once';
    END IF;
    IF NEW.used_at > OLD.expires_at THEN
      RAISE EXCEPTION 'challenge expired' USING ERRCODE = 'check_violation', CONSTRAINT = 'challenge_used_once';
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER challenge_used_once BEFORE UPDATE OR DELETE ON challenges FOR EACH ROW EXECUTE FUNCTION challenge_used_once();
  CREATE TRIGGER challenge_used_once BEFORE UPDATE OR DELETE ON shopper_challenges FOR EACH ROW EXECUTE FUNCTION challenge_used_once();
  CREATE FUNCTION challenge_terminal_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'a challenge''s terminal never changes' USING ERRCODE = 'check_violation', CONSTRAINT = 'challenge_used_once';
  END $$;
  CREATE TRIGGER challenge_terminal_fixed BEFORE UPDATE OF terminal_id ON challenges
    FOR EACH ROW WHEN (OLD.terminal_id IS DISTINCT FROM NEW.terminal_id) EXECUTE FUNCTION challenge_terminal_fixed();

  CREATE FUNCTION code_used_once() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'temporary code already used' USING ERRCODE = 'check_violation', CONSTRAINT = 'code_used_once';
  END $$;
  CREATE TRIGGER code_used_once BEFORE UPDATE ON temporary_codes
    FOR EACH ROW WHEN (OLD.used_at IS NOT NULL) EXECUTE FUNCTION code_used_once();

  ALTER TABLE cards ADD CONSTRAINT cards_atc_range CHECK (last_atc BETWEEN -1 AND 65535);
  CREATE FUNCTION cards_atc_forward() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'a card''s ATC only moves forward (% after %)', NEW.last_atc, OLD.last_atc
      USING ERRCODE = 'check_violation', CONSTRAINT = 'cards_atc_forward';
  END $$;
  CREATE TRIGGER cards_atc_forward BEFORE UPDATE OF last_atc ON cards
    FOR EACH ROW WHEN (NEW.last_atc < OLD.last_atc) EXECUTE FUNCTION cards_atc_forward();
`;
