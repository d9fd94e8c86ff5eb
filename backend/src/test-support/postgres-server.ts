import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  renameSync,
  rmSync,
  chownSync,
  chmodSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres, { type Sql } from 'postgres';

/**
 * A throwaway PostgreSQL 15 server for one test file: `initdb` into a fresh directory under the
 * system temp dir, `postgres` on a free loopback port (listening on 127.0.0.1, and on the addresses
 * `listen` adds for the networks `allow` lets in; its Unix socket in the same directory), stopped and deleted by `stop()`. PostgreSQL refuses to run as root, so
 * when the tests run as root the server runs as the unprivileged `postgres` user (created by the
 * Debian package). It fails loudly, never skips: a missing PostgreSQL is a setup error
 * (`make setup` installs it).
 *
 * Durability is switched off (`fsync=off`, `synchronous_commit=off`) unless `durable`: these servers hold test data
 * only. The cluster (`postgres-cluster.ts`) is the one that proves durability.
 *
 * @example
 *   const pg = await startPostgresServer();
 *   const url = await pg.createDatabase('m0003');   // postgresql://bluetill@127.0.0.1:PORT/m0003
 *   …
 *   await pg.stop();
 */
export interface PostgresServer {
  readonly port: number;
  /** URL of the `postgres` maintenance database, superuser `bluetill`, no password (trust on loopback). */
  readonly url: string;
  /** Creates an empty database (or a copy of `template`, a database nobody is connected to) and returns its URL. */
  createDatabase(name: string, template?: string): Promise<string>;
  /** Milliseconds from the call to a server accepting connections (initdb included). */
  readonly startupMs: number;
  stop(): Promise<void>;
}

export interface PostgresServerOptions {
  /** Keep PostgreSQL's durability (fsync, synchronous commit, full-page writes), as a benchmark against SQLite's FULL sync needs. Default off. */
  readonly durable?: boolean;
  /**
   * More addresses to listen on beside 127.0.0.1 (e.g. the root end of a veth pair to a test
   * host in a network namespace). Each must be an address of this machine when the server starts.
   */
  readonly listen?: readonly string[];
  /** Networks (CIDR, e.g. 10.77.0.0/16) whose clients are let in over TCP (trust, as loopback is). */
  readonly allow?: readonly string[];
}

export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';
export const POSTGRES_SUPERUSER = 'bluetill';

export class PostgresServerError extends Error {
  constructor(
    readonly code: 'not_installed' | 'no_user' | 'initdb_failed' | 'start_failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PostgresServerError';
  }
}

/** The uid/gid PostgreSQL's processes run as: ours when we are not root, else the `postgres` user's. */
export function postgresRunAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch (cause) {
    throw new PostgresServerError(
      'no_user',
      'running as root and there is no "postgres" user to run PostgreSQL as: run make setup (the postgresql-15 package creates it)',
      { cause },
    );
  }
}

export function assertPostgresInstalled(): void {
  for (const tool of ['initdb', 'postgres', 'pg_ctl']) {
    if (!existsSync(join(POSTGRES_BIN, tool)))
      throw new PostgresServerError(
        'not_installed',
        `${join(POSTGRES_BIN, tool)} is missing: run make setup (Debian package postgresql-15)`,
      );
  }
}

/** A loopback TCP port that was free a moment ago (the caller retries if it is taken by then). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(
  cmd: string,
  args: string[],
  runAs: { uid: number; gid: number } | undefined,
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      ...runAs,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, output }));
  });
}

/** Makes a fresh directory under the temp dir that the server's user owns. */
export function makeServerDir(prefix: string): string {
  const runAs = postgresRunAs();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  if (runAs) chownSync(dir, runAs.uid, runAs.gid);
  return dir;
}

// A test process that dies without stop(): its servers get an immediate shutdown, their directories go.
const live = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [child, dir] of live) {
    child.kill('SIGQUIT');
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * initdb is most of a server's start (~1 s of CPU): run it once per machine into a template
 * directory (made atomically: built under a temporary name, then renamed) and copy that.
 */
async function templateDir(runAs: { uid: number; gid: number } | undefined): Promise<string> {
  const template = join(tmpdir(), `bluetill-pg15-template-${runAs?.uid ?? process.getuid?.() ?? 'u'}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const building = makeServerDir('bluetill-pg-initdb-');
  const data = join(building, 'data');
  const init = await run(
    join(POSTGRES_BIN, 'initdb'),
    [
      '-D',
      data,
      '-U',
      POSTGRES_SUPERUSER,
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ],
    runAs,
  );
  if (init.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new PostgresServerError(
      'initdb_failed',
      `initdb failed (exit ${init.status}): ${init.output.slice(-2000)}`,
    );
  }
  // Loopback only; nothing on the host's other interfaces.
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
  try {
    renameSync(data, template);
  } catch (err) {
    // Another test file built it first: use theirs.
    if (!existsSync(join(template, 'PG_VERSION'))) throw err;
  }
  rmSync(building, { recursive: true, force: true });
  return template;
}

async function startOnce(started: number, o: PostgresServerOptions): Promise<PostgresServer> {
  const runAs = postgresRunAs();
  const template = await templateDir(runAs);
  const dir = makeServerDir('bluetill-pg-');
  const data = join(dir, 'data');
  const copy = await run('cp', ['-a', template, data], runAs);
  if (copy.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new PostgresServerError(
      'initdb_failed',
      `copying the initdb template failed: ${copy.output.slice(-2000)}`,
    );
  }
  const extra = [...(o.listen ?? []), ...(o.allow ?? [])];
  const bad = extra.find((a) => !/^[0-9.]+(\/\d{1,2})?$/.test(a));
  if (bad !== undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new TypeError(`postgres listen/allow ${JSON.stringify(bad)}: an IPv4 address or CIDR`);
  }
  if (o.allow?.length) {
    const hba = join(data, 'pg_hba.conf');
    appendFileSync(hba, o.allow.map((net) => `host all all ${net} trust\n`).join(''));
    if (runAs) chownSync(hba, runAs.uid, runAs.gid);
  }
  const port = await freePort();
  const child = spawn(
    join(POSTGRES_BIN, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      `listen_addresses=${['127.0.0.1', ...(o.listen ?? [])].join(',')}`,
      '-c',
      `unix_socket_directories=${dir}`,
      ...(o.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      '-c',
      'max_connections=200',
      '-c',
      'shared_buffers=32MB',
      '-c',
      'logging_collector=off',
    ],
    { ...runAs, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
  );
  live.set(child, dir);
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 20_000);
    child.stderr!.on('data', (b: Buffer) => {
      log += b.toString();
      if (log.length > 20_000) log = log.slice(-10_000);
      if (log.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    child.kill('SIGKILL');
    await exited;
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
    throw new PostgresServerError(
      'start_failed',
      `postgres did not start on 127.0.0.1:${port}: ${log.slice(-2000)}`,
    );
  }
  const url = `postgresql://${POSTGRES_SUPERUSER}@127.0.0.1:${port}/postgres`;
  const startupMs = Date.now() - started;
  return {
    port,
    url,
    startupMs,
    async createDatabase(name: string, template?: string) {
      for (const n of [name, template ?? 'template0']) {
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(n))
          throw new Error(`database name ${JSON.stringify(n)}: lower-case letters, digits and _ only`);
      }
      const admin = connectPostgres(url, { max: 1 });
      try {
        await admin.unsafe(
          `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''} STRATEGY FILE_COPY`,
        );
      } finally {
        await admin.end();
      }
      return `postgresql://${POSTGRES_SUPERUSER}@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT'); // fast shutdown: roll back sessions, checkpoint, exit
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      live.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a server; retries once if the free port was taken between choosing and binding it. */
export async function startPostgresServer(o: PostgresServerOptions = {}): Promise<PostgresServer> {
  assertPostgresInstalled();
  const started = Date.now();
  try {
    return await startOnce(started, o);
  } catch (err) {
    if (
      err instanceof PostgresServerError &&
      err.code === 'start_failed' &&
      /could not bind|Address already in use/.test(err.message)
    )
      return startOnce(started, o);
    throw err;
  }
}

/** A driver connection for tests: notices dropped, bigint columns as `bigint`, a small pool. */
export function connectPostgres(url: string, options: { max?: number } = {}): Sql {
  return postgres(url, {
    max: options.max ?? 4,
    onnotice: () => undefined,
    types: { bigint: postgres.BigInt },
    connect_timeout: 10,
  });
}
