/**
 * The backend's gRPC host: the Authorization and Settlement services (both by default, or
 * either alone), grpc.health.v1, over one SQLite store.
 */
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { AuthorizationService, SettlementService, health } from '@bluetill/protocol';
import type { Logger } from 'pino';
import { SqliteBackendStore } from '../sqlite/backend-store.sqlite';
import { SoftwareKeyStore } from '../key-store.file';
import { AuthorizationUseCase } from '../../app/authorization-service';
import { SettlementUseCase, type Caller } from '../../app/settlement-service';
import { systemClock, type Clock } from '../../ports/clock';
import { toGrpcStatus } from './to-grpc-status';
import { validateAuthorize, validateChallenge, validateGetSettlement, validateSettle } from './validate';
import { HealthService } from './health-service';
import { createLogger } from '../logger';

export interface BackendOptions {
  readonly dbPath: string;
  readonly keysPath: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly credentials?: ServerCredentials;
  readonly services?: ReadonlyArray<'authorization' | 'settlement'>;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface RunningBackend {
  readonly port: number;
  readonly address: string;
  readonly store: SqliteBackendStore;
  close(): Promise<void>;
  /** Hard stop, as a crash would: in-flight calls fail, nothing is drained. */
  kill(): void;
}

type Handler<Req, Res> = (req: Req, caller: Caller) => Res | Promise<Res>;

function unary<Req, Res>(log: Logger, method: string, validate: (r: Req) => Req, handler: Handler<Req, Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const caller: Caller = {};
    Promise.resolve()
      .then(() => handler(validate(call.request), caller))
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(toGrpcStatus(err, log, method)),
      );
  };
}

export async function startBackend(o: BackendOptions): Promise<RunningBackend> {
  const log = o.logger ?? createLogger('backend');
  const clock = o.clock ?? systemClock;
  const store = new SqliteBackendStore(o.dbPath);
  const keys = SoftwareKeyStore.fromFile(o.keysPath);
  const settlement = new SettlementUseCase(store, keys, clock, {
    onSettled: (e) => log.info({ event: 'settled', ...e }, 'settlement'),
  });
  const authorization = new AuthorizationUseCase(store, keys, clock, settlement, {
    onDecision: (e) => log.info({ event: 'authorized', ...e }, 'authorization'),
  });
  const services = o.services ?? ['authorization', 'settlement'];
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  const names: string[] = [];
  if (services.includes('authorization')) {
    server.addService(AuthorizationService, {
      challenge: unary(log, 'Challenge', validateChallenge, (r, c) => authorization.challenge(r, c)),
      authorize: unary(log, 'Authorize', validateAuthorize, (r, c) => authorization.authorize(r, c)),
      settle: unary(log, 'Authorization.Settle', validateSettle, (r, c) => authorization.settle(r, c)),
    } as UntypedServiceImplementation);
    names.push('bluetill.v1.Authorization');
  }
  if (services.includes('settlement')) {
    server.addService(SettlementService, {
      settle: unary(log, 'Settle', validateSettle, (r, c) => settlement.settle(r, c)),
      getSettlement: unary(log, 'GetSettlement', validateGetSettlement, (r, c) => settlement.get(r.terminalId, r.terminalTxnId, c)),
    } as UntypedServiceImplementation);
    names.push('bluetill.v1.Settlement');
  }
  const healthService = new HealthService(names);
  server.addService(health.HealthService, healthService.implementation);
  const host = o.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${o.port ?? 0}`, o.credentials ?? ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  log.info({ port, services: names }, 'backend listening');
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    store.close();
  };
  return {
    port,
    address: `${host}:${port}`,
    store,
    close: () =>
      new Promise<void>((resolve) => {
        healthService.shutdown();
        const timer = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          finish();
          resolve();
        });
      }),
    kill: () => {
      server.forceShutdown();
      finish();
    },
  };
}
