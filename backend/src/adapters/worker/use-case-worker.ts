/**
 * The use-case worker: the store, the key store and the use cases run on their own
 * thread, so the store's work and the fsync of each group commit do not stall the gRPC thread.
 * The CPU work of Authorize and Settle (sealed PIN, card authentication, ARQC) arrives already
 * done by a crypto worker (crypto-worker.ts), so this thread only decides, reads, writes and
 * commits (receipt signatures are made here: they sign what the transaction decided). Started by
 * use-case-thread.ts.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SqliteBackendStore } from '../sqlite/backend-store.sqlite';
import { PostgresBackendStore, SERVE_WAIT_FOR_DATABASE_MS } from '../postgres/backend-store.postgres';
import { SoftwareKeyStore } from '../key-store.file';
import { MasterKey } from '../master-key';
import { systemClock } from '../../ports/clock';
import { createUseCases, type UseCases } from '../grpc/use-cases';
import { SqliteOfflineSaleStore } from '../sqlite/offline-sale-store.sqlite';
import { PostgresOfflineSaleStore } from '../postgres/offline-sale-store.postgres';
import { answerForwarded } from '../grpc/forwarded-methods';
import { DeadlineExceededError, deadlinePassed, withDeadline } from '../call-deadline';
import {
  compact,
  linuxThreadId,
  ownBytes,
  toWire,
  type CallMessage,
  type UseCaseControl,
  type ForwardedBatchMessage,
  type ForwardedCallMessage,
  type ForwardedReply,
  type WorkerMessage,
  type WorkerStart,
} from './messages';

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

let store: SqliteBackendStore | PostgresBackendStore | undefined;
try {
  const keys = SoftwareKeyStore.fromFile(start.keysPath, MasterKey.fromBase64(start.masterKey));
  store =
    'postgresUrl' in start.store
      ? await PostgresBackendStore.open(start.store.postgresUrl, {
          waitForDatabaseMs: SERVE_WAIT_FOR_DATABASE_MS,
          probe: start.store.probe ?? {},
        })
      : new SqliteBackendStore(start.store.dbPath, { groupCommit: { flushAt: USE_CASE_FLUSH_AT } });
  const useCases = createUseCases(
    store,
    store instanceof PostgresBackendStore
      ? new PostgresOfflineSaleStore()
      : new SqliteOfflineSaleStore(store.db),
    keys,
    systemClock,
    (fields, message) => post({ kind: 'event', fields, message }),
    start.shopper ?? {},
    start.authorizationLimits ?? {},
  );
  const handle = (m: CallMessage) => {
    const target = (m.target === 'store'
      ? { commitStats: () => store!.commitStats }
      : useCases[m.target as keyof UseCases]) as unknown as
      Record<string, (...a: unknown[]) => unknown> | undefined;
    const method = target?.[m.method];
    Promise.resolve()
      .then(() => {
        if (typeof method !== 'function') throw new Error(`no use case ${m.target}.${m.method}`);
        if (deadlinePassed(m.deadline)) throw new DeadlineExceededError();
        return withDeadline(m.deadline ?? Infinity, () => method.apply(target, m.args as unknown[]));
      })
      .then(
        (value) => post({ kind: 'result', id: m.id, value: compact(value) }),
        (error: unknown) => post({ kind: 'error', id: m.id, error: toWire(error) }),
      );
  };
  // Calls forwarded as bytes (grpc/forwarded-methods.ts) come in batches, one per turn of the gRPC
  // thread; their answers leave in batches too, one message for the answers that became ready in
  // the same microtask checkpoint (a group commit's: its promises settle together), buffers moved.
  let outbox: ForwardedReply[] = [];
  const sendReplies = () => {
    const replies = outbox;
    outbox = [];
    port.postMessage(
      { kind: 'forwarded-replies', replies } satisfies WorkerMessage,
      replies.flatMap((r) => (r.kind === 'forwarded-result' ? [r.bytes.buffer as ArrayBuffer] : [])),
    );
  };
  const reply = (r: ForwardedReply) => {
    if (outbox.push(r) === 1) queueMicrotask(sendReplies);
  };
  const handleForwarded = (m: ForwardedCallMessage) => {
    (deadlinePassed(m.deadline)
      ? Promise.reject(new DeadlineExceededError())
      : withDeadline(m.deadline ?? Infinity, () =>
          answerForwarded(useCases, store!, m.method, m.bytes, m.peer),
        )
    ).then(
      (a) =>
        reply({
          kind: 'forwarded-result',
          id: m.id,
          bytes: ownBytes(a.bytes).bytes,
          approved: a.approved,
          declineReason: a.declineReason,
        }),
      (error: unknown) => reply({ kind: 'error', id: m.id, error: toWire(error) }),
    );
  };
  // Forwarded calls are worked on in arrival order, flushAt at a time, each part in its own turn: a
  // part fills a group commit, whose answers then leave before the next part is worked on (so the
  // gRPC thread answers the first calls of a burst while this thread works on the rest, as with one
  // message per call). A batch that arrives meanwhile waits behind the calls before it.
  const inbox: ForwardedCallMessage[] = [];
  let draining = false;
  const drain = () => {
    for (const m of inbox.splice(0, USE_CASE_FLUSH_AT)) handleForwarded(m);
    draining = inbox.length > 0;
    if (draining) setImmediate(drain);
  };
  const handleBatch = (calls: readonly ForwardedCallMessage[]) => {
    inbox.push(...calls);
    if (!draining) drain();
  };
  // Calls come from the gRPC thread, or from a crypto worker (with what it prepared); answers always go to the gRPC thread.
  const cryptoPorts = new Set<MessagePort>();
  port.on('message', (m: CallMessage | ForwardedBatchMessage | UseCaseControl) => {
    if (m === 'close') {
      for (const p of cryptoPorts) p.close();
      void Promise.resolve(store?.close()).finally(() => port.close());
      return;
    }
    if ('kind' in m && m.kind === 'forwarded-batch') {
      handleBatch(m.calls);
      return;
    }
    if ('kind' in m) {
      cryptoPorts.add(m.port);
      m.port.on('message', handle);
      m.port.on('close', () => cryptoPorts.delete(m.port));
      return;
    }
    handle(m);
  });
  post({ kind: 'ready', ...(linuxThreadId() !== undefined ? { tid: linuxThreadId()! } : {}) });
} catch (error) {
  await Promise.resolve(store?.close()).catch(() => undefined);
  post({ kind: 'failed', error: toWire(error) });
}
