/** Expected request failures, translated once to gRPC status codes at the edge (to-grpc-status.ts). */
export type RequestErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'permission_denied'
  | 'already_exists'
  | 'unavailable'
  | 'resource_exhausted';

export class RequestError extends Error {
  constructor(
    readonly code: RequestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}
