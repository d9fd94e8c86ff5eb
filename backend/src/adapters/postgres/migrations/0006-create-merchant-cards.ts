/**
 * Merchant IC cards (claims 2, 7, 8): issued by the card company like payment cards (own ICC key
 * under the CA), registered to a merchant. Each has its own terminal row (`terminal_id`), so its
 * sales settle, batch and list like a till's, exactly once per (terminal, idempotency key).
 */
export const up = `
  CREATE TABLE merchant_cards (
    id text PRIMARY KEY,
    pan_hash text NOT NULL UNIQUE,          -- HMAC-SHA256 under the lookup key; never the PAN
    pan_masked text NOT NULL,
    pan_sequence integer NOT NULL,
    expiry text NOT NULL,                   -- YYMM
    merchant_id text NOT NULL REFERENCES merchants (id),
    terminal_id text NOT NULL UNIQUE REFERENCES terminals (id),
    status text NOT NULL CHECK (status IN ('active', 'blocked')),
    issued_at bigint NOT NULL
  );
  CREATE INDEX merchant_cards_merchant ON merchant_cards (merchant_id);
`;
