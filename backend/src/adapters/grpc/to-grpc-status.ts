/** The one place where errors become gRPC statuses. Unknown errors are INTERNAL and logged, never echoed. */
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { RequestError, type RequestErrorCode } from '../../app/request-error';
import { assertNever } from '@bluetill/protocol';

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
  log.error({ method, err: { name: (error as Error)?.name, message: (error as Error)?.message } }, 'internal error');
  return { code: status.INTERNAL, details: 'internal error', metadata: new Metadata() };
}
