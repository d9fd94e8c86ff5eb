/**
 * The gRPC thread's side of the use-case worker: starts it, and gives the use cases back as
 * promise-returning proxies (`RemoteUseCases`), so the handlers call them as they call the
 * in-thread ones. Events from the worker are written to the gRPC thread's log.
 *
 * @example
 *   const thread = await startUseCaseThread({ dbPath, keysPath, masterKey, log });
 *   const res = await thread.useCases.settlement.settle(req, caller);
 *   await thread.close();
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { MasterKey } from '../master-key';
import type { CommitCounts as CommitStats } from '../sqlite/backend-store.sqlite';
import type { RemoteUseCases, UseCases } from '../grpc/use-cases';
import { fromWire, type CallMessage, type WorkerMessage, type WorkerStart } from './messages';

export interface UseCaseThread {
  readonly useCases: RemoteUseCases;
  /** The worker store's group-commit counts. */
  commitStats(): Promise<CommitStats>;
  /** Lets calls in flight finish, closes the worker's store, ends the thread. */
  close(): Promise<void>;
  /** Ends the thread at once (as a crash would); calls in flight are rejected. */
  kill(): Promise<void>;
}

const TARGETS: ReadonlyArray<keyof UseCases> = ['authorization', 'settlement', 'adjustments', 'batches'];

export async function startUseCaseThread(o: { dbPath: string; keysPath: string; masterKey: MasterKey; log: Logger }): Promise<UseCaseThread> {
  const start: WorkerStart = {
    entry: new URL('./use-case-worker.ts', import.meta.url).href,
    dbPath: o.dbPath, keysPath: o.keysPath, masterKey: o.masterKey.toBase64(),
  };
  const worker = new Worker(new URL('./boot.mjs', import.meta.url), { workerData: start });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 0;
  let exited = false;
  const failAll = (message: string) => {
    for (const p of pending.values()) p.reject(new Error(message));
    pending.clear();
  };
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`use-case worker exited (${code}) while starting`)));
    worker.on('message', (m: WorkerMessage) => {
      switch (m.kind) {
        case 'ready':
          resolve();
          return;
        case 'failed':
          reject(fromWire(m.error));
          return;
        case 'result':
          pending.get(m.id)?.resolve(m.value);
          pending.delete(m.id);
          return;
        case 'error':
          pending.get(m.id)?.reject(fromWire(m.error));
          pending.delete(m.id);
          return;
        case 'event':
          o.log.info(m.fields, m.message);
          return;
      }
    });
  });
  worker.removeAllListeners('error').removeAllListeners('exit');
  worker.on('error', (e) => o.log.error({ err: { name: e.name, message: e.message } }, 'use-case worker failed'));
  worker.on('exit', () => {
    exited = true;
    failAll('use-case worker exited');
  });

  const call = (target: string, method: string, args: unknown[]): Promise<unknown> => {
    if (exited) return Promise.reject(new Error('use-case worker exited'));
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, target, method, args } satisfies CallMessage);
    });
  };
  const proxy = (target: string) =>
    new Proxy({}, { get: (_, method) => (typeof method === 'string' && method !== 'then' ? (...args: unknown[]) => call(target, method, args) : undefined) });
  const useCases = Object.fromEntries(TARGETS.map((t) => [t, proxy(t)])) as unknown as RemoteUseCases;

  const exitedPromise = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    useCases,
    commitStats: () => call('store', 'commitStats', []) as Promise<CommitStats>,
    async close() {
      if (exited) return;
      worker.postMessage('close');
      await exitedPromise;
    },
    async kill() {
      if (exited) return;
      await worker.terminate();
    },
  };
}
