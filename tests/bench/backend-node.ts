/**
 * One backend node for the benchmark's node processes (backend-nodes.bench.ts): `startBackend` as
 * `serve` runs it (use-case worker, default crypto workers, mutual TLS) over the PostgreSQL URL, with
 * the bound on a terminal's held challenges raised to what the benchmark prepares ahead. Reads its
 * settings as JSON from BENCH_NODE (the master key from BLUETILL_MASTER_KEY), prints
 * `{"port":N}` once it listens, and drains and exits on SIGTERM.
 */
import { MasterKey, readServerTls, startBackend } from '@bluetill/backend';
import { createLogger } from '../../backend/src/adapters/logger';

interface NodeSettings {
  readonly url: string;
  readonly keysPath: string;
  readonly tlsDir: string;
  readonly maxChallengesPerTerminal: number;
}

async function main(): Promise<void> {
  const s = JSON.parse(process.env.BENCH_NODE ?? '') as NodeSettings;
  const backend = await startBackend({
    postgresUrl: s.url,
    keysPath: s.keysPath,
    masterKey: MasterKey.fromBase64(process.env.BLUETILL_MASTER_KEY ?? '', 'BLUETILL_MASTER_KEY'),
    tls: readServerTls(s.tlsDir),
    logger: createLogger('backend', 'silent'),
    worker: true,
    shopper: false,
    reflection: false,
    authorizationLimits: { maxChallengesPerTerminal: s.maxChallengesPerTerminal },
  });
  process.once('SIGTERM', () => {
    void backend.drain().then(() => process.exit(0));
  });
  process.stdout.write(`${JSON.stringify({ port: backend.port })}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
