import type Database from 'better-sqlite3';

/**
 * The mutual-TLS client certificates issued to terminals, by SHA-256 fingerprint of the DER.
 * The server accepts a client certificate only if it is listed here, not revoked, and names the
 * terminal it is listed for.
 */
export function up(db: Database.Database): void {
  db.exec(`
    CREATE TABLE terminal_certificates (
      fingerprint TEXT PRIMARY KEY,
      terminal_id TEXT NOT NULL REFERENCES terminals (id),
      serial TEXT NOT NULL,
      not_after INTEGER NOT NULL,
      issued_at INTEGER NOT NULL,
      revoked_at INTEGER
    ) STRICT;
    CREATE INDEX terminal_certificates_terminal ON terminal_certificates (terminal_id);
  `);
}
