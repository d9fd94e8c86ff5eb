/**
 * The use-case worker (issue 5): the store, the key store and the use cases run on their own
 * thread, so the store's work and the fsync of each group commit do not stall the gRPC thread.
 * The CPU work of Authorize and Settle (sealed PIN, card authentication, ARQC) arrives already
 * done by a crypto worker (crypto-worker.ts), so this thread only decides, reads, writes and
 * commits (receipt signatures are made here: they sign what the transaction decided). Started by
 * use-case-thread.ts.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SqliteBackendStore } from '../sqlite/backend-store.sqlite';
import { SoftwareKeyStore } from '../key-store.file';
import { MasterKey } from '../master-key';
import { systemClock } from '../../ports/clock';
import { createUseCases, type UseCases } from '../grpc/use-cases';
import { SqliteShopperStore } from '../sqlite/shopper-store.sqlite';
import { answerForwarded } from '../grpc/forwarded-methods';
import { compact, linuxThreadId, ownBytes, toWire, type CallMessage, type UseCaseControl, type ForwardedCallMessage, type WorkerMessage, type WorkerStart } from './messages';

/**
 * Group commits of at most this many in a burst, so the gRPC thread sends answers while this
 * thread works on the rest (GroupCommitOptions.flushAt). 16: in interleaved A/B runs, 1.5-2x the
 * Authorize throughput of no early flush at the same CPU per call; 8 and 32 could not be told
 * apart from it on this noisy 2-core machine (smaller costs more commits, larger overlaps less).
 */
const USE_CASE_FLUSH_AT = 16;

const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);
const start = workerData as WorkerStart;

let store: SqliteBackendStore | undefined;
try {
  const keys = SoftwareKeyStore.fromFile(start.keysPath, MasterKey.fromBase64(start.masterKey));
  store = new SqliteBackendStore(start.dbPath, { groupCommit: { flushAt: USE_CASE_FLUSH_AT } });
  const useCases = createUseCases(store, new SqliteShopperStore(store.db), keys, systemClock, (fields, message) => post({ kind: 'event', fields, message }), start.shopper ?? {});
  const handle = (m: CallMessage) => {
    const target = (m.target === 'store' ? { commitStats: () => store!.commitStats } : useCases[m.target as keyof UseCases]) as unknown as
      | Record<string, (...a: unknown[]) => unknown>
      | undefined;
    const method = target?.[m.method];
    Promise.resolve()
      .then(() => {
        if (typeof method !== 'function') throw new Error(`no use case ${m.target}.${m.method}`);
        return method.apply(target, m.args as unknown[]);
      })
      .then(
        (value) => post({ kind: 'result', id: m.id, value: compact(value) }),
        (error: unknown) => post({ kind: 'error', id: m.id, error: toWire(error) }),
      );
  };
  // A call forwarded as bytes (grpc/forwarded-methods.ts): answered as bytes, the buffer moved back.
  const handleForwarded = (m: ForwardedCallMessage) => {
    answerForwarded(useCases, store!, m.method, m.bytes, m.peer).then(
      (a) => {
        const { bytes, transfer } = ownBytes(a.bytes);
        port.postMessage({ kind: 'forwarded-result', id: m.id, bytes, approved: a.approved, declineReason: a.declineReason } satisfies WorkerMessage, transfer);
      },
      (error: unknown) => post({ kind: 'error', id: m.id, error: toWire(error) }),
    );
  };
  // Calls come from the gRPC thread, or from a crypto worker (with what it prepared); answers always go to the gRPC thread.
  const cryptoPorts = new Set<MessagePort>();
  port.on('message', (m: CallMessage | ForwardedCallMessage | UseCaseControl) => {
    if (m === 'close') {
      for (const p of cryptoPorts) p.close();
      store?.close();
      port.close();
      return;
    }
    if ('kind' in m) {
      cryptoPorts.add(m.port);
      m.port.on('message', handle);
      m.port.on('close', () => cryptoPorts.delete(m.port));
      return;
    }
    if ('bytes' in m) handleForwarded(m);
    else handle(m);
  });
  post({ kind: 'ready', ...(linuxThreadId() !== undefined ? { tid: linuxThreadId()! } : {}) });
} catch (error) {
  store?.close();
  post({ kind: 'failed', error: toWire(error) });
}
