/**
 * Test fixture: a seeded backend on a temp dir, served on 127.0.0.1:0 over mutual TLS, with typed
 * promise clients that present terminal T-0001's client certificate (`clientFor` makes others).
 * Like the till's and the phone's clients, they give a decline (status OK, the response message in
 * the body) back as its response value; other statuses reject.
 *
 * The backend runs over a SQLite file in the temp dir, or (`store: 'postgres'`) over a fresh
 * database on this test file's PostgreSQL 15 server (started on first use, stopped by
 * `stopStoreServers`). What a test reads beside the gRPC calls goes through the
 * fixture's store-neutral helpers (`select`, `one`, `count`: SQL with `?` placeholders on both
 * stores; `registry`: the operator's RegistryAdmin port over the same store).
 *
 * @example
 *   afterAll(stopStoreServers);                     // once per file, at the top level
 *   describe.each(fixtureStores)('… over %s', (store) => {
 *     let f: StoreFixture;
 *     beforeAll(async () => { f = await startBackendFixture({ store }); });
 *     afterAll(() => f.close());
 *   });
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  status,
  type ChannelCredentials,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  AuthorizationClient,
  SettlementClient,
  ShopperClient,
  sealPin,
  pinSealContext,
  verifyCertificate,
  publicKeyFromRaw,
  health,
  DECLINE_TRAILER_KEY,
  AuthorizeResponse,
  IssueCodeResponse,
  PayMerchantResponse,
  RefundResponse,
  SettleResponse,
  VoidResponse,
  type IssueCodeRequest,
  type OfflineReceiptRequest,
  type OfflineReceiptResponse,
  type OutcomeRequest,
  type OutcomeResponse,
  type PayMerchantRequest,
  type SettleWithCodeRequest,
  type ShopperChallengeResponse,
  type DeclinableResponse,
  type AuthorizeRequest,
  type ChallengeResponse,
  type SettleRequest,
  type CertificateBody,
  type RefundRequest,
  type VoidRequest,
  type CloseBatchRequest,
  type CloseBatchResponse,
  type ListTransactionsRequest,
  type ListTransactionsResponse,
} from '@bluetill/protocol';
import { seedDemo, type SeededBackend } from '../admin/demo-seed';
import type { EmvKeyBits } from '../admin/key-material';
import type { NewCard } from '../admin/registry';
import { readTerminalTls } from '../adapters/tls-files';
import { startBackend, type RunningBackend } from '../main';
import type { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';
import type { PostgresBackendStore } from '../adapters/postgres/backend-store.postgres';
import { openRegistryAdmin, parseStoreSpec } from '../adapters/store-spec';
import type { RegistryAdmin } from '../ports/registry-admin';
import type { StoreTx } from '../ports/backend-store';
import { createTestDatabase } from './store-factories';
import { createLogger } from '../adapters/logger';
import { MasterKey } from '../adapters/master-key';
import { TestCard } from './test-card';
import type { BackendMetrics } from '../adapters/metrics/backend-metrics';
import type { Clock } from '../ports/clock';
import type { ShopperOptions } from '../app/shopper-service';
import type { AuthorizationLimits } from '../app/authorization-service';

const call =
  <Req, Res>(fn: (req: Req, cb: (e: ServiceError | null, r: Res) => void) => unknown) =>
  (req: Req) =>
    new Promise<Res>((resolve, reject) => fn(req, (e, r) => (e ? reject(e) : resolve(r))));

/** A declinable call's status as it was on the wire (raw code, details, decline-trailer values). */
export interface WireAnswer {
  readonly method: string;
  readonly code: status;
  readonly details: string;
  readonly trailer: readonly Buffer[];
  /** The response an OK answer carried (approved or declined). */
  readonly response?: DeclinableResponse;
}

type Unary<Req, Res> = (
  req: Req,
  cb: (e: ServiceError | null, r: Res) => void,
) => { on(event: 'status', listener: (s: StatusObject) => void): unknown };

/**
 * A call whose declines come back as values, and that holds the backend to the wire contract: a
 * decline, like an approval, is status OK with the response message in the body and no decline
 * trailer; a FAILED_PRECONDITION (a decline carried as an error) is refused. Each answer's raw
 * status is appended to `wire`, with the response it carried.
 */
const declinable =
  <Req, Res extends DeclinableResponse>(
    method: string,
    fn: Unary<Req, Res>,
    _decode: (b: Uint8Array) => Res,
    wire: WireAnswer[],
  ) =>
  (req: Req) =>
    new Promise<Res>((resolve, reject) => {
      let answer: { e: ServiceError | null; r: Res } | undefined;
      let st: StatusObject | undefined;
      const settle = () => {
        if (!answer || !st) return;
        const trailer = st.metadata
          .get(DECLINE_TRAILER_KEY)
          .filter((v): v is Buffer => typeof v !== 'string');
        const { e, r } = answer;
        wire.push({ method, code: st.code, details: st.details, trailer, ...(e ? {} : { response: r }) });
        if (!e) {
          if (st.metadata.get(DECLINE_TRAILER_KEY).length > 0)
            return reject(
              new Error(`${method}: answered OK with a decline trailer (${trailer.length} values)`),
            );
          return resolve(r);
        }
        if (e.code === status.FAILED_PRECONDITION)
          return reject(
            new Error(
              `${method}: a decline as FAILED_PRECONDITION; declines are answered OK in the response message`,
            ),
          );
        return reject(e);
      };
      fn(req, (e, r) => {
        answer = { e, r };
        settle();
      }).on('status', (s) => {
        st = s;
        settle();
      });
    });

/** Refund, Void, CloseBatch, ListTransactions as promises, over one service. */
export interface AfterSaleClients {
  refund(req: RefundRequest): Promise<RefundResponse>;
  voidSale(req: VoidRequest): Promise<VoidResponse>;
  closeBatch(req: CloseBatchRequest): Promise<CloseBatchResponse>;
  listTransactions(req: ListTransactionsRequest): Promise<ListTransactionsResponse>;
}

/** Promise clients over one set of channel credentials. */
export interface FixtureClients extends AfterSaleClients {
  /** The same calls on the Settlement service (the others go through Authorization, as a till's do). */
  readonly direct: AfterSaleClients;
  challenge(terminalId?: string): Promise<ChallengeResponse>;
  authorize(req: AuthorizeRequest): Promise<AuthorizeResponse>;
  settle(req: SettleRequest): Promise<SettleResponse>;
  settleWithCode(req: SettleWithCodeRequest): Promise<SettleResponse>;
  getSettlement(terminalId: string, terminalTxnId: string): Promise<SettleResponse>;
  /** grpc.health.v1 Check ('' = the whole server); resolves to the status name. */
  health(service?: string): Promise<string>;
  close(): void;
}

export interface BackendFixture<
  S extends SqliteBackendStore | PostgresBackendStore = SqliteBackendStore,
> extends AfterSaleClients {
  readonly direct: AfterSaleClients;
  readonly dir: string;
  /** Generated for this run; keys.json in `dir` is sealed under it (child processes: BLUETILL_MASTER_KEY=masterKey.toBase64()). */
  readonly masterKey: MasterKey;
  readonly seed: SeededBackend;
  readonly backend: RunningBackend<S>;
  /** The raw status of every declinable call made through the fixture's clients, in order. */
  readonly wire: WireAnswer[];
  /** Which store the backend runs over. */
  readonly storeKind: StoreKind;
  /** Where: the SQLite file's path or the PostgreSQL database's URL (a `--store` value; `backendStoreOptions(parseStoreSpec(…))` for another startBackend). */
  readonly storeSpec: string;
  /**
   * A plain SELECT on the backend's store, outside any commit (tests only), for what the port has
   * no query for; `?` placeholders on both stores. Integers (bigint too) come back as numbers;
   * booleans as SQLite's 0/1 or PostgreSQL's true/false, so compare them in SQL (`approved = TRUE`).
   * A SUM is numeric in PostgreSQL: wrap it in `CAST(… AS BIGINT)`.
   */
  select<T>(text: string, ...params: unknown[]): Promise<T[]>;
  /** The first row of `select` (undefined when there is none). */
  one<T>(text: string, ...params: unknown[]): Promise<T | undefined>;
  /** Rows of a table. */
  count(table: string): Promise<number>;
  /** Counts the calls of one query made through read() of the gRPC thread's store, until restore(). */
  countReads(query: keyof StoreTx): ReadCounter;
  /** Runs fn with the operator's registry (the RegistryAdmin port) over the backend's store, then closes it. */
  registry<T>(fn: (admin: RegistryAdmin) => Promise<T>): Promise<T>;
  challenge(terminalId?: string): Promise<ChallengeResponse>;
  authorize(req: AuthorizeRequest): Promise<AuthorizeResponse>;
  settle(req: SettleRequest): Promise<SettleResponse>;
  settleWithCode(req: SettleWithCodeRequest): Promise<SettleResponse>;
  getSettlement(terminalId: string, terminalTxnId: string): Promise<SettleResponse>;
  /** The shopper-facing listener (server-authenticated TLS, no client certificate): what a phone calls. */
  readonly shopper: ShopperClients;
  /** host:port of the shopper-facing listener. */
  readonly shopperAddress: string;
  /** The demo card with this id, as an EMV card computed in the test (records, DDA, ARQC). */
  card(cardId: string): TestCard;
  /** Challenge + card data with DDA over the UN + sealed PIN + Authorize, as a till would relay it. */
  authorizeCard(
    card: TestCard,
    pin: string,
    terminalId?: string,
  ): Promise<{ un: Uint8Array; res: AuthorizeResponse }>;
  /** mTLS credentials of a seeded terminal (its client certificate from tls/). */
  credentialsFor(terminalId: string): ChannelCredentials;
  /** Clients over other credentials (another terminal's certificate, none, a foreign CA's); closed by close(). */
  clientFor(creds: ChannelCredentials): FixtureClients;
  close(): Promise<void>;
}

/** The Shopper service as promises, as a phone calls it. */
export interface ShopperClients {
  challenge(): Promise<ShopperChallengeResponse>;
  issueCode(req: IssueCodeRequest): Promise<IssueCodeResponse>;
  payMerchant(req: PayMerchantRequest): Promise<PayMerchantResponse>;
  getOfflineReceipt(req: OfflineReceiptRequest): Promise<OfflineReceiptResponse>;
  getOutcome(req: OutcomeRequest): Promise<OutcomeResponse>;
  close(): void;
}

/** Clients of the shopper-facing listener, trusting the backend CA (PEM) for its server certificate. */
export function shopperClients(address: string, backendCa: Buffer, wire: WireAnswer[] = []): ShopperClients {
  const c = new ShopperClient(address, credentials.createSsl(backendCa));
  return {
    challenge: () => call<Record<string, never>, ShopperChallengeResponse>(c.challenge.bind(c))({}),
    issueCode: declinable('Shopper.IssueCode', c.issueCode.bind(c), IssueCodeResponse.decode, wire),
    payMerchant: declinable('Shopper.PayMerchant', c.payMerchant.bind(c), PayMerchantResponse.decode, wire),
    getOfflineReceipt: call<OfflineReceiptRequest, OfflineReceiptResponse>(c.getOfflineReceipt.bind(c)),
    getOutcome: call<OutcomeRequest, OutcomeResponse>(c.getOutcome.bind(c)),
    close: () => c.close(),
  };
}

function afterSale(
  c: AuthorizationClient | SettlementClient,
  prefix: string,
  wire: WireAnswer[],
): AfterSaleClients {
  return {
    refund: declinable<RefundRequest, RefundResponse>(
      `${prefix}Refund`,
      c.refund.bind(c),
      RefundResponse.decode,
      wire,
    ),
    voidSale: declinable<VoidRequest, VoidResponse>(
      `${prefix}Void`,
      c.void.bind(c),
      VoidResponse.decode,
      wire,
    ),
    closeBatch: call<CloseBatchRequest, CloseBatchResponse>(c.closeBatch.bind(c)),
    listTransactions: call<ListTransactionsRequest, ListTransactionsResponse>(c.listTransactions.bind(c)),
  };
}

function clientsOver(address: string, creds: ChannelCredentials, wire: WireAnswer[]): FixtureClients {
  const auth = new AuthorizationClient(address, creds);
  const settlement = new SettlementClient(address, creds);
  const healthClient = new health.HealthClient(address, creds);
  return {
    ...afterSale(auth, 'Authorization.', wire),
    direct: afterSale(settlement, '', wire),
    challenge: (terminalId = 'T-0001') =>
      call<{ terminalId: string }, ChallengeResponse>(auth.challenge.bind(auth))({ terminalId }),
    authorize: declinable('Authorize', auth.authorize.bind(auth), AuthorizeResponse.decode, wire),
    settle: declinable('Authorization.Settle', auth.settle.bind(auth), SettleResponse.decode, wire),
    settleWithCode: declinable(
      'Authorization.SettleWithCode',
      auth.settleWithCode.bind(auth),
      SettleResponse.decode,
      wire,
    ),
    getSettlement: (terminalId, terminalTxnId) =>
      declinable<{ terminalId: string; terminalTxnId: string }, SettleResponse>(
        'GetSettlement',
        settlement.getSettlement.bind(settlement),
        SettleResponse.decode,
        wire,
      )({ terminalId, terminalTxnId }),
    health: (service = '') =>
      call<{ service: string }, { status: number }>(healthClient.check.bind(healthClient))({ service }).then(
        (r) => health.HealthCheckResponse_ServingStatus[r.status] ?? String(r.status),
      ),
    close() {
      auth.close();
      settlement.close();
      healthClient.close();
    },
  };
}

export type StoreKind = 'sqlite' | 'postgres';

export interface ReadCounter {
  readonly calls: number;
  reset(): void;
  restore(): void;
}

/** The stores a backend suite runs over, for `describe.each(fixtureStores)`. */
export const fixtureStores: readonly StoreKind[] = ['sqlite', 'postgres'];

/** A fixture over either store. */
export type StoreFixture = BackendFixture<SqliteBackendStore | PostgresBackendStore>;

export { stopStoreServers } from './store-factories';

export interface BackendFixtureOptions {
  /** The store to serve over: a SQLite file in the temp dir (default), or a fresh database on this file's PostgreSQL server. */
  store?: StoreKind;
  extraCards?: readonly NewCard[];
  metrics?: BackendMetrics;
  clock?: Clock;
  shopper?: ShopperOptions;
  worker?: boolean;
  cryptoWorkers?: number;
  emvKeyBits?: EmvKeyBits;
  /** Seed and serve over this PostgreSQL database (empty) instead of a SQLite file in the temp dir. */
  postgresUrl?: string;
  authorizationLimits?: AuthorizationLimits;
}

export function startBackendFixture(
  o: BackendFixtureOptions & ({ postgresUrl: string } | { store: 'postgres' }),
): Promise<BackendFixture<PostgresBackendStore>>;
export function startBackendFixture(o: BackendFixtureOptions & { store: StoreKind }): Promise<StoreFixture>;
export function startBackendFixture(o?: BackendFixtureOptions): Promise<BackendFixture>;
export async function startBackendFixture(o: BackendFixtureOptions = {}): Promise<StoreFixture> {
  if (o.store === 'sqlite' && o.postgresUrl !== undefined)
    throw new Error("startBackendFixture: store 'sqlite' with a postgresUrl");
  const postgresUrl =
    o.postgresUrl ?? (o.store === 'postgres' ? await createTestDatabase('fixture') : undefined);
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-backend-'));
  const masterKey = MasterKey.generate();
  const seed = await seedDemo(dir, ['T-0002', 'T-0003'], o.extraCards ?? [], {
    masterKey,
    ...(o.emvKeyBits ? { emvKeyBits: o.emvKeyBits } : {}),
    ...(postgresUrl ? { store: parseStoreSpec(postgresUrl) } : {}),
  });
  const backend = await startBackend({
    ...(postgresUrl ? { postgresUrl } : { dbPath: seed.dbPath }),
    keysPath: seed.keysPath,
    masterKey,
    // Silent unless BLUETILL_TEST_LOG names a level (e.g. `error`, to see what an INTERNAL answer hid).
    logger: createLogger('backend', process.env.BLUETILL_TEST_LOG ?? 'silent'),
    ...(o.metrics ? { metrics: o.metrics } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.worker ? { worker: true } : {}),
    ...(o.cryptoWorkers !== undefined ? { cryptoWorkers: o.cryptoWorkers } : {}),
    shopper: o.shopper ?? {},
    ...(o.authorizationLimits ? { authorizationLimits: o.authorizationLimits } : {}),
  });
  const wire: WireAnswer[] = [];
  // The clients name the backend as a till does, by a DNS name its certificate carries: grpc-js
  // sends the target's host as the TLS server name, and Node warns at an IP address there.
  const byName = (address: string) => address.replace(/^127\.0\.0\.1:/, 'localhost:');
  const shopper = shopperClients(
    byName(backend.shopperAddress!),
    Buffer.from(seed.trust.backendTlsCa!),
    wire,
  );
  const credentialsFor = (terminalId: string) => {
    const t = readTerminalTls(seed.tlsDir, terminalId);
    return credentials.createSsl(t.ca, t.key, t.cert);
  };
  const main = clientsOver(byName(backend.address), credentialsFor('T-0001'), wire);
  const others: FixtureClients[] = [];
  const root = publicKeyFromRaw(Buffer.from(seed.trust.cardCompanyRoot, 'base64'));
  const cards = new Map<string, TestCard>();
  const select = storeQueries(backend.store);
  const f: StoreFixture = {
    dir,
    masterKey,
    seed,
    backend,
    wire,
    storeKind: postgresUrl ? 'postgres' : 'sqlite',
    storeSpec: postgresUrl ?? seed.dbPath,
    select: select.all,
    one: async <T>(text: string, ...params: unknown[]) => (await select.all<T>(text, ...params))[0],
    async count(table) {
      if (!/^[a-z_]+$/.test(table)) throw new Error(`count: ${JSON.stringify(table)} is not a table name`);
      return (await select.all<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))[0]!.n;
    },
    countReads(query) {
      const store = backend.store;
      const read = store.read;
      let calls = 0;
      store.read = <T>(fn: (tx: StoreTx) => Promise<T>) =>
        read.call(store, (tx) =>
          fn(
            new Proxy(tx, {
              get(t, key, receiver) {
                const value: unknown = Reflect.get(t, key, receiver);
                if (key !== query || typeof value !== 'function') return value;
                return (...args: unknown[]) => {
                  calls++;
                  return (value as (...a: unknown[]) => unknown).apply(t, args);
                };
              },
            }),
          ),
        ) as Promise<T>;
      return {
        get calls() {
          return calls;
        },
        reset: () => void (calls = 0),
        restore: () => void (store.read = read),
      };
    },
    async registry(fn) {
      const admin = await openRegistryAdmin(parseStoreSpec(f.storeSpec));
      try {
        return await fn(admin);
      } finally {
        await admin.close();
      }
    },
    challenge: main.challenge,
    authorize: main.authorize,
    settle: main.settle,
    settleWithCode: main.settleWithCode,
    getSettlement: main.getSettlement,
    shopper,
    shopperAddress: backend.shopperAddress!,
    refund: main.refund,
    voidSale: main.voidSale,
    closeBatch: main.closeBatch,
    listTransactions: main.listTransactions,
    direct: main.direct,
    credentialsFor,
    clientFor(creds) {
      const c = clientsOver(byName(backend.address), creds, wire);
      others.push(c);
      return c;
    },
    card(cardId) {
      let c = cards.get(cardId);
      if (!c) cards.set(cardId, (c = TestCard.fromFile(join(seed.cardsDir, `${cardId}.json`))));
      return c;
    },
    async authorizeCard(card, pin, terminalId = 'T-0001') {
      const ch = await f.challenge(terminalId);
      const pinKey: CertificateBody = verifyCertificate(ch.pinKeyCertificate, root, {
        role: 'pin-key',
        now: Date.now(),
      });
      const sealed = sealPin({
        pin,
        pan: card.p.pan,
        pinKey: pinKey.publicKey,
        pinKeyId: pinKey.subjectId,
        context: pinSealContext(ch.unpredictableNumber, terminalId),
      });
      const res = await f.authorize({
        terminalId,
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: sealed,
        card: card.cardData(ch.unpredictableNumber),
      });
      return { un: ch.unpredictableNumber, res };
    },
    async close() {
      main.close();
      shopper.close();
      for (const c of others) c.close();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return f;
}

/** A SELECT with `?` placeholders on the backend's own connection: SQLite's as it is, PostgreSQL's with `$n`. */
function storeQueries(store: SqliteBackendStore | PostgresBackendStore): {
  all<T>(text: string, ...params: unknown[]): Promise<T[]>;
} {
  if ('db' in store)
    return {
      all: async <T>(text: string, ...params: unknown[]) => store.db.prepare(text).all(...params) as T[],
    };
  const numbered = (text: string) => {
    let n = 0;
    return text.replace(/\?/g, () => `$${++n}`);
  };
  return {
    all: async <T>(text: string, ...params: unknown[]) =>
      (await store.sql.unsafe(numbered(text), params as never[])) as unknown as T[],
  };
}
