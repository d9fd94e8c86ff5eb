/**
 * `--store` and `migrate` as processes, against a real PostgreSQL 15 server (test-support) and
 * real SQLite files: migrate prints from / to / applied and stops at --to; the demo seed and the
 * registry commands write to the PostgreSQL store through the admin port (no backend.sqlite
 * appears), also with the store taken from $BLUETILL_STORE; bad specs, an unreachable server, a
 * target past the newest, a database newer than this release and a second seed into a filled
 * store are refused with exit 2 and a code; `serve` over PostgreSQL answers health and drains on
 * SIGTERM.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { credentials } from '@grpc/grpc-js';
import { health } from '@bluetill/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey } from '../adapters/master-key';
import { luhnCheckDigit } from '../admin/card-validation';
import { migrations } from '../adapters/sqlite/migrations';
import { postgresMigrations } from '../adapters/postgres/migrations/index';
import {
  connectPostgres,
  freePort,
  startPostgresServer,
  type PostgresServer,
} from '../test-support/postgres-server';

const cli = resolve(import.meta.dirname, '..', '..', 'bin', 'bluetill-backend.mjs');
const root = mkdtempSync(join(tmpdir(), 'bluetill-store-cli-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  BLUETILL_MASTER_KEY: MasterKey.generate().toBase64(),
  BLUETILL_CARD_PIN: '4455',
};
delete env.BLUETILL_STORE;

function run(
  args: string[],
  extra: NodeJS.ProcessEnv = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...env, ...extra }, timeout: 60_000 },
      (error, out, err) => {
        done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out, err });
      },
    );
  });
}
const pgNewest = postgresMigrations[postgresMigrations.length - 1]!.version;

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgresServer();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('bluetill-backend migrate', () => {
  it('PostgreSQL: --to 3, then the rest, then nothing; from / to / applied printed, versions recorded', async () => {
    const url = await pg.createDatabase('migrate_cli');
    const first = await run(['migrate', '--store', url, '--to', '3']);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(
      /schema version 0 → 3; applied 0001-create-schema, 0002-create-terminal-certificates, 0003-create-batches-and-adjustments/,
    );
    const rest = await run(['migrate', '--store', url]);
    expect(rest.code, rest.err).toBe(0);
    expect(rest.out).toMatch(
      new RegExp(`schema version 3 → ${pgNewest}; applied 0004-.*0008-add-ledger-invariants`),
    );
    const again = await run(['migrate', '--store', url]);
    expect(again.out).toMatch(new RegExp(`schema version ${pgNewest} → ${pgNewest}; nothing to apply`));
    const sql = connectPostgres(url, { max: 1 });
    try {
      expect(await sql`SELECT count(*)::int AS n, max(version) AS v FROM schema_migrations`).toEqual([
        { n: postgresMigrations.length, v: pgNewest },
      ]);
    } finally {
      await sql.end();
    }
    const past = await run(['migrate', '--store', url, '--to', String(pgNewest + 1)]);
    expect([past.code, past.err]).toEqual([2, expect.stringMatching(/bad_target: migration target/)]);
  }, 60_000);

  it('SQLite: a new file to --to 4, then to the newest; a database newer than this release is refused untouched', async () => {
    const path = join(root, 'migrate.sqlite');
    const first = await run(['migrate', '--store', path, '--to', '4']);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(
      /schema version 0 → 4; applied 0001-create-schema, .*0004-add-authorization-cvm$/m,
    );
    const version = () => {
      const db = new Database(path, { readonly: true });
      try {
        return db.pragma('user_version', { simple: true });
      } finally {
        db.close();
      }
    };
    expect(version()).toBe(4);
    const rest = await run(['migrate', '--store', path]);
    expect(rest.out).toMatch(new RegExp(`schema version 4 → ${migrations.length}; applied 0005-`));
    expect(version()).toBe(migrations.length);
    const db = new Database(path);
    db.pragma('user_version = 42');
    db.close();
    const newer = await run(['migrate', '--store', path]);
    expect([newer.code, newer.err]).toEqual([
      2,
      expect.stringMatching(/unknown_version: .*schema version 42/),
    ]);
    expect(version()).toBe(42);
  }, 60_000);

  it('refuses a spec that is no store, a server nobody listens on, and no store at all (exit 2, a code)', async () => {
    const mysql = await run(['migrate', '--store', 'mysql://root:pw@db/bluetill']);
    expect([mysql.code, mysql.err]).toEqual([
      2,
      expect.stringMatching(/store_spec_invalid: --store: mysql:\/\/ is not a store/),
    ]);
    const port = await freePort();
    const nobody = await run(['migrate', '--store', `postgresql://bluetill:topsecret@127.0.0.1:${port}/x`]);
    expect([nobody.code, nobody.err]).toEqual([
      2,
      expect.stringMatching(
        new RegExp(
          `store_unreachable: cannot reach postgresql://bluetill:\\*\\*\\*@127\\.0\\.0\\.1:${port}/x`,
        ),
      ),
    ]);
    expect(nobody.err).not.toContain('topsecret');
    const noFolder = await run(['migrate', '--dir', join(root, 'no-such-folder')]);
    expect([noFolder.code, noFolder.err]).toEqual([
      2,
      expect.stringMatching(
        /store_spec_invalid: .*no-such-folder\/backend\.sqlite: the folder .* does not exist/,
      ),
    ]);
    const none = await run(['migrate']);
    expect([none.code, none.err]).toEqual([2, expect.stringMatching(/store_spec_missing: no store/)]);
    const env = await run(['merchant', 'list'], { BLUETILL_STORE: 'postgres:db/x' });
    expect([env.code, env.err]).toEqual([2, expect.stringMatching(/BLUETILL_STORE: .*without "\/\/"/)]);
  }, 60_000);
});

describe('bluetill-backend --store postgresql://…: seed and the registry commands through the admin port', () => {
  let url: string;
  const dir = join(root, 'pg-company');
  beforeAll(async () => {
    url = await pg.createDatabase('company');
  });

  it('seed writes the registry to PostgreSQL (no backend.sqlite); a second seed into the filled store is refused before any key is written', async () => {
    const seeded = await run(['seed', '--dir', dir, '--store', url]);
    expect(seeded.code, seeded.err).toBe(0);
    expect(seeded.out).toMatch(/registry in postgresql:\/\/bluetill@127\.0\.0\.1:\d+\/company/);
    expect(existsSync(join(dir, 'keys.json'))).toBe(true);
    expect(existsSync(join(dir, 'backend.sqlite'))).toBe(false);
    const sql = connectPostgres(url, { max: 1 });
    try {
      const [counts] = await sql`SELECT (SELECT count(*)::int FROM cards) AS cards,
        (SELECT count(*)::int FROM terminal_certificates) AS certs, (SELECT count(*)::int FROM merchant_cards) AS mcards`;
      expect(counts).toEqual({ cards: 6, certs: 1, mcards: 3 });
    } finally {
      await sql.end();
    }
    const other = join(root, 'pg-company-2');
    const again = await run(['seed', '--dir', other, '--store', url]);
    expect([again.code, again.err]).toEqual([
      2,
      expect.stringMatching(/already_seeded: .*a registry in postgresql:.*6 card\(s\)/),
    ]);
    expect(existsSync(join(other, 'keys.json'))).toBe(false);
  }, 90_000);

  it('merchant add, terminal add, issue-cert, card issue, block: all land in PostgreSQL; list and show read it back (also via BLUETILL_STORE, no --dir)', async () => {
    const added = await run([
      'merchant',
      'add',
      '--store',
      url,
      '--id',
      'M-0200',
      '--name',
      'Deli',
      '--currency',
      'SEK',
    ]);
    expect(added.code, added.err).toBe(0);
    const dup = await run(['merchant', 'add', '--store', url, '--id', 'M-0200', '--name', 'Deli']);
    expect([dup.code, dup.err]).toEqual([2, expect.stringMatching(/merchant M-0200 already exists/)]);
    expect(
      (await run(['terminal', 'add', '--store', url, '--id', 'T-0200', '--merchant', 'M-0200'])).code,
    ).toBe(0);
    const cert = await run(['terminal', 'issue-cert', '--dir', dir, '--store', url, '--id', 'T-0200']);
    expect(cert.code, cert.err).toBe(0);
    expect(existsSync(join(dir, 'tls', 'terminal-T-0200.pem'))).toBe(true);
    const body = '679999050000000001';
    const number = body + luhnCheckDigit(body);
    const out = join(root, 'card-pg.json');
    const issued = await run([
      'card',
      'issue',
      '--dir',
      dir,
      '--store',
      url,
      '--id',
      'card-pg',
      '--pan',
      number,
      '--expiry',
      `${String((new Date().getUTCFullYear() + 3) % 100).padStart(2, '0')}12`,
      '--name',
      'PG SHOPPER',
      '--currency',
      'SEK',
      '--out',
      out,
    ]);
    expect(issued.code, issued.err).toBe(0);
    expect(existsSync(out)).toBe(true);
    const out2 = join(root, 'card-pg-2.json');
    const twice = await run([
      'card',
      'issue',
      '--dir',
      dir,
      '--store',
      url,
      '--id',
      'card-pg-2',
      '--pan',
      number,
      '--expiry',
      '2912',
      '--name',
      'PG SHOPPER',
      '--out',
      out2,
    ]);
    expect([twice.code, twice.err]).toEqual([2, expect.stringMatching(/duplicate: .*registered already/)]);
    expect(existsSync(out2)).toBe(false);
    const blocked = await run(['card', 'block', '--store', url, '--id', 'card-pg', '--reason', 'stolen']);
    expect(blocked.code, blocked.err).toBe(0);

    const viaEnv = { BLUETILL_STORE: url };
    const show = await run(['card', 'show', '--id', 'card-pg'], viaEnv);
    expect(show.code, show.err).toBe(0);
    expect(show.out).toMatch(/number {6}679999\*+\d{4}/);
    expect(show.out).toMatch(/status {6}stolen/);
    expect(show.out).not.toContain(number);
    expect((await run(['merchant', 'list'], viaEnv)).out).toMatch(
      /M-0200 {2}Deli {2}SEK {2}active {2}1 terminal/,
    );
    expect((await run(['terminal', 'list', '--merchant', 'M-0200'], viaEnv)).out).toMatch(
      /T-0200 {2}M-0200 {2}active {2}1 certificate\(s\)/,
    );
    const revoked = await run(['terminal', 'revoke', '--dir', dir, '--id', 'T-0200'], viaEnv);
    expect([revoked.code, revoked.out]).toEqual([0, expect.stringMatching(/1 certificate\(s\) revoked/)]);
    expect(existsSync(join(dir, 'backend.sqlite'))).toBe(false);
  }, 120_000);

  it('serve over PostgreSQL listens, answers health, and drains on SIGTERM (exit 0)', async () => {
    const server = spawn(
      process.execPath,
      [cli, 'serve', '--dir', dir, '--store', url, '--port', '0', '--no-shopper', '--insecure'],
      { env },
    );
    let err = '';
    server.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const listening = await new Promise<string>((ok, fail) => {
      let out = '';
      server.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (/listening on /.test(out)) ok(out);
      });
      server.once('exit', (code) => fail(new Error(`serve exited ${code}: ${err}`)));
    });
    const address = /listening on (\S+)/.exec(listening)![1]!;
    const client = new health.HealthClient(address, credentials.createInsecure());
    const status = await new Promise<number>((ok, fail) =>
      client.check({ service: '' }, (e, r) => (e ? fail(e) : ok(r!.status))),
    );
    client.close();
    expect(status).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
    const exited = new Promise<number | null>((ok) => server.once('exit', ok));
    server.kill('SIGTERM');
    expect(await exited, err).toBe(0);
  }, 90_000);
});

describe('bluetill-backend --store PATH: a SQLite file outside the data folder', () => {
  it('seed writes the registry to it, the registry commands and serve use it', async () => {
    const dir = join(root, 'sqlite-company');
    const file = join(root, 'elsewhere.sqlite');
    const seeded = await run(['seed', '--dir', dir, '--store', file]);
    expect(seeded.code, seeded.err).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(existsSync(join(dir, 'backend.sqlite'))).toBe(false);
    expect((await run(['card', 'list', '--store', file])).out).toMatch(/card-alice {2}679999\*+0019/);
    const missing = await run(['card', 'list', '--store', join(root, 'typo.sqlite')]);
    expect([missing.code, missing.err]).toEqual([2, expect.stringMatching(/typo\.sqlite does not exist/)]);
    expect(existsSync(join(root, 'typo.sqlite'))).toBe(false);
    const server = spawn(
      process.execPath,
      [cli, 'serve', '--dir', dir, '--store', file, '--port', '0', '--no-shopper'],
      {
        env,
      },
    );
    try {
      const listening = await new Promise<string>((ok, fail) => {
        let out = '';
        let err = '';
        server.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          if (/listening on /.test(out)) ok(out);
        });
        server.stderr.on('data', (b: Buffer) => (err += b.toString()));
        server.once('exit', (code) => fail(new Error(`serve exited ${code}: ${err}`)));
      });
      expect(listening).toMatch(/listening on 127\.0\.0\.1:\d+ \(mutual TLS\)/);
    } finally {
      if (server.exitCode === null) {
        const exited = new Promise((ok) => server.once('exit', ok));
        server.kill('SIGTERM');
        await exited;
      }
    }
  }, 90_000);
});
