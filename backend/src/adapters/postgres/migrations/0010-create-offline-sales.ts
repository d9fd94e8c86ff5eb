/**
 * Offline sales a till forwarded and the cards' status history, as the SQLite migration
 * 0010-create-offline-sales: one row per forwarded sale beside its settlement (settled, or the
 * merchant's loss and why; one settled row per card and ATC), and every change of `cards.status`
 * with its time, recorded by a trigger whoever makes it.
 */
export const up = `
  CREATE TABLE offline_sales (
    settlement_id bigint PRIMARY KEY REFERENCES settlements (id),
    terminal_id text NOT NULL,
    offline_id text NOT NULL,
    card_id text REFERENCES cards (id),
    atc integer CHECK (atc BETWEEN 0 AND 65535),
    outcome text NOT NULL CHECK (outcome IN ('settled', 'merchant_loss')),
    loss_reason text,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency text NOT NULL,
    approved_at bigint NOT NULL,
    forwarded_at bigint NOT NULL,
    UNIQUE (terminal_id, offline_id),
    CHECK ((outcome = 'settled') = (loss_reason IS NULL)),
    CHECK (outcome = 'merchant_loss' OR (card_id IS NOT NULL AND atc IS NOT NULL))
  );
  CREATE UNIQUE INDEX offline_sales_settled_atc ON offline_sales (card_id, atc) WHERE outcome = 'settled';
  CREATE INDEX offline_sales_card_atc ON offline_sales (card_id, atc);
  CREATE INDEX offline_sales_by_time ON offline_sales (forwarded_at);

  CREATE TABLE card_status_changes (
    id bigserial PRIMARY KEY,
    card_id text NOT NULL REFERENCES cards (id),
    old_status text NOT NULL,
    new_status text NOT NULL,
    changed_at bigint NOT NULL
  );
  CREATE INDEX card_status_changes_by_card ON card_status_changes (card_id, changed_at);
  CREATE FUNCTION record_card_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO card_status_changes (card_id, old_status, new_status, changed_at)
      VALUES (NEW.id, OLD.status, NEW.status, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
    RETURN NEW;
  END;
  $$;
  CREATE TRIGGER cards_status_changed AFTER UPDATE OF status ON cards
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status) EXECUTE FUNCTION record_card_status_change();
`;
