/**
 * What the gRPC thread and the use-case worker say to each other (structured clone: requests and
 * responses are plain protobuf objects; errors travel as name, code and message and are rebuilt
 * as the same classes, so toGrpcStatus maps them as it would on one thread).
 */
import { CommitError, type CommitErrorCode } from '../../ports/backend-store';
import { RequestError, type RequestErrorCode } from '../../app/request-error';

export interface WorkerStart {
  readonly entry: string;
  readonly dbPath: string;
  readonly keysPath: string;
  /** The master key (base64) opens keys.json in the worker; it never leaves the process. */
  readonly masterKey: string;
}

export interface CallMessage {
  readonly id: number;
  readonly target: string;
  readonly method: string;
  readonly args: readonly unknown[];
}

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

export type WorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'failed'; readonly error: WireError }
  | { readonly kind: 'result'; readonly id: number; readonly value: unknown }
  | { readonly kind: 'error'; readonly id: number; readonly error: WireError }
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
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}
