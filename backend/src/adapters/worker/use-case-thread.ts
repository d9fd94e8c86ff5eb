/**
 * The gRPC thread's side of the worker threads: starts the use-case worker and a pool of crypto
 * workers, and gives the use cases back as promise-returning proxies (`RemoteUseCases`), so the
 * handlers call them as they call the in-thread ones. Events from the worker are written to the
 * gRPC thread's log.
 *
 * - Authorize and Settle (PREPARED_CALLS) go to the crypto worker with the fewest calls in
 *   flight; it does their CPU work and hands them to the use-case worker, which answers here.
 *   Every other call goes to the use-case worker directly. With no crypto worker ready, a call
 *   goes to the use-case worker unprepared (it then does the CPU work itself: slower, same answer).
 * - A crypto worker that dies (a crash, a bug) fails the calls it had taken with UNAVAILABLE
 *   (outcome unknown: retrying is safe, Settle is exactly once and an Authorize's UN is single
 *   use) and is replaced; the server keeps serving.
 *
 * @example
 *   const thread = await startUseCaseThread({ store: { dbPath }, keysPath, masterKey, log, cryptoWorkers: 2 });
 *   const res = await thread.useCases.settlement.settle(req, caller);
 *   await thread.close();
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import type { ShopperOptions } from '../../app/shopper-service';
import type { AuthorizationLimits } from '../../app/authorization-service';
import type { MasterKey } from '../master-key';
import type { CommitCounts } from '../sqlite/backend-store.sqlite';
import type { PostgresCommitCounts } from '../postgres/backend-store.postgres';
import type { RemoteUseCases, UseCases } from '../grpc/use-cases';
import { RequestError } from '../../app/request-error';
import { currentDeadline } from '../call-deadline';
import type { ForwardedAnswer, ForwardedMethod } from '../grpc/forwarded-methods';
import type { PeerIdentity } from '../grpc/terminal-caller';
import {
  PREPARED_CALLS,
  compact,
  fromWire,
  type CallMessage,
  type CryptoControl,
  type CryptoWorkerStart,
  type UseCaseControl,
  type ForwardedBatchMessage,
  type ForwardedCallMessage,
  type WorkerMessage,
  type WorkerStart,
  type WorkerStore,
} from './messages';

/** Calls forwarded as bytes so far, and the messages they took each way (batched per turn). */
export interface ForwardedCrossings {
  readonly calls: number;
  readonly callMessages: number;
  readonly replyMessages: number;
}

export interface UseCaseThread {
  readonly useCases: RemoteUseCases;
  /** A call forwarded as bytes (grpc/forwarded-methods.ts), to the use-case worker; its answer as bytes. */
  callForwarded(
    method: ForwardedMethod,
    bytes: Uint8Array,
    peer: PeerIdentity | null,
  ): Promise<ForwardedAnswer>;
  /** Forwarded calls and the messages they crossed in. */
  forwardedCrossings(): ForwardedCrossings;
  /** The worker store's commit counts (SQLite's group commits, or PostgreSQL's commits and reruns). */
  commitStats(): Promise<CommitCounts | PostgresCommitCounts>;
  /** Linux thread ids of the use-case worker and the crypto workers (for per-thread CPU figures), where known. */
  readonly threadIds: { readonly useCase: number | undefined; readonly crypto: ReadonlyArray<number> };
  /** Crypto workers running now (ready to take calls). */
  readonly cryptoWorkers: number;
  /** Lets calls in flight finish, closes the worker's store, ends the threads. */
  close(): Promise<void>;
  /** Ends the threads at once (as a crash would); calls in flight are rejected. */
  kill(): Promise<void>;
  /**
   * Test hook: crypto worker `slot` throws an uncaught error on the next call it reads (so that
   * call and every one queued behind it are lost with it). Resolves once its replacement is ready.
   */
  crashCryptoWorker(slot: number): Promise<void>;
}

const TARGETS: ReadonlyArray<keyof UseCases> = [
  'authorization',
  'settlement',
  'adjustments',
  'batches',
  'codeSettlement',
  'shopper',
  'offlineForward',
];

/**
 * Crypto workers by default: the cores left after the gRPC thread and the use-case worker (none on
 * 2 cores or fewer). A crypto worker costs CPU of its own — one more hop of the request between
 * threads, and smaller group commits since the use-case worker then idles between calls: ~0.1-0.15 ms
 * per Authorize measured on 2 cores — which pays only when it runs on a core of its own; on 2 cores
 * the use-case worker does the preparation itself (backend/README.md, Figures).
 */
export function defaultCryptoWorkers(cores = availableParallelism()): number {
  return Math.max(0, cores - 2);
}

interface Pending {
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  /** The crypto worker slot the call went through, if any. */
  readonly slot?: number;
}

interface CryptoSlot {
  worker: Worker | null;
  tid?: number | undefined;
  /** Calls taken and not yet answered. */
  inFlight: number;
}

export async function startUseCaseThread(o: {
  store: WorkerStore;
  keysPath: string;
  masterKey: MasterKey;
  log: Logger;
  cryptoWorkers?: number;
  shopper?: ShopperOptions;
  authorizationLimits?: AuthorizationLimits;
}): Promise<UseCaseThread> {
  const masterKey = o.masterKey.toBase64();
  const start: WorkerStart = {
    entry: new URL('./use-case-worker.ts', import.meta.url).href,
    store: o.store,
    keysPath: o.keysPath,
    masterKey,
    ...(o.shopper ? { shopper: o.shopper } : {}),
    ...(o.authorizationLimits ? { authorizationLimits: o.authorizationLimits } : {}),
  };
  const worker = new Worker(new URL('./boot.mjs', import.meta.url), { workerData: start });
  const pending = new Map<number, Pending>();
  const crossings = { calls: 0, callMessages: 0, replyMessages: 0 };
  let nextId = 0;
  let exited = false;
  let closing = false;
  const settle = (id: number, outcome: (p: Pending) => void) => {
    const p = pending.get(id);
    if (!p) return; // already failed (its crypto worker died) or unknown
    pending.delete(id);
    if (p.slot !== undefined) slots[p.slot]!.inFlight--;
    outcome(p);
  };
  const onMessage = (m: WorkerMessage) => {
    switch (m.kind) {
      case 'result':
        settle(m.id, (p) => p.resolve(m.value));
        return;
      case 'forwarded-result':
        settle(m.id, (p) =>
          p.resolve({
            bytes: m.bytes,
            approved: m.approved,
            declineReason: m.declineReason,
          } satisfies ForwardedAnswer),
        );
        return;
      case 'forwarded-replies':
        crossings.replyMessages++;
        for (const r of m.replies) onMessage(r);
        return;
      case 'error':
        settle(m.id, (p) => p.reject(fromWire(m.error)));
        return;
      case 'event':
        o.log.info(m.fields, m.message);
        return;
      case 'ready':
      case 'failed':
        return; // handled while starting
    }
  };
  const failAll = (message: string) => {
    for (const p of pending.values()) p.reject(new Error(message));
    pending.clear();
    for (const s of slots) s.inFlight = 0;
  };
  let useCaseTid: number | undefined;
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`use-case worker exited (${code}) while starting`)));
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'ready') {
        useCaseTid = m.tid;
        resolve();
      } else if (m.kind === 'failed') reject(fromWire(m.error));
      else onMessage(m);
    });
  });
  worker.removeAllListeners('error').removeAllListeners('exit');
  worker.on('error', (e) =>
    o.log.error({ err: { name: e.name, message: e.message } }, 'use-case worker failed'),
  );
  worker.on('exit', () => {
    exited = true;
    failAll('use-case worker exited');
    for (const s of slots) void s.worker?.terminate(); // nothing left to hand calls to
  });

  // The crypto workers, each with its own port to the use-case worker.
  const slots: CryptoSlot[] = Array.from(
    { length: Math.max(0, o.cryptoWorkers ?? defaultCryptoWorkers()) },
    () => ({ worker: null, inFlight: 0 }),
  );
  const replaced: Array<(() => void) | undefined> = [];
  const startCrypto = async (slot: number): Promise<void> => {
    const channel = new MessageChannel();
    const cryptoStart: CryptoWorkerStart = {
      entry: new URL('./crypto-worker.ts', import.meta.url).href,
      keysPath: o.keysPath,
      masterKey,
      useCasePort: channel.port1,
    };
    const w = new Worker(new URL('./boot.mjs', import.meta.url), {
      workerData: cryptoStart,
      transferList: [channel.port1],
    });
    worker.postMessage({ kind: 'connect', port: channel.port2 } satisfies UseCaseControl, [channel.port2]);
    await new Promise<void>((resolve, reject) => {
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`crypto worker exited (${code}) while starting`)));
      w.on('message', (m: WorkerMessage) => {
        if (m.kind === 'ready') {
          slots[slot]!.tid = m.tid;
          resolve();
        } else if (m.kind === 'failed') reject(fromWire(m.error));
        else onMessage(m); // a preparation's error, straight from the crypto worker
      });
    }).catch(async (error: unknown) => {
      await w.terminate();
      throw error;
    });
    w.removeAllListeners('error').removeAllListeners('exit');
    w.on('error', (e) =>
      o.log.error({ err: { name: e.name, message: e.message }, slot }, 'crypto worker failed'),
    );
    w.on('exit', (code) => {
      slots[slot]!.worker = null;
      // Its calls are lost with it (some may have reached the use-case worker: outcome unknown).
      for (const [id, p] of pending) {
        if (p.slot !== slot) continue;
        pending.delete(id);
        p.reject(new RequestError('unavailable', 'crypto worker stopped; the outcome is unknown, retry'));
      }
      slots[slot]!.inFlight = 0;
      if (closing || exited) return;
      o.log.error({ event: 'crypto_worker_exited', slot, code }, 'crypto worker exited; starting another');
      startCrypto(slot).then(
        () => {
          replaced[slot]?.();
          replaced[slot] = undefined;
        },
        (e: unknown) =>
          o.log.error(
            { err: { name: (e as Error)?.name, message: (e as Error)?.message }, slot },
            'crypto worker could not be restarted',
          ),
      );
    });
    slots[slot]!.worker = w;
  };
  try {
    await Promise.all(slots.map((_, i) => startCrypto(i)));
  } catch (error) {
    closing = true;
    await Promise.all(slots.map((s) => s.worker?.terminate()));
    await worker.terminate();
    throw error;
  }

  const pickSlot = (): number | undefined => {
    let best: number | undefined;
    slots.forEach((s, i) => {
      if (s.worker && (best === undefined || s.inFlight < slots[best]!.inFlight)) best = i;
    });
    return best;
  };
  const call = (target: string, method: string, args: unknown[]): Promise<unknown> => {
    if (exited) return Promise.reject(new Error('use-case worker exited'));
    return new Promise((resolve, reject) => {
      const id = nextId++;
      const deadline = currentDeadline();
      const message: CallMessage = {
        id,
        target,
        method,
        args: compact(args),
        ...(deadline !== undefined ? { deadline } : {}),
      };
      const slot = PREPARED_CALLS.has(`${target}.${method}`) ? pickSlot() : undefined;
      if (slot === undefined) {
        pending.set(id, { resolve, reject });
        worker.postMessage(message);
        return;
      }
      pending.set(id, { resolve, reject, slot });
      slots[slot]!.inFlight++;
      slots[slot]!.worker!.postMessage(message);
    });
  };
  // Forwarded calls leave in one message per event-loop turn (after the turn's I/O callbacks, so
  // every call that arrived in it goes along); the worker answers them as its commits finish.
  let outbox: ForwardedCallMessage[] = [];
  const sendOutbox = () => {
    const calls = outbox;
    outbox = [];
    if (exited) return; // failAll has rejected them
    crossings.calls += calls.length;
    crossings.callMessages++;
    worker.postMessage(
      { kind: 'forwarded-batch', calls } satisfies ForwardedBatchMessage,
      calls.map((c) => c.bytes.buffer as ArrayBuffer),
    );
  };
  const callForwarded = (
    method: ForwardedMethod,
    request: Uint8Array,
    peer: PeerIdentity | null,
  ): Promise<ForwardedAnswer> => {
    if (exited) return Promise.reject(new Error('use-case worker exited'));
    return new Promise((resolve, reject) => {
      const id = nextId++;
      const bytes = new Uint8Array(request); // a copy of its own, moved to the worker (grpc-js keeps the request it gave)
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const deadline = currentDeadline();
      if (outbox.push({ id, method, bytes, peer, ...(deadline !== undefined ? { deadline } : {}) }) === 1)
        setImmediate(sendOutbox);
    });
  };
  const proxy = (target: string) =>
    new Proxy(
      {},
      {
        get: (_, method) =>
          typeof method === 'string' && method !== 'then'
            ? (...args: unknown[]) => call(target, method, args)
            : undefined,
      },
    );
  const useCases = Object.fromEntries(TARGETS.map((t) => [t, proxy(t)])) as unknown as RemoteUseCases;

  const exitedPromise = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const stopCrypto = () =>
    Promise.all(
      slots.map(async (s) => {
        const w = s.worker;
        if (!w) return;
        const gone = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        w.postMessage({ kind: 'close' } satisfies CryptoControl);
        await gone;
      }),
    );
  return {
    useCases,
    callForwarded,
    forwardedCrossings: () => ({ ...crossings }),
    commitStats: () => call('store', 'commitStats', []) as Promise<CommitCounts | PostgresCommitCounts>,
    get threadIds() {
      return {
        useCase: useCaseTid,
        crypto: slots.flatMap((s) => (s.worker && s.tid !== undefined ? [s.tid] : [])),
      };
    },
    get cryptoWorkers() {
      return slots.filter((s) => s.worker).length;
    },
    async close() {
      if (exited) return;
      closing = true;
      await stopCrypto();
      worker.postMessage('close' satisfies UseCaseControl);
      await exitedPromise;
    },
    async kill() {
      closing = true;
      await Promise.all(slots.map((s) => s.worker?.terminate()));
      if (exited) return;
      await worker.terminate();
    },
    crashCryptoWorker(slot: number) {
      const w = slots[slot]?.worker;
      if (!w) return Promise.reject(new RangeError(`no crypto worker in slot ${slot}`));
      const ready = new Promise<void>((resolve) => (replaced[slot] = resolve));
      w.postMessage({ kind: 'crash' } satisfies CryptoControl);
      return ready;
    },
  };
}
