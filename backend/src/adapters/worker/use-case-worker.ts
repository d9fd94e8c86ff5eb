/**
 * The use-case worker (issue 5): the store, the key store and the use cases run on their own
 * thread, so per-request cryptography (sealed PIN, card authentication, ARQC, receipt signature)
 * and the fsync of each group commit do not stall the gRPC thread. Started by use-case-thread.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteBackendStore } from '../sqlite/backend-store.sqlite';
import { SoftwareKeyStore } from '../key-store.file';
import { MasterKey } from '../master-key';
import { systemClock } from '../../ports/clock';
import { createUseCases, type UseCases } from '../grpc/use-cases';
import { toWire, type CallMessage, type WorkerMessage, type WorkerStart } from './messages';

const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);
const start = workerData as WorkerStart;

let store: SqliteBackendStore | undefined;
try {
  const keys = SoftwareKeyStore.fromFile(start.keysPath, MasterKey.fromBase64(start.masterKey));
  store = new SqliteBackendStore(start.dbPath);
  const useCases = createUseCases(store, keys, systemClock, (fields, message) => post({ kind: 'event', fields, message }));
  port.on('message', (m: CallMessage | 'close') => {
    if (m === 'close') {
      store?.close();
      port.close();
      return;
    }
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
        (value) => post({ kind: 'result', id: m.id, value }),
        (error: unknown) => post({ kind: 'error', id: m.id, error: toWire(error) }),
      );
  });
  post({ kind: 'ready' });
} catch (error) {
  store?.close();
  post({ kind: 'failed', error: toWire(error) });
}
