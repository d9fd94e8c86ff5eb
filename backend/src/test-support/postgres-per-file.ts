import { afterAll, beforeAll } from 'vitest';
import { startPostgresServer, type PostgresServer, type PostgresServerOptions } from './postgres-server';

/**
 * The test file's PostgreSQL server: started before its tests (beforeAll), stopped after them
 * (afterAll). Call at the top of a test file; use it inside the tests.
 *
 * @example
 *   const server = postgresServerPerFile();
 *   it('…', async () => { const sql = connectPostgres(await server.createDatabase('m0001')); … });
 */
export function postgresServerPerFile(options?: PostgresServerOptions): PostgresServer {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    server = await startPostgresServer(options);
  });
  afterAll(async () => {
    await server?.stop();
  });
  const started = (): PostgresServer => {
    if (!server)
      throw new Error('the test file’s PostgreSQL server starts in beforeAll: use it inside a test');
    return server;
  };
  return {
    get port() {
      return started().port;
    },
    get url() {
      return started().url;
    },
    get startupMs() {
      return started().startupMs;
    },
    createDatabase: (name, template) => started().createDatabase(name, template),
    stop: () => started().stop(),
  };
}
