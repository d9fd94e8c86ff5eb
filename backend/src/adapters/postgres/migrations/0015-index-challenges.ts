/**
 * Challenges by terminal and by expiry. Each Challenge forgets its terminal's expired challenges
 * and all but its newest MAX_CHALLENGES_PER_TERMINAL (boundChallenges), and every ~100th purges
 * every terminal's expired ones (purgeChallenges; the phones' the same): without these indexes each
 * of those scanned the whole table, whose key is (un, terminal_id), and sorted the terminal's rows.
 * The SQLite store has had the first since its migration 0009.
 */
export const up = `
  CREATE INDEX challenges_by_terminal ON challenges (terminal_id, expires_at);
  CREATE INDEX challenges_by_expiry ON challenges (expires_at);
  CREATE INDEX shopper_challenges_by_expiry ON shopper_challenges (expires_at);
`;
