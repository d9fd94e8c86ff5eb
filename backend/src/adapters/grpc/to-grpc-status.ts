/**
 * The one place where errors become gRPC statuses. Unknown errors are INTERNAL and
 * logged, never echoed. A CommitError (the request's batch did not commit: nothing of it is
 * stored) is UNAVAILABLE, so the till retries it (exactly once makes that safe); it is logged too.
 * A business decline (a use case's response with `approved` false) is not an error: it is
 * answered OK with the response message in the body (server.ts), like an approval.
 */
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { RequestError, type RequestErrorCode } from '../../app/request-error';
import { assertNever } from '@bluetill/protocol';
import { CommitError } from '../../ports/backend-store';
import { TerminalRefusedError, refusalStatus } from './terminal-refusal';

const CODE: Record<RequestErrorCode, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  permission_denied: status.PERMISSION_DENIED,
  already_exists: status.ALREADY_EXISTS,
  unavailable: status.UNAVAILABLE,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
};

export function toGrpcStatus(error: unknown, log: Logger, method: string): Partial<ServiceError> {
  if (error instanceof TerminalRefusedError) return refusalStatus(error);
  if (error instanceof RequestError) {
    const code = CODE[error.code] ?? assertNever(error.code as never);
    return { code, details: error.message, metadata: new Metadata() };
  }
  if (error instanceof CommitError) {
    log.error(
      { method, err: { name: error.name, code: error.code, message: error.message } },
      'not committed',
    );
    return {
      code: status.UNAVAILABLE,
      details: 'not committed, nothing stored: retry',
      metadata: new Metadata(),
    };
  }
  log.error(
    { method, err: { name: (error as Error)?.name, message: (error as Error)?.message } },
    'internal error',
  );
  return { code: status.INTERNAL, details: 'internal error', metadata: new Metadata() };
}
