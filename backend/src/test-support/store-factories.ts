/**
 * The stores the port's tests run over, one factory each: SQLite on a file, and PostgreSQL 15 on
 * a throwaway server (one server per test file, started on first use; one migrated database per
 * open). Each open seeds the demo registry (merchant M-0001, terminal T-0001 and any extra
 * terminals, the demo cards, keys under a fresh master key): SQLite by seedDemo itself,
 * PostgreSQL by copying seedDemo's registry rows in plain SQL.
 *
 * @example
 *   describe.each(storeFactories)('…: $name', (factory) => {
 *     let s: OpenedStore;
 *     beforeAll(async () => { s = await factory.open(); });
 *     afterAll(() => s.close());
 *   });
 *   afterAll(stopStoreServers);   // once per file, at the top level
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedDemo, type SeededBackend } from '../admin/demo-seed';
import { MasterKey } from '../adapters/master-key';
import { SoftwareKeyStore } from '../adapters/key-store.file';
import { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';
import { PostgresBackendStore } from '../adapters/postgres/backend-store.postgres';
import type { BackendStore } from '../ports/backend-store';
import { startPostgresServer, type PostgresServer } from './postgres-server';
import { copyRegistryToPostgres } from './postgres-registry';

export interface OpenedStore {
  readonly store: BackendStore;
  /** The demo's key store (PAN hashes, PIN verifiers and receipt keys match the registry). */
  readonly keys: SoftwareKeyStore;
  readonly seed: SeededBackend;
  /** Counts rows of a table (tests only: the store's own connection, outside any commit). */
  count(table: string): Promise<number>;
  /** Another store over the same data, as a second backend node would open it; the caller closes it. */
  peer(): Promise<BackendStore>;
  /** A plain SELECT for what the port has no query for (tests only); `?` placeholders on both stores. */
  select<T>(text: string, ...params: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export interface StoreFactory {
  readonly name: 'sqlite' | 'postgres';
  open(o?: { extraTerminals?: readonly string[] }): Promise<OpenedStore>;
}

async function demoSeed(extraTerminals: readonly string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-store-'));
  const masterKey = MasterKey.generate();
  const seed = await seedDemo(dir, extraTerminals, [], { masterKey });
  return {
    seed,
    keys: SoftwareKeyStore.fromFile(seed.keysPath, masterKey),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

let postgresServer: Promise<PostgresServer> | undefined;
let postgresDatabases = 0;

/**
 * A fresh, empty database on this file's PostgreSQL server (started on first use, shared by the
 * store factories and the backend fixture), named `prefix_<pid>_<n>`.
 */
export async function createTestDatabase(prefix: string): Promise<string> {
  postgresServer ??= startPostgresServer();
  const server = await postgresServer;
  return server.createDatabase(`${prefix}_${process.pid}_${++postgresDatabases}`);
}

/** Stops this file's PostgreSQL server, if a factory or a fixture started one. */
export async function stopStoreServers(): Promise<void> {
  const server = postgresServer;
  postgresServer = undefined;
  await (await server)?.stop();
}

const TABLE = /^[a-z_]+$/;

export const sqliteStoreFactory: StoreFactory = {
  name: 'sqlite',
  async open(o = {}) {
    const { seed, keys, remove } = await demoSeed(o.extraTerminals ?? []);
    const store = new SqliteBackendStore(seed.dbPath);
    return {
      store,
      keys,
      seed,
      peer: async () => new SqliteBackendStore(seed.dbPath),
      count: async (table) => {
        if (!TABLE.test(table)) throw new Error(`table name ${table}`);
        return (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
      },
      select: async <T>(text: string, ...params: unknown[]) => store.db.prepare(text).all(...params) as T[],
      close: async () => {
        store.close();
        remove();
      },
    };
  },
};

export const postgresStoreFactory: StoreFactory = {
  name: 'postgres',
  async open(o = {}) {
    const { seed, keys, remove } = await demoSeed(o.extraTerminals ?? []);
    const url = await createTestDatabase('store');
    const store = await PostgresBackendStore.open(url);
    await copyRegistryToPostgres(seed.dbPath, store.sql);
    return {
      store,
      keys,
      seed,
      peer: () => PostgresBackendStore.open(url),
      count: async (table) => {
        if (!TABLE.test(table)) throw new Error(`table name ${table}`);
        return (await store.sql.unsafe<{ n: number }[]>(`SELECT COUNT(*) AS n FROM ${table}`))[0]!.n;
      },
      select: async <T>(text: string, ...params: unknown[]) => {
        let n = 0;
        return (await store.sql.unsafe(
          text.replace(/\?/g, () => `$${++n}`),
          params as never[],
        )) as unknown as T[];
      },
      close: async () => {
        await store.close();
        remove();
      },
    };
  },
};

export const storeFactories: readonly StoreFactory[] = [sqliteStoreFactory, postgresStoreFactory];
