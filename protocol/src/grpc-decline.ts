/**
 * A business decline carried as a gRPC error: status FAILED_PRECONDITION, details
 * `<decline code>: <text>`, and the whole encoded response message (decline code, signed receipt,
 * tries left, …) in ONE binary trailer, `bluetill-decline-bin`. The backend answers a decline OK
 * with the response message in the body instead (no trailer: grpcio, for one, refuses trailers over
 * 8 KiB); the clients keep reading this form from a peer that sends it, back to the same response
 * value, and never read it as an approval. Plain bytes in and out; the adapters own grpc-js's Metadata.
 *
 * @example
 *   // server, for a response with approved === false:
 *   metadata.set(DECLINE_TRAILER_KEY, Buffer.from(encodeDeclineTrailer(res, (r) => SettleResponse.encode(r).finish())));
 *   callback({ code: status.FAILED_PRECONDITION, details: declineStatusDetails(res.declineReason), metadata });
 *   // client, on FAILED_PRECONDITION:
 *   const res = decodeDeclineTrailer(err.metadata.get(DECLINE_TRAILER_KEY), err.details, SettleResponse.decode);
 */
import { ProtocolError } from './errors';
import { declineText, isDeclineCode } from './decline-codes';

/** The one trailing-metadata key of a decline (`-bin`: gRPC carries the value base64, as bytes). */
export const DECLINE_TRAILER_KEY = 'bluetill-decline-bin';

/** gRPC's FAILED_PRECONDITION (9): the status of a business decline, and of nothing else. */
export const DECLINE_GRPC_STATUS = 9;

/**
 * The most a decline trailer may hold (before base64). Metadata travels as HTTP/2 headers, and
 * peers accept ~64 KiB of them in all (Node's default SETTINGS_MAX_HEADER_LIST_SIZE; a grpc-js
 * client given more never completes the call, grpc/grpc-node#2399): 32 KiB is ~43 KiB in base64.
 * The backend's edge checks keep every response far below it (items' text ≤ 16 KiB).
 */
export const DECLINE_TRAILER_MAX_BYTES = 32 * 1024;

/** What every response that can be declined has. */
export interface DeclinableResponse {
  readonly approved: boolean;
  readonly declineReason: string;
}

/** A declined response: anything not explicitly approved (an unset `approved` is not an approval). */
export const isDeclinedResponse = (res: DeclinableResponse): boolean => res.approved !== true;

/** The status details of a decline: `<decline code>: <human text>` (never card data). */
export function declineStatusDetails(declineReason: string): string {
  if (isDeclineCode(declineReason)) return `${declineReason}: ${declineText(declineReason)}`;
  return `${declineReason || 'declined'}: declined`;
}

/**
 * The trailer's bytes: the whole response, encoded with its own message's encoder. Throws
 * DeclineTrailerError('trailer_too_large') past DECLINE_TRAILER_MAX_BYTES: a client could not receive it.
 */
export function encodeDeclineTrailer<T extends DeclinableResponse>(
  res: T,
  encode: (res: T) => Uint8Array,
): Uint8Array {
  if (!isDeclinedResponse(res))
    throw new Error('encodeDeclineTrailer: an approved response is answered OK, not as a decline');
  const bytes = encode(res);
  if (bytes.length > DECLINE_TRAILER_MAX_BYTES)
    throw new DeclineTrailerError(
      'trailer_too_large',
      `a decline of ${bytes.length} bytes exceeds the ${DECLINE_TRAILER_MAX_BYTES}-byte trailer limit`,
    );
  return bytes;
}

export type DeclineTrailerErrorCode =
  /** FAILED_PRECONDITION with no trailer, or more than one. */
  | 'trailer_missing'
  /** The trailer's bytes are not the method's response message. */
  | 'trailer_garbled'
  /** The trailer decodes, but not to a decline with a reason, or not to the one the status details name. */
  | 'trailer_not_a_decline'
  /** (sending) The response is too large for a trailer a client can receive. */
  | 'trailer_too_large';

export class DeclineTrailerError extends ProtocolError<DeclineTrailerErrorCode> {}

/**
 * The response a FAILED_PRECONDITION carried, from its trailer's values (grpc-js
 * `metadata.get(DECLINE_TRAILER_KEY)`) and its status details. Throws a DeclineTrailerError
 * unless there is exactly one binary value that decodes (with the method's own decoder) to a
 * declined response whose reason is the one the details start with: never returns an approval.
 */
export function decodeDeclineTrailer<T extends DeclinableResponse>(
  values: readonly (Uint8Array | string)[] | undefined,
  details: string,
  decode: (bytes: Uint8Array) => T,
): T {
  if (!values || values.length !== 1)
    throw new DeclineTrailerError(
      'trailer_missing',
      `a decline without exactly one ${DECLINE_TRAILER_KEY} trailer (${values?.length ?? 0} found)`,
    );
  const bytes = values[0]!;
  if (typeof bytes === 'string')
    throw new DeclineTrailerError('trailer_garbled', `the ${DECLINE_TRAILER_KEY} trailer is text, not bytes`);
  let res: T;
  try {
    res = decode(bytes);
  } catch (cause) {
    throw new DeclineTrailerError(
      'trailer_garbled',
      `the ${DECLINE_TRAILER_KEY} trailer is not the response message`,
      { cause },
    );
  }
  if (
    res === null ||
    typeof res !== 'object' ||
    res.approved !== false ||
    typeof res.declineReason !== 'string' ||
    res.declineReason === ''
  )
    throw new DeclineTrailerError(
      'trailer_not_a_decline',
      `the ${DECLINE_TRAILER_KEY} trailer is not a decline with a reason`,
    );
  if (!details.startsWith(`${res.declineReason}:`))
    throw new DeclineTrailerError(
      'trailer_not_a_decline',
      `the ${DECLINE_TRAILER_KEY} trailer's reason is not the one the status names`,
    );
  return res;
}

/** The parts of a gRPC error status a client reads (grpc-js's ServiceError has them). */
export interface GrpcStatusLike {
  readonly code?: unknown;
  readonly details?: unknown;
  readonly metadata?: { get(key: string): readonly (Uint8Array | string)[] } | undefined;
}

/**
 * For a client's failed call: the declined response it carried when the status is
 * FAILED_PRECONDITION, else null (another status: an error as before). A FAILED_PRECONDITION
 * without a decodable decline trailer throws a DeclineTrailerError (never read as an approval).
 *
 * @example
 *   client.settle(req, (err, res) => {
 *     const declined = err ? declineFromStatus(err, SettleResponse.decode) : null;   // may throw
 *     if (declined) return resolve(declined);
 *     ...
 *   });
 */
export function declineFromStatus<T extends DeclinableResponse>(
  err: GrpcStatusLike | null | undefined,
  decode: (bytes: Uint8Array) => T,
): T | null {
  if (!err || err.code !== DECLINE_GRPC_STATUS) return null;
  const values = typeof err.metadata?.get === 'function' ? err.metadata.get(DECLINE_TRAILER_KEY) : undefined;
  return decodeDeclineTrailer(values, typeof err.details === 'string' ? err.details : '', decode);
}

/**
 * One unary call as a promise, a decline status turned back into its response value: `invoke`
 * starts the call with a node-style callback (grpc-js's); with `decode` (the method's response
 * decoder) a FAILED_PRECONDITION resolves to the declined response, or rejects with a
 * DeclineTrailerError when its trailer does not decode. Every other error rejects as it came.
 */
export function callDeclinable<Res>(
  invoke: (callback: (err: (GrpcStatusLike & Error) | null, res: Res) => void) => void,
  decode?: Res extends DeclinableResponse ? (bytes: Uint8Array) => Res : never,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    invoke((err, res) => {
      if (!err) return resolve(res);
      try {
        const decline = decode
          ? declineFromStatus(err, decode as (bytes: Uint8Array) => Res & DeclinableResponse)
          : null;
        return decline ? resolve(decline) : reject(err);
      } catch (e) {
        return reject(e); // FAILED_PRECONDITION without a decodable decline
      }
    });
  });
}
