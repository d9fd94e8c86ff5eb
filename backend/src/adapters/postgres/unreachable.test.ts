/**
 * A database that goes silent (a dead link, a firewall's DROP: no reset, no answer), on a real
 * PostgreSQL 15 server behind a proxy that swallows every byte (test-support/silent-proxy.ts):
 *
 * - the store's queries are bounded: a commit and a read in flight fail within the query timeout
 *   plus the cancel timeout (CommitError commit_failed / store_unavailable), never waiting for TCP;
 * - the probe says unreachable within its bound, and reachable again once the database answers,
 *   and the store commits again;
 * - a node cut off inside a transaction holds the card's row lock no longer than the server's
 *   idle-in-transaction timeout: another node then locks the card, and nothing of the cut-off
 *   transaction is in the database;
 * - startBackend over a silent database: health NOT_SERVING and calls refused at once with
 *   UNAVAILABLE and the draining trailer (a till sends them to another node); SERVING and
 *   answered again after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { AuthorizationClient, DRAINING_TRAILER_KEY, health } from '@bluetill/protocol';
import { seedDemo } from '../../admin/demo-seed';
import { MasterKey } from '../master-key';
import { CommitError } from '../../ports/backend-store';
import { startPostgresServer, type PostgresServer } from '../../test-support/postgres-server';
import { copyRegistryToPostgres } from '../../test-support/postgres-registry';
import { SilentProxy } from '../../test-support/silent-proxy';
import { startBackend } from '../../main';
import { createLogger } from '../logger';
import { readTerminalTls } from '../tls-files';
import { PostgresBackendStore } from './backend-store.postgres';

let server: PostgresServer;
let seedDir: string;
let seed: Awaited<ReturnType<typeof seedDemo>>;
const masterKey = MasterKey.generate();
let databases = 0;
const proxies: SilentProxy[] = [];

beforeAll(async () => {
  server = await startPostgresServer();
  seedDir = mkdtempSync(join(tmpdir(), 'bluetill-pg-silent-'));
  seed = await seedDemo(seedDir, [], [], { masterKey });
}, 60_000);
afterAll(async () => {
  for (const p of proxies) await p.close();
  await server?.stop();
  rmSync(seedDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A migrated database with the demo registry; its URL direct and through a silent proxy. */
async function database(): Promise<{ direct: string; proxied: string; proxy: SilentProxy }> {
  const direct = await server.createDatabase(`silent_${++databases}`);
  const seeding = await PostgresBackendStore.open(direct);
  await copyRegistryToPostgres(seed.dbPath, seeding.sql);
  await seeding.close();
  const proxy = await SilentProxy.start(server.port);
  proxies.push(proxy);
  return { direct, proxied: direct.replace(`:${server.port}/`, `:${proxy.port}/`), proxy };
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(25);
  }
  return Date.now() - t0;
}

const settled = <T>(p: Promise<T>) =>
  p.then(
    (v) => ({ ok: true as const, v, at: Date.now() }),
    (e: unknown) => ({ ok: false as const, e, at: Date.now() }),
  );

describe('PostgresBackendStore over a database that goes silent', () => {
  it('fails a commit and a read in flight within the bounds, the probe says unreachable then reachable, and commits go on', async () => {
    const { proxied, proxy } = await database();
    const store = await PostgresBackendStore.open(proxied, {
      queryTimeoutSeconds: 1,
      cancelTimeoutSeconds: 0.5,
      queueTimeoutSeconds: 1,
      probe: { intervalMs: 200, timeoutMs: 1000, failures: 2 },
    });
    const changes: Array<{ reachable: boolean; cause?: string }> = [];
    store.onReachability((reachable, cause) => changes.push({ reachable, ...(cause ? { cause } : {}) }));
    try {
      expect(store.reachable).toBe(true);
      await store.commit(async (tx) => tx.findCardById('card-alice'));
      // A commit that is inside its transaction when the network dies, and a read.
      let inside!: () => void;
      const entered = new Promise<void>((r) => (inside = r));
      const commit = settled(
        store.commit(async (tx) => {
          await tx.findCardById('card-alice');
          inside();
          await sleep(100);
          return tx.findCardById('card-bob');
        }),
      );
      await entered;
      const t0 = Date.now();
      proxy.silence();
      const read = settled(store.read((tx) => tx.findTerminal('T-0001')));
      const [c, r] = await Promise.all([commit, read]);
      expect(c.ok).toBe(false);
      expect(!c.ok && c.e).toBeInstanceOf(CommitError);
      expect(!c.ok && (c.e as CommitError).code).toBe('commit_failed');
      expect(r.ok).toBe(false);
      expect(!r.ok && (r.e as CommitError).code).toBe('store_unavailable');
      // query timeout 1 s + cancel timeout 0.5 s, with room for a loaded machine; TCP would take minutes.
      expect(c.at - t0).toBeLessThan(4_000);
      expect(r.at - t0).toBeLessThan(4_000);
      await until('unreachable', () => !store.reachable, 5_000);
      expect(changes[0]).toMatchObject({ reachable: false });
      expect(changes[0]!.cause).toBeTruthy();

      proxy.speak();
      await until('reachable again', () => store.reachable, 5_000);
      expect(changes.map((x) => x.reachable)).toEqual([false, true]);
      // A new pool once it answers: no waiting on connections attempted while it was silent
      // (stuck until their 10 s connect timeout), nor on the dead ones.
      let card: unknown;
      await until(
        'a commit',
        async () => {
          try {
            card = await store.commit(async (tx) => tx.findCardById('card-alice'));
            return true;
          } catch (e) {
            if (!(e instanceof CommitError)) throw e;
            return false;
          }
        },
        3_000,
      );
      expect(card).toMatchObject({ id: 'card-alice' });
    } finally {
      proxy.speak();
      await store.close();
    }
  }, 30_000);

  it('a node cut off inside a transaction holds the card row lock no longer than the idle-in-transaction timeout, and nothing of it commits', async () => {
    const { direct, proxied, proxy } = await database();
    const cutOff = await PostgresBackendStore.open(proxied, {
      queryTimeoutSeconds: 10,
      cancelTimeoutSeconds: 10,
      idleInTransactionTimeoutMs: 1_000,
    });
    const other = await PostgresBackendStore.open(direct, { queryTimeoutSeconds: 10 });
    try {
      let locked!: () => void;
      const holding = new Promise<void>((r) => (locked = r));
      const cut = settled(
        cutOff.commit(async (tx) => {
          const card = await tx.findCardById('card-alice'); // FOR UPDATE: the card row's lock
          await tx.setPinTries('card-alice', (card!.pinTries ?? 0) + 1);
          locked();
          await sleep(300);
          return tx.findCardById('card-bob');
        }),
      );
      await holding;
      const before = (await other.read((tx) => tx.findCardById('card-alice')))!.pinTries;
      proxy.silence();
      // The other node waits for the row lock until the server ends the idle session (1 s).
      const t0 = Date.now();
      const after = await other.commit(async (tx) => (await tx.findCardById('card-alice'))!.pinTries);
      const waited = Date.now() - t0;
      expect(waited).toBeLessThan(5_000);
      expect(after).toBe(before);
      proxy.speak();
      const c = await cut;
      expect(c.ok).toBe(false);
    } finally {
      proxy.speak();
      await other.close();
      await cutOff.close();
    }
  }, 30_000);
});

describe.each([
  { where: 'on the gRPC thread', worker: false },
  { where: 'on the use-case worker', worker: true },
])('startBackend over a database that goes silent, use cases $where', ({ worker }) => {
  it('health NOT_SERVING and calls refused at once (UNAVAILABLE, draining trailer) while it is silent; SERVING and answered after', async () => {
    const { proxied, proxy } = await database();
    const backend = await startBackend({
      postgresUrl: proxied,
      keysPath: seed.keysPath,
      masterKey,
      logger: createLogger('backend', 'silent'),
      shopper: false,
      worker,
      storeProbe: { intervalMs: 200, timeoutMs: 1000, failures: 2 },
    });
    const t = readTerminalTls(seed.tlsDir, 'T-0001');
    const address = backend.address.replace(/^127\.0\.0\.1:/, 'localhost:');
    const client = new AuthorizationClient(address, credentials.createSsl(t.ca, t.key, t.cert));
    const healthClient = new health.HealthClient(address, credentials.createSsl(t.ca, t.key, t.cert));
    const check = () =>
      new Promise<string>((ok, fail) =>
        healthClient.check({ service: '' }, new Metadata(), { deadline: Date.now() + 2_000 }, (e, r) =>
          e ? fail(e) : ok(health.HealthCheckResponse_ServingStatus[r!.status] ?? String(r!.status)),
        ),
      );
    const challenge = () =>
      new Promise<{ ms: number; err?: ServiceError }>((ok) => {
        const t0 = Date.now();
        client.challenge({ terminalId: 'T-0001' }, new Metadata(), { deadline: Date.now() + 3_000 }, (e) =>
          ok({ ms: Date.now() - t0, ...(e ? { err: e } : {}) }),
        );
      });
    try {
      expect(await check()).toBe('SERVING');
      expect((await challenge()).err).toBeUndefined();
      proxy.silence();
      // Until the probe has noticed, a health check may wait on the store (its caller check) and time out.
      await until(
        'NOT_SERVING',
        async () => (await check().catch(() => 'no answer')) === 'NOT_SERVING',
        8_000,
      );
      const t0 = Date.now();
      expect(await check()).toBe('NOT_SERVING');
      expect(Date.now() - t0).toBeLessThan(500);
      const refused = await challenge();
      expect(refused.err?.code).toBe(status.UNAVAILABLE);
      expect(refused.err?.details).toMatch(/cannot reach its database/);
      expect(String(refused.err?.metadata.get(DRAINING_TRAILER_KEY)[0])).toBe('1');
      expect(refused.ms).toBeLessThan(500);
      proxy.speak();
      await until('SERVING', async () => (await check().catch(() => 'no answer')) === 'SERVING', 5_000);
      await until('a Challenge answered', async () => (await challenge()).err === undefined, 4_000);
    } finally {
      proxy.speak();
      client.close();
      healthClient.close();
      await backend.close();
    }
  }, 40_000);
});
