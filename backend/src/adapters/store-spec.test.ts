/**
 * Store specs as the operator writes them: a SQLite path, a postgres:// or postgresql:// URL with
 * one host or several, taken from --store, else $BLUETILL_STORE, else the data folder; everything
 * else refused with a message that names the problem and never the password.
 */
import { describe, expect, it } from 'vitest';
import {
  backendStoreOptions,
  describeStore,
  parseStoreSpec,
  resolveStoreSpec,
  StoreError,
} from './store-spec';

describe('parseStoreSpec', () => {
  it('a path is a SQLite file; a Windows-free relative or absolute path stays as given', () => {
    expect(parseStoreSpec('/var/lib/bluetill/backend.sqlite')).toEqual({
      kind: 'sqlite',
      path: '/var/lib/bluetill/backend.sqlite',
    });
    expect(parseStoreSpec('./data/x.sqlite')).toEqual({ kind: 'sqlite', path: './data/x.sqlite' });
  });

  it('postgres:// and postgresql:// URLs, one host or several, with ports, IPv6 and parameters', () => {
    expect(parseStoreSpec('postgres://bluetill@db.internal/bluetill')).toEqual({
      kind: 'postgres',
      url: 'postgres://bluetill@db.internal/bluetill',
      hosts: [{ host: 'db.internal', port: 5432 }],
      database: 'bluetill',
    });
    const multi =
      'postgresql://app:s3cret@127.0.0.1:6001,127.0.0.1:6002,[::1]:6003/bluetill?target_session_attrs=read-write&sslmode=verify-full';
    expect(parseStoreSpec(multi)).toMatchObject({
      kind: 'postgres',
      url: multi,
      hosts: [
        { host: '127.0.0.1', port: 6001 },
        { host: '127.0.0.1', port: 6002 },
        { host: '::1', port: 6003 },
      ],
      database: 'bluetill',
    });
    expect(parseStoreSpec('POSTGRESQL://h')).toMatchObject({ kind: 'postgres', database: undefined });
  });

  const refusals: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['mysql://root@db/bluetill', /mysql:\/\/ is not a store/],
    ['sqlite://backend.sqlite', /sqlite:\/\/ is not a store/],
    ['https://db.example/x', /https:\/\/ is not a store/],
    ['postgres:db.internal/bluetill', /looks like a URL without "\/\/"/],
    ['postgresql://user@/bluetill', /no host/],
    ['postgresql://h1:5432,,h2/bluetill', /"" is not a host/],
    ['postgresql://h1:99999/bluetill', /port 99999 is not 1-65535/],
    ['postgresql://h1:0/bluetill', /port 0/],
    ['postgresql://h one/bluetill', /"h one" is not a host/],
    ['postgresql://h/a/b', /database name/],
  ];
  it.each(refusals)('refuses %j: %s', (value, message) => {
    expect(() => parseStoreSpec(value)).toThrow(StoreError);
    expect(() => parseStoreSpec(value)).toThrow(message);
  });

  it('never puts the password in a message or a description', () => {
    let message = '';
    try {
      parseStoreSpec('postgresql://app:hunter2@h1:70000/bluetill');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/port 70000/);
    expect(message).not.toContain('hunter2');
    expect(message).toContain('app:***@');
    const spec = parseStoreSpec('postgresql://app:hunter2@h1,h2/bluetill');
    expect(describeStore(spec)).toBe('postgresql://app:***@h1,h2/bluetill');
  });
});

describe('resolveStoreSpec', () => {
  it('--store first, then BLUETILL_STORE, then DIR/backend.sqlite; none of them is an error', () => {
    const env = { BLUETILL_STORE: 'postgresql://h/env' };
    expect(resolveStoreSpec({ store: '/x.sqlite', dir: '/d', env })).toEqual({
      kind: 'sqlite',
      path: '/x.sqlite',
    });
    expect(resolveStoreSpec({ dir: '/d', env })).toMatchObject({ kind: 'postgres', database: 'env' });
    expect(resolveStoreSpec({ dir: '/d/', env: {} })).toEqual({ kind: 'sqlite', path: '/d/backend.sqlite' });
    expect(resolveStoreSpec({ dir: '/d', env: { BLUETILL_STORE: '' } })).toEqual({
      kind: 'sqlite',
      path: '/d/backend.sqlite',
    });
    expect(() => resolveStoreSpec({ env: {} })).toThrow(
      /no store: give --dir DIR .*--store PATH\|URL.*BLUETILL_STORE/,
    );
    expect(() => resolveStoreSpec({ dir: '/d', env: { BLUETILL_STORE: 'redis://h' } })).toThrow(
      /BLUETILL_STORE: redis:\/\/ is not a store/,
    );
  });

  it('the servers open a SQLite file or a PostgreSQL URL (several hosts kept as given)', () => {
    expect(backendStoreOptions({ kind: 'sqlite', path: '/d/backend.sqlite' })).toEqual({
      dbPath: '/d/backend.sqlite',
    });
    const url = 'postgresql://a:pw@h1:5432,h2:5433/db?target_session_attrs=read-write';
    expect(backendStoreOptions(parseStoreSpec(url))).toEqual({ postgresUrl: url });
  });
});
