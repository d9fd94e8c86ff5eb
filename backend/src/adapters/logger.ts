import pino, { type Logger } from 'pino';
import { LOG_REDACT_PATHS } from '@bluetill/protocol';

/** Structured JSON logs to stderr (or a file descriptor), with card data paths redacted. */
export function createLogger(
  name: string,
  level = process.env.BLUETILL_LOG_LEVEL ?? 'info',
  destination = 2,
): Logger {
  return pino(
    { name, level, redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } },
    pino.destination({ fd: destination, sync: false }),
  );
}
export type { Logger };

/**
 * Calls `then` once every line the logger has taken is written (the asynchronous write in flight
 * included), or after `maxWaitMs` if the destination does not drain: for the last lines before the
 * process ends itself (a forced drain), which a SIGKILL right after the log call would lose.
 */
export function afterLogWritten(log: Logger, then: () => void, maxWaitMs = 1_000): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    then();
  };
  const timer = setTimeout(once, maxWaitMs);
  try {
    // The callback runs once the destination has drained (with an error when it cannot fsync a pipe).
    log.flush(() => once());
  } catch {
    once(); // a destination not open yet: nothing of it can be waited for
  }
}
