/**
 * A crypto worker: does the pure CPU work of an Authorize or a Settle — open the sealed
 * PIN, check the card's certificates and DDA, check the ARQC, hash the request — off the
 * use-case worker, whose single thread then only reads and writes SQLite and commits (and would
 * otherwise stall this work during every fsync). It never touches the store: it hands each call,
 * with what it prepared, to the use-case worker over its own MessagePort, and the use-case worker
 * answers the gRPC thread. Errors of the preparation (the same RequestErrors the use case would
 * throw) go straight back to the gRPC thread. Started by use-case-thread.ts, several per process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SoftwareKeyStore } from '../key-store.file';
import { MasterKey } from '../master-key';
import { systemClock } from '../../ports/clock';
import type { Caller } from '../../app/caller';
import { prepareAuthorize } from '../../app/authorization-service';
import { prepareSettle } from '../../app/settlement-service';
import type { AuthorizeRequest, SettleRequest } from '@bluetill/protocol';
import type { KeyStore } from '../../ports/key-store';
import {
  compact,
  linuxThreadId,
  toWire,
  type CallMessage,
  type CryptoControl,
  type CryptoWorkerStart,
  type WorkerMessage,
} from './messages';

import { DeadlineExceededError, deadlinePassed } from '../call-deadline';
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);
const start = workerData as CryptoWorkerStart;

const PREPARERS: Readonly<Record<string, (keys: KeyStore, args: readonly unknown[]) => unknown>> = {
  'authorization.authorize': (keys, [req, caller]) =>
    prepareAuthorize(keys, systemClock, req as AuthorizeRequest, caller as Caller),
  'authorization.settle': (keys, [req, caller]) =>
    prepareSettle(keys, req as SettleRequest, caller as Caller),
  'settlement.settle': (keys, [req, caller]) => prepareSettle(keys, req as SettleRequest, caller as Caller),
};

try {
  const keys = SoftwareKeyStore.fromFile(start.keysPath, MasterKey.fromBase64(start.masterKey));
  const useCases = start.useCasePort;
  let crashNext = false;
  port.on('message', (m: CallMessage | CryptoControl) => {
    if ('kind' in m) {
      if (m.kind === 'close') {
        useCases.close();
        port.close();
      } else crashNext = true;
      return;
    }
    if (crashNext) throw new Error('crypto worker: crash requested (test hook)');
    const prepare = PREPARERS[`${m.target}.${m.method}`];
    try {
      if (!prepare) throw new Error(`no preparation for ${m.target}.${m.method}`);
      if (deadlinePassed(m.deadline)) throw new DeadlineExceededError(); // no CPU spent on a call given up
      const prepared = prepare(keys, m.args);
      useCases.postMessage({
        id: m.id,
        target: m.target,
        method: m.method,
        args: [...m.args, compact(prepared)],
        ...(m.deadline !== undefined ? { deadline: m.deadline } : {}),
      } satisfies CallMessage);
    } catch (error) {
      post({ kind: 'error', id: m.id, error: toWire(error) });
    }
  });
  post({ kind: 'ready', ...(linuxThreadId() !== undefined ? { tid: linuxThreadId()! } : {}) });
} catch (error) {
  post({ kind: 'failed', error: toWire(error) });
}
