/**
 * The backend's composition root: the gRPC host with the Authorization and Settlement services
 * (both by default, or either alone), grpc.health.v1 and gRPC server reflection, and the shoppers'
 * listener, over one store. Ports are wired here by hand: the key store (loaded by its adapter),
 * the store, the clock, and where the use cases run (this thread or the use-case worker).
 */
import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { AuthorizationService, SettlementService, ShopperService, health } from '@bluetill/protocol';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { SqliteBackendStore, type CommitCounts } from './adapters/sqlite/backend-store.sqlite';
import {
  PostgresBackendStore,
  SERVE_WAIT_FOR_DATABASE_MS,
  type PostgresCommitCounts,
  type ProbeOptions,
} from './adapters/postgres/backend-store.postgres';
import type { BackendStore } from './ports/backend-store';
import { SoftwareKeyStore } from './adapters/key-store.file';
import type { MasterKey } from './adapters/master-key';
import { addReflection } from './adapters/grpc/reflection';
import { createUseCases, type RemoteUseCases, type UseCases } from './adapters/grpc/use-cases';
import {
  startUseCaseThread,
  type ForwardedCrossings,
  type UseCaseThread,
} from './adapters/worker/use-case-thread';
import type { ShopperOptions, ShopperWork } from './app/shopper-service';
import type { AuthorizationLimits } from './app/authorization-service';
import { ShopperLane, type ShopperLaneOptions, type ShopperLaneStats } from './adapters/grpc/shopper-lane';
import { SqliteOfflineSaleStore } from './adapters/sqlite/offline-sale-store.sqlite';
import { PostgresOfflineSaleStore } from './adapters/postgres/offline-sale-store.postgres';
import { OfflineParametersUseCase } from './app/offline-parameters-service';
import type { Caller } from './app/caller';
import { systemClock, type Clock } from './ports/clock';
import { guardDecoding } from './adapters/grpc/malformed-request';
import {
  validateAuthorize,
  validateCancel,
  validateGetOfflineReceipt,
  validateGetOutcome,
  validateChallenge,
  validateCloseBatch,
  validateGetSettlement,
  validateListTransactions,
  validateRefund,
  validateSettle,
  validateVoid,
  validateIssueCode,
  validatePayMerchant,
  validateSettleWithCode,
  validateForwardOffline,
  validateGetOfflineParameters,
  validateShopperChallenge,
} from './adapters/grpc/validate';
import type { BackendMetrics } from './adapters/metrics/backend-metrics';
import { HealthService } from './adapters/grpc/health-service';
import { CallGate } from './adapters/grpc/call-gate';
import { createLogger } from './adapters/logger';
import { readServerTls, type TlsMaterial } from './adapters/tls-files';
import {
  peerIdentityOf,
  terminalCallerOf,
  tlsSocketOf,
  type PeerIdentity,
} from './adapters/grpc/terminal-caller';
import { TerminalRefusals } from './adapters/grpc/terminal-refusal';
import { hardenedServerCredentials } from './adapters/grpc/transport-security';
import { observeTransport } from './adapters/grpc/observed-transport';
import { unary, forwarded, asBytes, type CallerOf } from './adapters/grpc/server';

/**
 * Where the store is: a SQLite file (`dbPath`, the embedded default) or a PostgreSQL database
 * (`postgresUrl`, a multi-host URL with `target_session_attrs=read-write` follows the primary), shared
 * by any number of nodes. Migrations run at open either way.
 */
export type BackendStoreLocation =
  | { readonly dbPath: string; readonly postgresUrl?: undefined }
  | { readonly postgresUrl: string; readonly dbPath?: undefined };

export type BackendOptions = BackendSettings & BackendStoreLocation;

export interface BackendSettings {
  readonly keysPath: string;
  /**
   * Opens keys.json (sealed at rest). A wrong key rejects with KeyStoreError('master_key_wrong')
   * before anything is opened or bound. The CLI takes it from BLUETILL_MASTER_KEY.
   */
  readonly masterKey: MasterKey;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /**
   * Mutual TLS: the backend CA (client certificates must chain to it), the server certificate and
   * key. Default: read from `tls/` beside keysPath. `'insecure'` serves plaintext with no client
   * authentication (callers are not checked against a certificate): local debugging only.
   */
  readonly tls?: TlsMaterial | 'insecure';
  readonly services?: ReadonlyArray<'authorization' | 'settlement'>;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Request counts, latencies and declines are recorded here (served by startMetricsServer). */
  readonly metrics?: BackendMetrics;
  /**
   * gRPC server reflection (grpc.reflection.v1 and v1alpha) over the protocol's .proto files, so
   * grpcurl and similar tools can list and call the services. Default on; it reveals the public
   * schemas only, and is behind the same TLS handshake as everything else.
   */
  readonly reflection?: boolean;
  /**
   * Run the use cases (store, key store, per-request cryptography, group commits) on a worker
   * thread, leaving the gRPC thread to the transport. Default off here; `serve` turns it
   * on (`--no-worker` to keep one thread).
   * Needs the system clock (a custom `clock` is refused with it).
   */
  readonly worker?: boolean;
  /**
   * With `worker`: crypto worker threads that open sealed PINs and check card certificates and
   * ARQCs before the use-case worker decides and commits. Default: the cores left after
   * the gRPC thread and the use-case worker (defaultCryptoWorkers: none on 2 cores); 0: none (the
   * use-case worker does that work itself).
   */
  readonly cryptoWorkers?: number;
  /**
   * The shopper-facing listener (service Shopper, claims 1, 2, 5-8): a separate port with
   * server-authenticated TLS only (the same server certificate; phones have no client
   * certificate), default on at port 0 (any free port); `false` turns it off.
   */
  readonly shopper?: false | ({ readonly host?: string; readonly port?: number } & ShopperOptions);
  /** The Authorization service's per-terminal bounds (challenges held, unproven cards); defaults in authorization-service.ts. */
  readonly authorizationLimits?: AuthorizationLimits;
  /** How long a till may use the offline parameters it fetched (default a day, DEFAULT_OFFLINE_PARAMETERS_VALIDITY_MS). */
  readonly offlineParametersValidityMs?: number;
  /** How the shopper listener's calls queue behind the tills' (shopper-lane.ts); defaults there. */
  readonly shopperLane?: ShopperLaneOptions;
  /**
   * On PostgreSQL: how the node watches its database (PostgresBackendStore's probe; defaults
   * there: every 500 ms, 1 s to answer, unreachable after 2 misses). While the database cannot be
   * reached, health answers NOT_SERVING and every new call is refused at once with UNAVAILABLE
   * and the `bluetill-draining` trailer (the call did nothing: a till sends it to another node).
   */
  readonly storeProbe?: ProbeOptions;
}

/** How long a drain waits for the calls in flight by default (ms). */
export const DRAIN_DEADLINE_MS = 10_000;

export interface DrainResult {
  /** The drain deadline passed with calls in flight: they were cut. */
  readonly forced: boolean;
  /** Calls in flight when the drain began. */
  readonly inFlight: number;
  /** Calls cut by the deadline (0 when not forced). */
  readonly cut: number;
  /** New calls refused while draining. */
  readonly refused: number;
  readonly ms: number;
}

/** The commit counts a store keeps: SQLite's group commits, PostgreSQL's commits and reruns. */
export type CommitCountsOf<S extends BackendStore> = S extends PostgresBackendStore
  ? PostgresCommitCounts
  : CommitCounts;

export interface RunningBackend<S extends SqliteBackendStore | PostgresBackendStore = SqliteBackendStore> {
  readonly port: number;
  readonly address: string;
  readonly store: S;
  /** Commit counts of the store that runs the use cases (the worker's, when there is one). */
  commitStats(): Promise<CommitCountsOf<S>>;
  /** Calls forwarded to the use-case worker as bytes and the messages they crossed in; null without the worker. */
  forwardedCrossings(): ForwardedCrossings | null;
  /** Crypto worker threads running (0 without the use-case worker). */
  readonly cryptoWorkers: number;
  /** Linux thread ids by role (gRPC thread = the process id), for per-thread CPU figures; empty where unknown. */
  readonly threadIds: ReadonlyArray<{ readonly role: 'grpc' | 'use-case' | 'crypto'; readonly tid: number }>;
  /** The shopper-facing listener's port and host:port; null when it is off. */
  readonly shopperPort: number | null;
  readonly shopperAddress: string | null;
  /** The costly work shoppers' requests caused (from the thread that ran them) and the shoppers' lane. */
  shopperStats(): Promise<{ readonly work: ShopperWork; readonly lane: ShopperLaneStats }>;
  close(): Promise<void>;
  /**
   * Stops the node gracefully (SIGTERM): health NOT_SERVING for every service name at once, new
   * calls refused with UNAVAILABLE and the `bluetill-draining` trailer (tills move on to another
   * node), calls in flight answered and committed, then close(). Past `deadlineMs` (default 10 s)
   * the listeners are shut and the calls still in flight cut: the caller then ends the process (the
   * CLI: SIGKILL) or calls kill(). Logged (`drain_started`, `drained` / `drain_forced`).
   */
  drain(deadlineMs?: number): Promise<DrainResult>;
  /** Hard stop, as a crash would: in-flight calls fail, nothing is drained. */
  kill(): void;
}

export function startBackend(
  o: BackendSettings & { readonly postgresUrl: string },
): Promise<RunningBackend<PostgresBackendStore>>;
export function startBackend(
  o: BackendSettings & { readonly dbPath: string },
): Promise<RunningBackend<SqliteBackendStore>>;
export function startBackend(
  o: BackendOptions,
): Promise<RunningBackend<SqliteBackendStore | PostgresBackendStore>>;
export async function startBackend(
  o: BackendOptions,
): Promise<RunningBackend<SqliteBackendStore | PostgresBackendStore>> {
  const log = o.logger ?? createLogger('backend');
  const clock = o.clock ?? systemClock;
  // TLS material and keys first: a missing file or a wrong master key fails here, before the
  // store is opened or a port bound (the server refuses to start).
  const tls = o.tls ?? readServerTls(join(dirname(o.keysPath), 'tls'));
  const keys = SoftwareKeyStore.fromFile(o.keysPath, o.masterKey);
  if (o.worker && o.clock)
    throw new TypeError('startBackend: a custom clock cannot be used with the use-case worker');
  const store: SqliteBackendStore | PostgresBackendStore =
    o.postgresUrl !== undefined
      ? await PostgresBackendStore.open(o.postgresUrl, {
          waitForDatabaseMs: SERVE_WAIT_FOR_DATABASE_MS,
          probe: o.storeProbe ?? {},
        })
      : new SqliteBackendStore(o.dbPath);
  // With the worker, this connection serves the caller checks (terminal certificates) and reads.
  let thread: UseCaseThread | undefined;
  let useCases: UseCases | RemoteUseCases;
  if (o.worker) {
    try {
      thread = await startUseCaseThread({
        store:
          o.postgresUrl !== undefined
            ? { postgresUrl: o.postgresUrl, ...(o.storeProbe ? { probe: o.storeProbe } : {}) }
            : { dbPath: o.dbPath },
        keysPath: o.keysPath,
        masterKey: o.masterKey,
        log,
        ...(o.cryptoWorkers !== undefined ? { cryptoWorkers: o.cryptoWorkers } : {}),
        ...(o.shopper ? { shopper: o.shopper } : {}),
        ...(o.authorizationLimits ? { authorizationLimits: o.authorizationLimits } : {}),
      });
    } catch (error) {
      await store.close();
      throw error;
    }
    useCases = thread.useCases;
  } else {
    useCases = createUseCases(
      store,
      store instanceof PostgresBackendStore
        ? new PostgresOfflineSaleStore()
        : new SqliteOfflineSaleStore(store.db),
      keys,
      clock,
      (fields, message) => log.info(fields, message),
      o.shopper || {},
      o.authorizationLimits ?? {},
    );
  }
  // Every use case, the shopper's and the temporary code's too, runs where the others do: with the
  // worker, every write goes through its one connection and group commit.
  const {
    authorization,
    settlement,
    adjustments,
    batches,
    codeSettlement,
    offlineForward,
    shopper: shopperUseCase,
  } = useCases;
  // A read on this process's connection (the worker's too): what a till may approve offline.
  const offlineParameters = new OfflineParametersUseCase(
    store,
    store instanceof PostgresBackendStore
      ? new PostgresOfflineSaleStore()
      : new SqliteOfflineSaleStore(store.db),
    keys,
    clock,
    o.offlineParametersValidityMs !== undefined ? { validityMs: o.offlineParametersValidityMs } : {},
  );
  let credentials: ServerCredentials;
  let callerOf: CallerOf;
  let peerOf: (call: ServerUnaryCall<unknown, unknown>) => PeerIdentity | null;
  const refusals = new TerminalRefusals({ log, tlsSocketOf });
  if (tls === 'insecure') {
    log.warn(
      { event: 'insecure_transport' },
      'serving WITHOUT TLS: plaintext, callers not authenticated (local debugging only)',
    );
    credentials = ServerCredentials.createInsecure();
    callerOf = () => ({ kind: 'unauthenticated' });
    peerOf = () => null;
  } else {
    credentials = hardenedServerCredentials(tls.ca, tls.cert, tls.key);
    callerOf = refusals.watching((call) => terminalCallerOf(call, store));
    peerOf = peerIdentityOf;
  }
  // Authorize and Settle go to the use-case worker as bytes (forwarded-methods.ts) — unless crypto
  // workers prepare them first, which takes the decoded request (the object path).
  const bytesTo = thread && thread.cryptoWorkers === 0 ? thread : undefined;
  const services = o.services ?? ['authorization', 'settlement'];
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  if (o.metrics)
    observeTransport(server, {
      refused: (e) => o.metrics!.refused('till', e),
      unimplemented: () => o.metrics!.unimplemented(),
    });
  const names: string[] = [];
  const m = o.metrics;
  // Every business call of both listeners passes the gate: drain() closes it (health-service.ts answers NOT_SERVING).
  const gate = new CallGate();
  // Refund, Void, CloseBatch and ListTransactions: the same use cases on both services (the
  // Authorization service relays them in process, as it does Settle).
  const afterSale = (prefix: string) => ({
    refund: unary(
      log,
      callerOf,
      `${prefix}Refund`,
      validateRefund,
      (r, c) => adjustments.refund(r, c),
      m,
      SettlementService.refund.responseSerialize,
    ),
    void: unary(
      log,
      callerOf,
      `${prefix}Void`,
      validateVoid,
      (r, c) => adjustments.void(r, c),
      m,
      SettlementService.void.responseSerialize,
    ),
    closeBatch: unary(
      log,
      callerOf,
      `${prefix}CloseBatch`,
      validateCloseBatch,
      (r, c) => batches.closeBatch(r, c),
      m,
    ),
    listTransactions: unary(
      log,
      callerOf,
      `${prefix}ListTransactions`,
      validateListTransactions,
      (r, c) => batches.listTransactions(r, c),
      m,
    ),
  });
  if (services.includes('authorization')) {
    const definition = guardDecoding(AuthorizationService);
    server.addService(
      bytesTo
        ? { ...definition, authorize: asBytes(definition.authorize), settle: asBytes(definition.settle) }
        : definition,
      gate.wrap({
        challenge: unary(
          log,
          callerOf,
          'Challenge',
          validateChallenge,
          (r, c) => authorization.challenge(r, c),
          m,
        ),
        authorize: bytesTo
          ? forwarded(log, peerOf, 'Authorize', bytesTo, m)
          : unary(
              log,
              callerOf,
              'Authorize',
              validateAuthorize,
              (r, c) => authorization.authorize(r, c),
              m,
              AuthorizationService.authorize.responseSerialize,
            ),
        settle: bytesTo
          ? forwarded(log, peerOf, 'Authorization.Settle', bytesTo, m)
          : unary(
              log,
              callerOf,
              'Authorization.Settle',
              validateSettle,
              (r, c) => authorization.settle(r, c),
              m,
              AuthorizationService.settle.responseSerialize,
            ),
        cancel: unary(
          log,
          callerOf,
          'Authorization.Cancel',
          validateCancel,
          (r, c) => authorization.cancel(r, c),
          m,
          AuthorizationService.cancel.responseSerialize,
        ),
        settleWithCode: unary(
          log,
          callerOf,
          'Authorization.SettleWithCode',
          validateSettleWithCode,
          (r, c) => codeSettlement.settleWithCode(r, c),
          m,
          AuthorizationService.settleWithCode.responseSerialize,
        ),
        getOfflineParameters: unary(
          log,
          callerOf,
          'GetOfflineParameters',
          validateGetOfflineParameters,
          (r, c) => offlineParameters.getOfflineParameters(r, c),
          m,
        ),
        ...afterSale('Authorization.'),
      } as UntypedServiceImplementation),
    );
    names.push('bluetill.v1.Authorization');
  }
  if (services.includes('settlement')) {
    const definition = guardDecoding(SettlementService);
    server.addService(
      bytesTo ? { ...definition, settle: asBytes(definition.settle) } : definition,
      gate.wrap({
        settle: bytesTo
          ? forwarded(log, peerOf, 'Settle', bytesTo, m)
          : unary(
              log,
              callerOf,
              'Settle',
              validateSettle,
              (r, c) => settlement.settle(r, c),
              m,
              SettlementService.settle.responseSerialize,
            ),
        cancel: unary(
          log,
          callerOf,
          'Cancel',
          validateCancel,
          (r, c) => settlement.cancel(r, c),
          m,
          SettlementService.cancel.responseSerialize,
        ),
        getSettlement: unary(
          log,
          callerOf,
          'GetSettlement',
          validateGetSettlement,
          (r, c) => settlement.get(r.terminalId, r.terminalTxnId, c),
          m,
          SettlementService.getSettlement.responseSerialize,
        ),
        settleWithCode: unary(
          log,
          callerOf,
          'SettleWithCode',
          validateSettleWithCode,
          (r, c) => codeSettlement.settleWithCode(r, c),
          m,
          SettlementService.settleWithCode.responseSerialize,
        ),
        forwardOffline: unary(
          log,
          callerOf,
          'ForwardOffline',
          validateForwardOffline,
          (r, c) => offlineForward.forwardOffline(r, c),
          m,
          SettlementService.forwardOffline.responseSerialize,
        ),
        ...afterSale(''),
      } as UntypedServiceImplementation),
    );
    names.push('bluetill.v1.Settlement');
  }
  const healthService = new HealthService(names);
  // A till the registry refuses learns it from its health probe (terminal-refusal.ts); that check
  // reads the store, so while the store cannot be reached health answers NOT_SERVING without it.
  const checkedHealth =
    tls === 'insecure'
      ? healthService.implementation
      : refusals.health(healthService.implementation, callerOf);
  server.addService(guardDecoding(health.HealthService), {
    ...checkedHealth,
    check: (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) =>
      (!(store instanceof PostgresBackendStore) || store.reachable
        ? checkedHealth
        : healthService.implementation
      ).check!(call as never, cb as never),
  });
  if (o.reflection !== false) addReflection(server, names);
  const host = o.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${o.port ?? 0}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  ).catch(async (error: unknown) => {
    await thread?.kill();
    await store.close();
    throw error;
  });
  log.info(
    {
      port,
      services: names,
      reflection: o.reflection !== false,
      worker: thread !== undefined,
      cryptoWorkers: thread?.cryptoWorkers ?? 0,
      keyId: o.masterKey.id,
      transport: tls === 'insecure' ? 'insecure' : 'mtls',
    },
    'backend listening',
  );

  // The shopper-facing listener: its own port, server-authenticated TLS, no client certificate.
  let shopperServer: Server | null = null;
  const shopperHealth = new HealthService(['bluetill.v1.Shopper']);
  const shopperLane = new ShopperLane(o.shopperLane);
  let shopperPort: number | null = null;
  const shopperHost = (o.shopper && o.shopper.host) ?? host;
  if (o.shopper !== false) {
    const shopperCallerOf: CallerOf = (call) => ({
      kind: 'shopper',
      peer: call.getPeer().replace(/:\d+$/, ''),
    });
    // Every shopper call queues in the shoppers' lane (per source address, a few at a time), so the
    // tills' calls never wait behind a shoppers' burst on the thread that runs the use cases.
    const inLane = <T>(c: Caller, job: () => Promise<T>) =>
      shopperLane.run(c.kind === 'shopper' ? c.peer : c.kind, job);
    const srv = new Server({ 'grpc.max_receive_message_length': 64 * 1024 });
    if (o.metrics)
      observeTransport(srv, {
        refused: (e) => o.metrics!.refused('shopper', e),
        unimplemented: () => o.metrics!.unimplemented(),
      });
    srv.addService(
      guardDecoding(ShopperService),
      gate.wrap({
        challenge: unary(
          log,
          shopperCallerOf,
          'Shopper.Challenge',
          validateShopperChallenge,
          (_r, c) => inLane(c, () => shopperUseCase.challenge(c)),
          m,
        ),
        issueCode: unary(
          log,
          shopperCallerOf,
          'Shopper.IssueCode',
          validateIssueCode,
          (r, c) => inLane(c, () => shopperUseCase.issueCode(r, c)),
          m,
          ShopperService.issueCode.responseSerialize,
        ),
        getOutcome: unary(
          log,
          shopperCallerOf,
          'Shopper.GetOutcome',
          validateGetOutcome,
          (r, c) => inLane(c, () => shopperUseCase.getOutcome(r, c)),
          m,
          ShopperService.getOutcome.responseSerialize,
        ),
        getOfflineReceipt: unary(
          log,
          shopperCallerOf,
          'Shopper.GetOfflineReceipt',
          validateGetOfflineReceipt,
          (r, c) => inLane(c, () => shopperUseCase.getOfflineReceipt(r, c)),
          m,
        ),
        payMerchant: unary(
          log,
          shopperCallerOf,
          'Shopper.PayMerchant',
          validatePayMerchant,
          (r, c) => inLane(c, () => shopperUseCase.payMerchant(r, c)),
          m,
          ShopperService.payMerchant.responseSerialize,
        ),
      } as UntypedServiceImplementation),
    );
    srv.addService(guardDecoding(health.HealthService), shopperHealth.implementation);
    const shopperCredentials =
      tls === 'insecure'
        ? ServerCredentials.createInsecure()
        : hardenedServerCredentials(null, tls.cert, tls.key);
    try {
      shopperPort = await new Promise<number>((resolve, reject) =>
        srv.bindAsync(`${shopperHost}:${(o.shopper && o.shopper.port) ?? 0}`, shopperCredentials, (err, p) =>
          err ? reject(err) : resolve(p),
        ),
      );
    } catch (e) {
      server.forceShutdown();
      await thread?.kill();
      await store.close();
      throw e;
    }
    shopperServer = srv;
    log.info(
      {
        port: shopperPort,
        services: ['bluetill.v1.Shopper'],
        transport: tls === 'insecure' ? 'insecure' : 'tls',
      },
      'shopper listener',
    );
  }
  // A node that cannot reach its database stops taking calls (NOT_SERVING, UNAVAILABLE at once)
  // rather than hold them on a dead connection or answer without the store; it takes them again
  // when the database answers.
  const reachability = (reachable: boolean, cause?: string): void => {
    healthService.setAvailable(reachable);
    shopperHealth.setAvailable(reachable);
    if (reachable) {
      gate.resume();
      log.info({ event: 'store_reachable', refused: gate.refusedPaused }, 'database reachable: taking calls');
    } else {
      gate.pause('this node cannot reach its database: call another node');
      log.warn(
        { event: 'store_unreachable', cause },
        'database unreachable: health NOT_SERVING, new calls refused',
      );
    }
  };
  const unwatch =
    store instanceof PostgresBackendStore ? store.onReachability(reachability) : () => undefined;
  if (store instanceof PostgresBackendStore && !store.reachable) reachability(false, 'unreachable at start');
  let closed: Promise<void> | undefined;
  const finish = (): Promise<void> => (closed ??= (unwatch(), Promise.resolve(store.close())));
  const stopShopper = () =>
    new Promise<void>((resolve) => {
      if (!shopperServer) return resolve();
      const timer = setTimeout(() => shopperServer!.forceShutdown(), 2000);
      shopperServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  const close = async (): Promise<void> => {
    healthService.shutdown();
    shopperHealth.shutdown();
    await stopShopper();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.forceShutdown(), 2000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        void (thread?.close() ?? Promise.resolve()).then(finish).then(resolve);
      });
    });
  };
  const kill = (): void => {
    shopperServer?.forceShutdown();
    server.forceShutdown();
    void thread?.kill();
    void finish();
  };
  return {
    port,
    address: `${host}:${port}`,
    store,
    commitStats: () => thread?.commitStats() ?? Promise.resolve(store.commitStats),
    forwardedCrossings: () => thread?.forwardedCrossings() ?? null,
    get cryptoWorkers() {
      return thread?.cryptoWorkers ?? 0;
    },
    get threadIds() {
      const ids = thread?.threadIds;
      return [
        { role: 'grpc' as const, tid: process.pid },
        ...(ids?.useCase !== undefined ? [{ role: 'use-case' as const, tid: ids.useCase }] : []),
        ...(ids?.crypto ?? []).map((tid) => ({ role: 'crypto' as const, tid })),
      ];
    },
    shopperPort,
    shopperAddress: shopperPort === null ? null : `${shopperHost}:${shopperPort}`,
    shopperStats: async () => ({ work: await shopperUseCase.stats(), lane: shopperLane.stats }),
    close,
    drain: async (deadlineMs = DRAIN_DEADLINE_MS) => {
      // NOT_SERVING for every name at once; new calls refused (UNAVAILABLE + draining trailer).
      healthService.shutdown();
      shopperHealth.shutdown();
      gate.close();
      const inFlight = gate.pending;
      const started = Date.now();
      log.info(
        { event: 'drain_started', inFlight, deadlineMs },
        'draining: new calls refused, calls in flight finishing',
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outcome = await Promise.race([
        gate.idle().then(() => 'idle' as const),
        new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs))),
      ]);
      clearTimeout(timer);
      if (outcome === 'idle') {
        await close();
        const result = { forced: false, inFlight, cut: 0, refused: gate.refused, ms: Date.now() - started };
        log.info({ event: 'drained', ...result }, 'drained: every call in flight answered, node stopped');
        return result;
      }
      const result = {
        forced: true,
        inFlight,
        cut: gate.pending,
        refused: gate.refused,
        ms: Date.now() - started,
      };
      log.warn({ event: 'drain_forced', ...result }, 'drain deadline passed: calls still in flight are cut');
      shopperServer?.forceShutdown();
      server.forceShutdown();
      return result;
    },
    kill,
  };
}
