/**
 * Which database the backend and its admin tool use, said once: a SQLite file path (the default,
 * `<dir>/backend.sqlite`) or a PostgreSQL URL (`postgres://` or `postgresql://`, several hosts
 * allowed: `postgresql://user@db1:5432,db2:5432/bluetill?target_session_attrs=read-write`).
 * The spec comes from `--store`, else from $BLUETILL_STORE, else the data folder; anything else
 * (another URL scheme, a malformed host list, an empty value) is a StoreError naming the
 * problem, never the password. openRegistryAdmin and backendStoreOptions turn a spec into what
 * the commands and the servers open.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { SqliteRegistryAdmin } from './sqlite/registry-admin.sqlite';
import { migrate, openConnection } from './sqlite/open-database';
import { migratePostgres } from './postgres/migrate';
import { postgresErrorKind } from './postgres/postgres-errors';
import { PostgresRegistryAdmin } from './postgres/registry-admin.postgres';
import { PostgresBackendStore } from './postgres/backend-store.postgres';
import { SqliteBackendStore } from './sqlite/backend-store.sqlite';
import type { RegistryAdmin } from '../ports/registry-admin';

export const STORE_ENV = 'BLUETILL_STORE';
export const SQLITE_FILE = 'backend.sqlite';

export type StoreSpec =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'postgres';
      readonly url: string;
      readonly hosts: readonly { readonly host: string; readonly port: number }[];
      readonly database: string | undefined;
    };

export type StoreErrorCode =
  | 'store_spec_invalid'
  | 'store_spec_missing'
  /** The PostgreSQL server could not be reached (refused, timed out, shutting down). */
  | 'store_unreachable';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (where: string, why: string) => new StoreError('store_spec_invalid', `${where}: ${why}`);

/** `postgresql://user:secret@h/db` → `postgresql://user:***@h/db`: for messages and output. */
export function redactStoreUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/?#]*:)[^@/?#]*@/i, '$1***@');
}

/** A spec as the operator sees it: the file path, or the URL with its password hidden. */
export function describeStore(spec: StoreSpec): string {
  return spec.kind === 'sqlite' ? spec.path : redactStoreUrl(spec.url);
}

function parseHost(entry: string, where: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(entry);
  if (!m) throw invalid(where, `"${entry}" is not a host or host:port`);
  const port = m[3] === undefined ? 5432 : Number(m[3]);
  if (port < 1 || port > 65535) throw invalid(where, `port ${m[3]} is not 1-65535`);
  return { host: m[1] ?? m[2]!, port };
}

/**
 * Parses one spec. `where` names its source in errors (`--store`, `BLUETILL_STORE`). A value with
 * a scheme must be postgres:// or postgresql://; one without is a SQLite file path.
 */
export function parseStoreSpec(value: string, where = '--store'): StoreSpec {
  if (value.trim() === '') throw invalid(where, 'empty: give a SQLite file path or a postgres:// URL');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value);
  if (!scheme) {
    if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(value))
      throw invalid(
        where,
        `"${redactStoreUrl(value)}" looks like a URL without "//": give postgres://… or postgresql://…, or ./${value} for a file so named`,
      );
    return { kind: 'sqlite', path: value };
  }
  const name = scheme[1]!.toLowerCase();
  if (name !== 'postgres' && name !== 'postgresql')
    throw invalid(
      where,
      `${name}:// is not a store: give a SQLite file path or a postgres:// / postgresql:// URL`,
    );
  const rest = value.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  const at = authority.lastIndexOf('@');
  const hostList = at < 0 ? authority : authority.slice(at + 1);
  if (hostList === '') throw invalid(redactStoreUrl(value), 'no host');
  const hosts = hostList.split(',').map((h) => parseHost(h, `${where} ${redactStoreUrl(value)}`));
  const path = /^\/([^?#]*)/.exec(tail)?.[1];
  if (path !== undefined && path.includes('/'))
    throw invalid(`${where} ${redactStoreUrl(value)}`, 'the database name cannot contain "/"');
  return { kind: 'postgres', url: value, hosts, database: path === '' ? undefined : path };
}

/**
 * The store a command uses: `--store`, else $BLUETILL_STORE, else `<dir>/backend.sqlite`; with
 * none of the three, StoreError('store_spec_missing').
 */
export function resolveStoreSpec(o: {
  readonly store?: string | undefined;
  readonly dir?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}): StoreSpec {
  if (o.store !== undefined) return parseStoreSpec(o.store, '--store');
  const fromEnv = (o.env ?? process.env)[STORE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return parseStoreSpec(fromEnv, STORE_ENV);
  if (o.dir !== undefined) return { kind: 'sqlite', path: join(o.dir, SQLITE_FILE) };
  throw new StoreError(
    'store_spec_missing',
    `no store: give --dir DIR (its ${SQLITE_FILE}), --store PATH|URL, or set ${STORE_ENV}`,
  );
}

/** A PostgreSQL server that cannot be reached, said once with the store's (redacted) URL. */
async function reaching<T>(spec: StoreSpec, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (spec.kind === 'postgres' && postgresErrorKind(e) === 'connection')
      throw new StoreError(
        'store_unreachable',
        `cannot reach ${describeStore(spec)}: ${(e as Error).message}`,
      );
    throw e;
  }
}

/** The registry admin port over the spec's database (migrated to this release's schema). */
export async function openRegistryAdmin(spec: StoreSpec): Promise<RegistryAdmin> {
  return spec.kind === 'sqlite'
    ? SqliteRegistryAdmin.open(spec.path)
    : reaching(spec, () => PostgresRegistryAdmin.open(spec.url));
}

export interface StoreMigration {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

/**
 * Migrates the spec's database to `to` (default: the newest): SQLite with its runner (a missing
 * file is created), PostgreSQL with migratePostgres. Never goes back; a database newer than this
 * release is refused (code unknown_version), a target past the newest too (bad_target).
 */
export async function migrateStore(spec: StoreSpec, to?: number): Promise<StoreMigration> {
  if (spec.kind === 'sqlite') {
    const folder = dirname(spec.path);
    if (!existsSync(folder) || !statSync(folder).isDirectory())
      throw new StoreError('store_spec_invalid', `${spec.path}: the folder ${folder} does not exist`);
    const db = openConnection(spec.path);
    try {
      return migrate(db, to);
    } finally {
      db.close();
    }
  }
  const sql = postgres(spec.url, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
  try {
    return await reaching(spec, () => migratePostgres(sql, to));
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** What startBackend needs to open the servers' BackendStore for a spec: a SQLite file or a PostgreSQL URL. */
export function backendStoreOptions(
  spec: StoreSpec,
):
  | { readonly dbPath: string; readonly postgresUrl?: undefined }
  | { readonly postgresUrl: string; readonly dbPath?: undefined } {
  return spec.kind === 'sqlite' ? { dbPath: spec.path } : { postgresUrl: spec.url };
}

/** The servers' store for a spec, opened (and migrated) for one command: SQLite's or PostgreSQL's. */
export async function openBackendStore(spec: StoreSpec): Promise<SqliteBackendStore | PostgresBackendStore> {
  if (spec.kind === 'sqlite') return new SqliteBackendStore(spec.path);
  return reaching(spec, () => PostgresBackendStore.open(spec.url));
}
