/**
 * The methods the gRPC thread forwards to the use-case worker as bytes: Authorize and
 * Settle, the backend's hot path. The gRPC thread reads the client certificate (once per TLS
 * connection) and passes the request's bytes and that identity on; the worker does the rest, in
 * the order every call keeps — who (the registry, on the worker's own warm connection), then what
 * (decoding, field checks), then the use case — and answers with the response's bytes, approved or
 * declined. So the gRPC thread serves the transport only, as an echo server would: no protobuf,
 * no registry lookup (~20 µs a call on its connection, whose page cache every commit of the
 * worker's empties), no structured clone of request and response objects.
 *
 *   gRPC thread                          use-case worker
 *   peerIdentityOf(call) ── bytes, peer ──► registeredCaller · decode · validate · use case · encode
 *   OK(bytes) / FAILED_PRECONDITION(trailer = bytes) ◄── bytes, approved, declineReason
 *
 * The other methods, and every method without the worker or with crypto workers, keep the
 * object path (server.ts `unary`), with the same answers.
 */
import {
  AuthorizeRequest,
  AuthorizeResponse,
  SettleRequest,
  SettleResponse,
  encodeProto,
  type DeclinableResponse,
} from '@bluetill/protocol';
import type { Caller } from '../../app/caller';
import { RequestError } from '../../app/request-error';
import type { BackendStore } from '../../ports/backend-store';
import type { UseCases } from './use-cases';
import { registeredCaller, type PeerIdentity } from './terminal-caller';
import { validateAuthorize, validateSettle } from './validate';

interface ForwardedMethodSpec<Req, Res extends DeclinableResponse> {
  readonly decode: (bytes: Uint8Array) => Req;
  readonly validate: (req: Req) => Req;
  readonly run: (useCases: UseCases, req: Req, caller: Caller) => Promise<Res> | Res;
  readonly encode: (res: Res) => Uint8Array;
}

const spec = <Req, Res extends DeclinableResponse>(s: ForwardedMethodSpec<Req, Res>) =>
  s as unknown as ForwardedMethodSpec<unknown, DeclinableResponse>;

/** By the method name the logs and metrics use. */
export const FORWARDED_METHODS = {
  Authorize: spec({
    decode: (b) => AuthorizeRequest.decode(b),
    validate: validateAuthorize,
    run: (u, req, caller) => u.authorization.authorize(req, caller),
    encode: (res) => encodeProto(AuthorizeResponse, res),
  }),
  'Authorization.Settle': spec({
    decode: (b) => SettleRequest.decode(b),
    validate: validateSettle,
    run: (u, req, caller) => u.authorization.settle(req, caller),
    encode: (res) => encodeProto(SettleResponse, res),
  }),
  Settle: spec({
    decode: (b) => SettleRequest.decode(b),
    validate: validateSettle,
    run: (u, req, caller) => u.settlement.settle(req, caller),
    encode: (res) => encodeProto(SettleResponse, res),
  }),
} as const;

export type ForwardedMethod = keyof typeof FORWARDED_METHODS;

/** The answer to a forwarded call: the response's bytes, and whether it is a decline (and why). */
export interface ForwardedAnswer {
  readonly bytes: Uint8Array;
  readonly approved: boolean;
  readonly declineReason: string;
}

/**
 * In the use-case worker: a forwarded call answered. `peer` null: the server runs without TLS (local
 * debugging), and the caller is unauthenticated as on the object path. Throws what the object path
 * throws (RequestError, CommitError), for the gRPC thread to map to a status.
 */
export async function answerForwarded(
  useCases: UseCases,
  store: Pick<BackendStore, 'read'>,
  method: ForwardedMethod,
  bytes: Uint8Array,
  peer: PeerIdentity | null,
): Promise<ForwardedAnswer> {
  const m = FORWARDED_METHODS[method];
  const caller: Caller = peer ? await registeredCaller(peer, store) : { kind: 'unauthenticated' }; // who, before what
  let req: unknown;
  try {
    req = m.decode(bytes);
  } catch {
    throw new RequestError('invalid_argument', `request does not decode as a ${method} message`);
  }
  const res = await m.run(useCases, m.validate(req), caller);
  return { bytes: m.encode(res), approved: res.approved, declineReason: res.declineReason };
}
