/**
 * What a failed PostgreSQL call means for the caller, from the error the `postgres` driver throws:
 * server errors carry the SQLSTATE in `code` (a `PostgresError`), connection failures a Node or
 * driver code (`ECONNREFUSED`, `CONNECTION_CLOSED`, …). Translate here, once.
 *
 * - `connection`: the connection or the server went away (failover, restart), or did not answer
 *   in time (the driver's `query_timeout`/`queue_timeout`, a cancel left unanswered, the server's
 *   `statement_timeout`, a session ended for idling in a transaction). A transaction in flight
 *   has an unknown outcome: retry the whole request on a new connection; money-moving requests
 *   are exactly once by their terminal's id, so the retry finds the first result.
 * - `serialization`: 40001/40P01, the transaction lost a race: retry it.
 * - `unique_violation`: 23505, another node inserted the same key first: return its stored result.
 * - `invariant`: 23514/23P01/23000/23503/23502 and the invariant triggers: a bug or an attack, never retried.
 * - `other`.
 */
export type PostgresErrorKind = 'connection' | 'serialization' | 'unique_violation' | 'invariant' | 'other';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'QUERY_TIMEOUT', // the driver's query_timeout: the query was cancelled (or its connection closed)
  'QUEUE_TIMEOUT', // the driver's queue_timeout: never sent
  'CANCEL_UNANSWERED',
  '57014', // query_canceled: statement_timeout
  '25P03', // idle_in_transaction_session_timeout
  '57P01',
  '57P02',
  '57P03', // admin_shutdown, crash_shutdown, cannot_connect_now
  '08000',
  '08003',
  '08006',
  '08001',
  '08004', // connection_exception family
  '25006', // read_only_sql_transaction: reached a standby that was the primary a moment ago
  '25P03', // idle_in_transaction_session_timeout: the server ended a session its node left idle in a transaction
]);

export function postgresErrorKind(err: unknown): PostgresErrorKind {
  const code =
    typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  if (CONNECTION_CODES.has(code)) return 'connection';
  if (code === '40001' || code === '40P01') return 'serialization';
  if (code === '23505') return 'unique_violation';
  if (code.startsWith('23')) return 'invariant';
  return 'other';
}
