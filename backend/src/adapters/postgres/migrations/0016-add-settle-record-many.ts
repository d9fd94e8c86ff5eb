/**
 * `settle_record_many(items)`: the writes of several Settles, decided by one node at about the same
 * time, in one statement and so in one transaction with one WAL flush (PostgreSQL's counterpart of
 * the SQLite store's group commit). Each item is a call of settle_record (migration 0014), given as
 * a JSON object, inside its own subtransaction: an item whose facts no longer hold (BT409) or whose
 * postings do not balance is undone alone and reported (-1 stale, -2 unbalanced; checked at the
 * item's statement, not at the commit, for that), the others are kept. Returns each item's
 * settlement id, or its code, in order. Any other error ends the whole statement (nothing written).
 */
export const up = `
  CREATE FUNCTION settle_record_many(p_items jsonb) RETURNS bigint[] LANGUAGE plpgsql AS $$
  DECLARE
    item jsonb;
    ids bigint[] := '{}';
    id bigint;
    failed_constraint text;
  BEGIN
    SET CONSTRAINTS postings_balanced IMMEDIATE;
    FOR item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
      BEGIN
        id := settle_record(
          item->>'cardId', item->>'cardVersion', (item->>'balance')::bigint, (item->>'atc')::integer,
          (item->>'pinTries')::integer, item->>'authorizationRef', item->>'terminalId', item->>'terminalTxnId',
          decode(item->>'requestHash', 'hex'), (item->>'approved')::boolean, item->>'declineReason',
          (item->>'amountMinor')::bigint, item->>'currency', item->>'merchantId', decode(item->>'response', 'hex'),
          (item->>'createdAt')::bigint,
          ARRAY(SELECT jsonb_array_elements_text(item->'accounts')),
          ARRAY(SELECT jsonb_array_elements_text(item->'amounts')::bigint),
          ARRAY(SELECT jsonb_array_elements_text(item->'currencies')));
      EXCEPTION
        WHEN SQLSTATE 'BT409' THEN
          id := -1;
        WHEN check_violation THEN
          GET STACKED DIAGNOSTICS failed_constraint = CONSTRAINT_NAME;
          IF failed_constraint IS DISTINCT FROM 'postings_balanced' THEN
            RAISE;
          END IF;
          id := -2;
      END;
      ids := ids || id;
    END LOOP;
    RETURN ids;
  END $$;
`;
