/**
 * Each account keeps its running balance: `balance_minor` is the sum of the account's postings,
 * set here from them and kept by a trigger on every posting inserted — the one way the ledger
 * changes, since postings are append-only (updating or deleting one is refused from now on).
 */
export const up = `
  ALTER TABLE accounts ADD COLUMN balance_minor bigint NOT NULL DEFAULT 0;
  UPDATE accounts SET balance_minor = (SELECT COALESCE(SUM(p.amount_minor), 0) FROM postings p WHERE p.account_id = accounts.id);

  CREATE FUNCTION postings_keep_balance() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE accounts SET balance_minor = balance_minor + NEW.amount_minor WHERE id = NEW.account_id;
    RETURN NULL;
  END $$;
  CREATE TRIGGER postings_keep_balance AFTER INSERT ON postings FOR EACH ROW EXECUTE FUNCTION postings_keep_balance();

  CREATE FUNCTION postings_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'postings are append-only' USING ERRCODE = 'integrity_constraint_violation';
  END $$;
  CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings FOR EACH ROW EXECUTE FUNCTION postings_append_only();
  CREATE TRIGGER postings_append_only_truncate BEFORE TRUNCATE ON postings FOR EACH STATEMENT EXECUTE FUNCTION postings_append_only();
`;
