import type Database from 'better-sqlite3';

/**
 * Challenges by terminal and expiry: each Challenge forgets the terminal's expired ones and all
 * but its newest MAX_CHALLENGES_PER_TERMINAL (app/authorization-service.ts), which without this
 * index scanned the whole table (its key is (un, terminal_id)).
 */
export function up(db: Database.Database): void {
  db.exec('CREATE INDEX challenges_by_terminal ON challenges (terminal_id, expires_at)');
}
