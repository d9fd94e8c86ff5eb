/**
 * Exactly once per request id: every use case that stores its answer under an id the caller chose
 * (a till's transaction id, a refund id, a phone's idempotency key) starts its transaction here.
 * The id's stored answer is returned unchanged (marked replayed) when the request is the same one
 * (the same request hash); an id already used for another request is ALREADY_EXISTS, and nothing
 * is written. undefined: the id is new, and the use case decides and stores.
 */
import { equalBytes } from '@bluetill/protocol';
import { RequestError } from './request-error';

/** What an exactly-once row keeps: the hash of the request that made it and its encoded answer. */
export interface StoredAnswer {
  readonly requestHash: Uint8Array;
  readonly response: Uint8Array;
}

/**
 * The answer to replay for `prior` (the row stored under the request's id), or undefined when
 * there is none. `idName` names the id in the ALREADY_EXISTS message ("terminal transaction id").
 */
export function replayOf<R extends object>(
  prior: StoredAnswer | undefined,
  hash: Uint8Array,
  decode: (bytes: Uint8Array) => R,
  idName: string,
): (R & { replayed: true }) | undefined {
  if (!prior) return undefined;
  if (!equalBytes(prior.requestHash, hash))
    throw new RequestError('already_exists', `${idName} already used for a different request`);
  return { ...decode(prior.response), replayed: true };
}
