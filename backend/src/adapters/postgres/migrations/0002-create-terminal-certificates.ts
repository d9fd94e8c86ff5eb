/**
 * The mutual-TLS client certificates issued to terminals, by SHA-256 fingerprint of the DER.
 * The server accepts a client certificate only if it is listed here, not revoked, and names the
 * terminal it is listed for.
 */
export const up = `
  CREATE TABLE terminal_certificates (
    fingerprint text PRIMARY KEY,
    terminal_id text NOT NULL REFERENCES terminals (id),
    serial text NOT NULL,
    not_after bigint NOT NULL,
    issued_at bigint NOT NULL,
    revoked_at bigint
  );
  CREATE INDEX terminal_certificates_terminal ON terminal_certificates (terminal_id);
`;
