/**
 * The backend's gRPC edge: how one unary call is served (caller, decoding and field checks, the
 * use case, its answer or error as a status, metrics), on the object path (`unary`) or forwarded
 * as bytes to the use-case worker (`forwarded`). The services are put together in main.ts.
 */
import { status, type ServerUnaryCall, type ServiceError, type sendUnaryData } from '@grpc/grpc-js';
import { type DeclinableResponse } from '@bluetill/protocol';
import type { Logger } from 'pino';
import { type UseCaseThread } from '../worker/use-case-thread';
import type { Caller } from '../../app/caller';
import { toGrpcStatus } from './to-grpc-status';
import { isMalformed } from './malformed-request';
import { RequestError } from '../../app/request-error';
import type { BackendMetrics } from '../metrics/backend-metrics';
import { type PeerIdentity } from './terminal-caller';
import type { ForwardedMethod } from './forwarded-methods';
import { DeadlineExceededError, deadlinePassed, withDeadline } from '../call-deadline';

export type Handler<Req, Res> = (req: Req, caller: Caller) => Res | Promise<Res>;
/** The caller of a call, from its transport; throws a RequestError when it may not call at all. */
export type CallerOf = (call: ServerUnaryCall<unknown, unknown>) => Caller | Promise<Caller>;

/** A call's deadline in ms since the epoch (Infinity: none). */
function deadlineOf(call: ServerUnaryCall<unknown, unknown>): number {
  const d = call.getDeadline();
  return d instanceof Date ? d.getTime() : d;
}

/**
 * How every call of this server ends, once: an answer or an error as its status, and the metrics
 * for it. A business decline is an answer like an approval: status OK, the response message
 * (approved false, the decline code, the signed receipt …) in the body, no trailer — a client
 * reads it as it reads an approval, and nothing of it has to fit in HTTP/2 headers (grpcio, for
 * one, refuses trailers over 8 KiB). `decline` marks an answer that may be a decline, for the
 * metrics (counted by reason). An answer ready after the call's
 * deadline (grpc-js has answered DEADLINE_EXCEEDED then) or after the client cancelled is counted
 * as what the client got, not as OK; work dropped for its deadline (DeadlineExceededError) is
 * answered and counted DEADLINE_EXCEEDED.
 */
function replier<Res>(
  log: Logger,
  method: string,
  metrics: BackendMetrics | undefined,
  call: ServerUnaryCall<unknown, unknown>,
  callback: sendUnaryData<Res>,
) {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const deadline = deadlineOf(call);
  /** What the client got instead of this answer, if it is gone. */
  const gone = (): status | null =>
    Date.now() >= deadline ? status.DEADLINE_EXCEEDED : call.cancelled ? status.CANCELLED : null;
  return {
    answer(res: Res, decline?: { readonly response: DeclinableResponse }): void {
      metrics?.observe(method, gone() ?? status.OK, seconds(), decline?.response ?? res);
      callback(null, res);
    },
    fail(err: unknown): void {
      const s: Partial<ServiceError> =
        err instanceof DeadlineExceededError
          ? { code: status.DEADLINE_EXCEEDED, details: err.message }
          : toGrpcStatus(err, log, method);
      metrics?.observe(method, gone() ?? s.code ?? status.UNKNOWN, seconds());
      callback(s);
    },
  };
}

/**
 * One unary method: caller, decoding and field checks, the use case, its answer or error as a
 * status. `declines` (the method's response encoder) marks a method whose answers can be business
 * declines: approved or declined, the response is answered OK in the body; a decline is counted
 * by its reason in the metrics.
 */
export function unary<Req, Res>(
  log: Logger,
  callerOf: CallerOf,
  method: string,
  validate: (r: Req) => Req,
  handler: Handler<Req, Res>,
  metrics?: BackendMetrics,
  declines?: Res extends DeclinableResponse ? (res: Res) => Uint8Array : never,
) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const reply = replier(log, method, metrics, call as ServerUnaryCall<unknown, unknown>, callback);
    const deadline = deadlineOf(call as ServerUnaryCall<unknown, unknown>);
    Promise.resolve()
      .then(async () => {
        const caller = await callerOf(call as ServerUnaryCall<unknown, unknown>); // who, before what
        if (isMalformed(call.request))
          throw new RequestError('invalid_argument', `request does not decode as a ${method} message`);
        const req = validate(call.request);
        if (deadlinePassed(deadline)) throw new DeadlineExceededError();
        return withDeadline(deadline, () => handler(req, caller));
      })
      .then(
        (res) => reply.answer(res, declines ? { response: res as DeclinableResponse } : undefined),
        (err: unknown) => reply.fail(err),
      );
  };
}

/**
 * A method forwarded to the use-case worker as bytes (forwarded-methods.ts): the client
 * certificate's identity read here, everything else done there; the answer's bytes sent as they
 * came, as `unary` sends an answer.
 */
export function forwarded(
  log: Logger,
  peerOf: (call: ServerUnaryCall<unknown, unknown>) => PeerIdentity | null,
  method: ForwardedMethod,
  thread: UseCaseThread,
  metrics?: BackendMetrics,
) {
  return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
    const reply = replier(log, method, metrics, call as ServerUnaryCall<unknown, unknown>, callback);
    const deadline = deadlineOf(call as ServerUnaryCall<unknown, unknown>);
    Promise.resolve()
      .then(() => {
        const peer = peerOf(call as ServerUnaryCall<unknown, unknown>);
        if (deadlinePassed(deadline)) throw new DeadlineExceededError();
        return withDeadline(deadline, () => thread.callForwarded(method, call.request, peer));
      })
      .then(
        (answer) => {
          const body = Buffer.from(answer.bytes.buffer, answer.bytes.byteOffset, answer.bytes.byteLength);
          reply.answer(body, { response: answer });
        },
        (err: unknown) => reply.fail(err),
      );
  };
}

/** A method of a service definition taking and giving bytes as they are on the wire. */
export const asBytes = <M extends object>(method: M): M => ({
  ...method,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
});
