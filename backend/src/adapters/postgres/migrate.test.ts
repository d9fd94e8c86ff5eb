import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../test-support/postgres-server';
import { postgresServerPerFile } from '../../test-support/postgres-per-file';
import { MigrationError, migratePostgres } from './migrate';
import { postgresMigrations } from './migrations/index';

const server = postgresServerPerFile();

const newest = postgresMigrations[postgresMigrations.length - 1]!.version;

describe('migratePostgres', () => {
  it('two nodes migrating the same empty database at once apply each migration once', async () => {
    const url = await server.createDatabase('race');
    const a = connectPostgres(url, { max: 1 });
    const b = connectPostgres(url, { max: 1 });
    try {
      const [ra, rb] = await Promise.all([migratePostgres(a), migratePostgres(b)]);
      const applied = [...ra.applied, ...rb.applied].sort();
      expect(applied).toEqual(postgresMigrations.map((m) => m.name).sort());
      expect([ra.applied.length, rb.applied.length].sort((x, y) => x - y)).toEqual([
        0,
        postgresMigrations.length,
      ]);
      expect(await a`SELECT COUNT(*)::int AS n, max(version) AS v FROM schema_migrations`).toEqual([
        { n: postgresMigrations.length, v: newest },
      ]);
      expect(await migratePostgres(a)).toEqual({ from: newest, to: newest, applied: [] });
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('a failing migration leaves the database as it was: no table, no version recorded', async () => {
    const sql = connectPostgres(await server.createDatabase('failing'));
    try {
      const broken = [
        ...postgresMigrations.slice(0, 2),
        { version: 3, name: '0003-break-things', up: 'CREATE TABLE half_done (id int); SELECT 1/0;' },
      ];
      await migratePostgres(sql, 1, broken);
      await expect(migratePostgres(sql, 3, broken)).rejects.toMatchObject({ code: '22012' });
      expect(await sql`SELECT version FROM schema_migrations ORDER BY version`).toEqual([{ version: 1 }]);
      expect(
        await sql`SELECT to_regclass('terminal_certificates') AS t, to_regclass('half_done') AS h`,
      ).toEqual([{ t: null, h: null }]);
    } finally {
      await sql.end();
    }
  });

  it('refuses a database whose migrations are named otherwise or newer than this release, and a target out of range', async () => {
    const sql = connectPostgres(await server.createDatabase('foreign'));
    try {
      await migratePostgres(sql, 2);
      const renamed = postgresMigrations.map((m) =>
        m.version === 2 ? { ...m, name: '0002-something-else' } : m,
      );
      await expect(migratePostgres(sql, undefined, renamed)).rejects.toMatchObject({ code: 'name_mismatch' });
      await expect(migratePostgres(sql, undefined, postgresMigrations.slice(0, 1))).rejects.toBeInstanceOf(
        MigrationError,
      );
      await expect(migratePostgres(sql, undefined, postgresMigrations.slice(0, 1))).rejects.toMatchObject({
        code: 'unknown_version',
      });
      await expect(migratePostgres(sql, newest + 1)).rejects.toMatchObject({ code: 'bad_target' });
      expect(await sql`SELECT max(version) AS v FROM schema_migrations`).toEqual([{ v: 2 }]);
    } finally {
      await sql.end();
    }
  });

  it("a role with DML only (the servers' and the admin tool's) finds an up-to-date database and changes nothing; a pending migration needs the owner", async () => {
    const url = await server.createDatabase('dml_role');
    const owner = connectPostgres(url, { max: 1 });
    try {
      await migratePostgres(owner, newest - 1);
      await owner.unsafe(`CREATE ROLE dml_app LOGIN;
        GRANT USAGE ON SCHEMA public TO dml_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dml_app`);
      const app = connectPostgres(url.replace('//bluetill@', '//dml_app@'), { max: 1 });
      try {
        await expect(migratePostgres(app)).rejects.toMatchObject({ code: '42501' }); // insufficient_privilege
        await migratePostgres(owner);
        await owner.unsafe('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dml_app');
        expect(await migratePostgres(app)).toEqual({ from: newest, to: newest, applied: [] });
      } finally {
        await app.end();
      }
    } finally {
      await owner.end();
    }
  });
});
