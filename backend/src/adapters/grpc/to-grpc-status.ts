/**
 * The one place where errors and declines become gRPC statuses. Unknown errors are INTERNAL and
 * logged, never echoed. A CommitError (the request's batch did not commit: nothing of it is
 * stored) is UNAVAILABLE, so the till retries it (exactly once makes that safe); it is logged too.
 * A business decline (a use case's response with `approved` false) is FAILED_PRECONDITION with
 * `<decline code>: <text>` and the whole encoded response in the `bluetill-decline-bin` trailer
 * (protocol/src/grpc-decline.ts), so a client gets every field back; it is not logged here.
 */
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { RequestError, type RequestErrorCode } from '../../app/request-error';
import { DECLINE_TRAILER_KEY, DeclineTrailerError, assertNever, declineStatusDetails, encodeDeclineTrailer, type DeclinableResponse } from '@bluetill/protocol';
import { CommitError } from '../../ports/backend-store';

const CODE: Record<RequestErrorCode, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  permission_denied: status.PERMISSION_DENIED,
  already_exists: status.ALREADY_EXISTS,
  unavailable: status.UNAVAILABLE,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
};

export function toGrpcStatus(error: unknown, log: Logger, method: string): Partial<ServiceError> {
  if (error instanceof RequestError) {
    const code = CODE[error.code] ?? assertNever(error.code as never);
    return { code, details: error.message, metadata: new Metadata() };
  }
  if (error instanceof CommitError) {
    log.error({ method, err: { name: error.name, code: error.code, message: error.message } }, 'not committed');
    return { code: status.UNAVAILABLE, details: 'not committed, nothing stored: retry', metadata: new Metadata() };
  }
  log.error({ method, err: { name: (error as Error)?.name, message: (error as Error)?.message } }, 'internal error');
  return { code: status.INTERNAL, details: 'internal error', metadata: new Metadata() };
}

/**
 * A declined response as its status: FAILED_PRECONDITION, the code and text, the response in the
 * trailer. A response too large for a trailer (the edge checks keep them far below the limit) is
 * logged and answered without one: the client fails cleanly instead of waiting on headers it
 * cannot take.
 */
export function declineToGrpcStatus<T extends DeclinableResponse>(res: T, encode: (res: T) => Uint8Array, log: Logger, method: string): Partial<ServiceError> {
  const metadata = new Metadata();
  const details = declineStatusDetails(res.declineReason);
  try {
    const bytes = encodeDeclineTrailer(res, encode);
    metadata.set(DECLINE_TRAILER_KEY, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    if (!(error instanceof DeclineTrailerError)) throw error;
    log.error({ method, decline: res.declineReason, err: { name: error.name, code: error.code, message: error.message } }, 'decline not sent in full');
  }
  return { code: status.FAILED_PRECONDITION, details, metadata };
}
