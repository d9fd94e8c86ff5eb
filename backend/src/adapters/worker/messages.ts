/**
 * What the gRPC thread and the use-case worker say to each other (structured clone: requests and
 * responses are plain protobuf objects; errors travel as name, code and message and are rebuilt
 * as the same classes, so toGrpcStatus maps them as it would on one thread).
 */
import { CommitError, type CommitErrorCode } from '../../ports/backend-store';
import { RequestError, type RequestErrorCode } from '../../app/request-error';
import { DeadlineExceededError } from '../call-deadline';
import type { AuthorizationLimits } from '../../app/authorization-service';
import type { ShopperOptions } from '../../app/shopper-service';
import type { MessagePort } from 'node:worker_threads';
import type { ForwardedAnswer, ForwardedMethod } from '../grpc/forwarded-methods';
import type { PeerIdentity } from '../grpc/terminal-caller';
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/** The store the use-case worker opens: a SQLite file, or a PostgreSQL database shared with other nodes. */
export type WorkerStore =
  | { readonly dbPath: string }
  | {
      readonly postgresUrl: string;
      /** The store's probe of its database (PostgresBackendStore's ProbeOptions); its defaults when left out. */
      readonly probe?: {
        readonly intervalMs?: number;
        readonly timeoutMs?: number;
        readonly failures?: number;
      };
    };

export interface WorkerStart {
  readonly entry: string;
  readonly store: WorkerStore;
  readonly keysPath: string;
  /** The master key (base64) opens keys.json in the worker; it never leaves the process. */
  readonly masterKey: string;
  /** The shopper use case's limits (plain numbers). */
  readonly shopper?: ShopperOptions;
  /** The Authorization service's per-terminal bounds (plain numbers). */
  readonly authorizationLimits?: AuthorizationLimits;
}

/** A crypto worker's start: the keys (as the use-case worker's), and its port to the use-case worker. */
export interface CryptoWorkerStart {
  readonly entry: string;
  readonly keysPath: string;
  readonly masterKey: string;
  readonly useCasePort: MessagePort;
}

/**
 * The calls whose CPU work (sealed PIN, card certificates, ARQC, request hash) a crypto worker does
 * first (app/authorization-service prepareAuthorize, app/settlement-service prepareSettle); it then
 * hands the call, with what it prepared as one more argument, to the use-case worker.
 */
export const PREPARED_CALLS: ReadonlySet<string> = new Set([
  'authorization.authorize',
  'authorization.settle',
  'settlement.settle',
]);

/** To a crypto worker besides calls: stop, or (tests) crash on the next message it reads. */
export type CryptoControl = { readonly kind: 'close' } | { readonly kind: 'crash' };

/** To the use-case worker besides calls: a new crypto worker's port, or stop. */
export type UseCaseControl = { readonly kind: 'connect'; readonly port: MessagePort } | 'close';

export interface CallMessage {
  readonly id: number;
  readonly target: string;
  readonly method: string;
  readonly args: readonly unknown[];
  /** The gRPC call's deadline (ms since the epoch, call-deadline.ts); passed when a worker picks the call up: dropped unrun. */
  readonly deadline?: number;
}

/** A call the gRPC thread forwards as bytes (grpc/forwarded-methods.ts): the request's bytes and the client certificate's identity. */
export interface ForwardedCallMessage {
  readonly id: number;
  readonly method: ForwardedMethod;
  readonly bytes: Uint8Array;
  readonly peer: PeerIdentity | null;
  /** As CallMessage.deadline. */
  readonly deadline?: number;
}

/**
 * The forwarded calls of one turn of the gRPC thread's event loop, in one message (their buffers
 * moved with it): one structured clone, one wake-up and one 'message' event per turn instead of
 * per call.
 */
export interface ForwardedBatchMessage {
  readonly kind: 'forwarded-batch';
  readonly calls: readonly ForwardedCallMessage[];
}

/** One forwarded call's answer: its response's bytes, or its error. */
export type ForwardedReply =
  | ({ readonly kind: 'forwarded-result'; readonly id: number } & ForwardedAnswer)
  | { readonly kind: 'error'; readonly id: number; readonly error: WireError };

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

export type WorkerMessage =
  | { readonly kind: 'ready'; readonly tid?: number }
  | { readonly kind: 'failed'; readonly error: WireError }
  | { readonly kind: 'result'; readonly id: number; readonly value: unknown }
  | ({ readonly kind: 'forwarded-result'; readonly id: number } & ForwardedAnswer)
  | { readonly kind: 'error'; readonly id: number; readonly error: WireError }
  /** The answers to forwarded calls that were ready together (a group commit's), in one message. */
  | { readonly kind: 'forwarded-replies'; readonly replies: readonly ForwardedReply[] }
  | { readonly kind: 'event'; readonly fields: Record<string, unknown>; readonly message: string };

export function toWire(error: unknown): WireError {
  const e = error as { name?: unknown; message?: unknown; code?: unknown };
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : 'error',
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  };
}

export function fromWire(w: WireError): Error {
  if (w.name === 'RequestError' && w.code) return new RequestError(w.code as RequestErrorCode, w.message);
  if (w.name === 'CommitError' && w.code) return new CommitError(w.code as CommitErrorCode, w.message);
  if (w.name === 'DeadlineExceededError') return new DeadlineExceededError(w.message);
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}

/**
 * A copy of `value` fit for postMessage: every Uint8Array that is a view into a larger buffer
 * (protobuf decoding slices the received frame; Buffer.allocUnsafe slices an 8 KiB pool) becomes
 * one of its own size. Structured clone copies a view's whole underlying ArrayBuffer, so without
 * this each call crossed threads with kilobytes it does not use (~40 µs a message).
 * Plain objects and arrays are walked; everything else is returned as is.
 */
export function compact<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array)
    return (value.byteLength === value.buffer.byteLength ? value : new Uint8Array(value)) as T;
  if (Array.isArray(value)) return value.map(compact) as T;
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = compact(v);
  return out as T;
}

/**
 * `bytes` in a buffer of its own, and that buffer to transfer with postMessage (moved, not
 * copied): a view into a larger buffer (a received frame, the encoder's pool) is copied out first.
 */
export function ownBytes(bytes: Uint8Array): { bytes: Uint8Array; transfer: ArrayBuffer[] } {
  const own =
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer
      ? bytes
      : new Uint8Array(bytes);
  return { bytes: own, transfer: [own.buffer as ArrayBuffer] };
}

/** This thread's Linux thread id (for per-thread CPU figures from /proc), or undefined elsewhere. */
export function linuxThreadId(): number | undefined {
  try {
    const tid = Number(basename(readlinkSync('/proc/thread-self')));
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}
