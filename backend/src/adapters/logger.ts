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
 * Writes what the logger holds now, synchronously: for the last lines before the process ends
 * itself (a forced drain), which an asynchronous flush could lose.
 */
export function flushLogSync(log: Logger): void {
  const stream = (log as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[
    pino.symbols.streamSym
  ];
  try {
    stream?.flushSync?.();
  } catch {
    // a destination that cannot flush synchronously (not open yet) keeps what it has
  }
}
