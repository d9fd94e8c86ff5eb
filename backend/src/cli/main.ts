/**
 * bluetill-backend: run the servers and administer the card company's registry.
 *
 *   bluetill-backend keys create --dir DIR [--demo-key-sizes]   a fresh keys.json, encrypted under $BLUETILL_MASTER_KEY (EMV keys 1984/1984/1024 bits; demo 1024/1024/768)
 *   bluetill-backend keys rotate-master --dir DIR          re-encrypt keys.json: $BLUETILL_MASTER_KEY → $BLUETILL_NEW_MASTER_KEY
 *   bluetill-backend seed --dir DIR [--server-name NAME…]  demo keys, database, cards, terminal identity, tls/
 *   bluetill-backend serve --dir DIR [--port N]         authorization + settlement (or --services one), mutual TLS
 *                                                       (tls/ in DIR; --insecure: plaintext, local debugging only);
 *                                                       the shopper-facing listener on --shopper-port (TLS, no client
 *                                                       certificate; --no-shopper turns it off)
 *   bluetill-backend terminal issue-cert --dir DIR --id ID [--replace]   a new mTLS client certificate (tls/terminal-ID.pem, -key.pem); --replace revokes the old ones
 *   bluetill-backend terminal revoke --dir DIR --id ID [--serial HEX]   revoke its certificates (the server refuses them at once)
 *   bluetill-backend card issue --dir DIR --id ID --pan PAN --expiry YYMM --name NAME --out FILE
 *                              [--biometric-template-file F] [--knowledge-secret-fd N]
 *                                                       PIN from $BLUETILL_CARD_PIN (never an argument)
 *   bluetill-backend card issue --merchant M … (no PIN)    a merchant IC card for merchant M (claims 2, 7, 8)
 *   bluetill-backend card block|unblock|unlock-pin --dir DIR --id ID   (block and unblock: merchant cards too)
 *   bluetill-backend transactions export --dir DIR --terminal ID | --merchant M [--from T] [--to T] --out FILE.csv   masked card numbers only
 *   bluetill-backend batch close --dir DIR --terminal ID   close the terminal's open batch, print its totals
 *
 * DIR holds keys.json, backend.sqlite and tls/ (as `seed` writes them). keys.json is sealed under
 * the master key (32 bytes, base64) in $BLUETILL_MASTER_KEY: `seed`, `keys`, `serve`, `card issue`
 * and `terminal …` need it, and refuse (exit 2, code master_key_missing / master_key_wrong) without
 * the right one. No command prints a key.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { CvmDataError, encodeKnowledgeSecret, formatMoney, maskPan, templateFromBytes } from '@bluetill/protocol';
import { seedDemo } from '../admin/demo-seed';
import { issueCard, issueMerchantCard, writePersonalizationFile } from '../admin/card-issuing';
import { DEMO_KEY_BITS, SCHEME_KEY_BITS, createKeyMaterial } from '../admin/key-material';
import { merchantCardTerminalId, registerCard, registerMerchantCard, revokeTerminalCertificates, setCardStatus, setMerchantCardStatus, unlockPin } from '../admin/registry';
import { SqliteShopperStore } from '../adapters/sqlite/shopper-store.sqlite';
import { issueTerminalTls, readTlsAuthority } from '../admin/tls-issuing';
import { readServerTls } from '../adapters/tls-files';
import { SoftwareKeyStore } from '../adapters/key-store.file';
import { KeyStoreError } from '../adapters/key-store-error';
import { readKeysFile, rotateKeysFile, writeKeysFile } from '../adapters/keys-file';
import { masterKeyFromEnv, NEW_MASTER_KEY_ENV } from '../adapters/master-key';
import { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';
import { startBackend } from '../adapters/grpc/server';
import { createLogger } from '../adapters/logger';
import { BackendMetrics } from '../adapters/metrics/backend-metrics';
import { startMetricsServer } from '../adapters/metrics/metrics-server';
import { BatchUseCase } from '../app/batch-service';
import { systemClock } from '../ports/clock';
import { transactionsCsv } from './transactions-csv';

const program = new Command('bluetill-backend').description('bluetill card company backend: authorization and settlement servers, admin tool').showHelpAfterError();

const dirPaths = (dir: string) => {
  const keysPath = join(dir, 'keys.json');
  const dbPath = join(dir, 'backend.sqlite');
  if (!existsSync(keysPath) || !existsSync(dbPath)) throw new InvalidArgumentError(`${dir} has no keys.json / backend.sqlite (run "seed" first)`);
  return { keysPath, dbPath };
};
/** The master key from the environment, checked against DIR's keys.json (the operator holds the right key). */
const unlockedKeys = (dir: string) => {
  const master = masterKeyFromEnv();
  const { keysPath } = dirPaths(dir);
  return { master, material: readKeysFile(keysPath, master) };
};
/** A time as ISO 8601 (2026-11-24, 2026-11-24T09:00:00Z) or unix milliseconds. */
const instant = (v: string) => {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be an ISO 8601 time or unix milliseconds');
  return n;
};
const integer = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};

const keys = program.command('keys').description('the key material file (keys.json), encrypted at rest under the master key');

keys
  .command('create')
  .description(`write a fresh keys.json (PIN key, receipt key, symmetric keys, EMV CA and issuer keys: CA ${SCHEME_KEY_BITS.ca}, issuer ${SCHEME_KEY_BITS.issuer}, cards ${SCHEME_KEY_BITS.icc} bits) encrypted under $BLUETILL_MASTER_KEY; never replaces one`)
  .requiredOption('--dir <dir>', 'data folder')
  .option('--demo-key-sizes', `the demo's small EMV keys (CA ${DEMO_KEY_BITS.ca}, issuer ${DEMO_KEY_BITS.issuer}, cards ${DEMO_KEY_BITS.icc} bits): quick, NOT for real cards`, false)
  .action((o: { dir: string; demoKeySizes: boolean }) => {
    const master = masterKeyFromEnv();
    mkdirSync(o.dir, { recursive: true });
    const path = join(o.dir, 'keys.json');
    const bits = o.demoKeySizes ? DEMO_KEY_BITS : SCHEME_KEY_BITS;
    writeKeysFile(path, createKeyMaterial(Date.now(), { emvKeyBits: bits }), master, { exclusive: true });
    console.log(`keys created: ${path} (encrypted under master key ${master.id})`);
    console.log(`EMV RSA keys: CA ${bits.ca} bits, issuer ${bits.issuer} bits, cards issued under it ${bits.icc} bits (${o.demoKeySizes ? 'DEMO sizes: not for real cards' : 'scheme-grade sizes'})`);
  });

keys
  .command('rotate-master')
  .description(`re-encrypt keys.json from the master key in $BLUETILL_MASTER_KEY to the one in $${NEW_MASTER_KEY_ENV} (the keys inside are unchanged)`)
  .requiredOption('--dir <dir>', 'data folder')
  .action((o: { dir: string }) => {
    const current = masterKeyFromEnv();
    const next = masterKeyFromEnv(NEW_MASTER_KEY_ENV);
    if (next.id === current.id) throw new InvalidArgumentError(`${NEW_MASTER_KEY_ENV} is the current master key`);
    const path = join(o.dir, 'keys.json');
    const r = rotateKeysFile(path, current, next);
    console.log(`keys re-encrypted: ${path} (master key ${r.from} → ${r.to}); set BLUETILL_MASTER_KEY to the new key before the next start`);
  });

program
  .command('seed')
  .description('create demo keys, database (merchant, terminal, cards), card personalization files and the terminal identity')
  .requiredOption('--dir <dir>', 'data folder')
  .option('--server-name <name...>', 'extra DNS names or IP addresses for the server certificate (127.0.0.1 and localhost are always in)')
  .action(async (o: { dir: string; serverName?: string[] }) => {
    const masterKey = masterKeyFromEnv();
    mkdirSync(o.dir, { recursive: true });
    const s = await seedDemo(o.dir, [], [], { masterKey, serverNames: o.serverName ?? [] });
    console.log(`seeded ${o.dir}: ${s.dbPath}, ${s.keysPath}, cards in ${s.cardsDir}, terminal identity terminal-${s.terminal.terminalId}.json, trust.json, TLS material in ${s.tlsDir}`);
  });

program
  .command('serve')
  .description('serve gRPC: Authorization and Settlement (both by default), grpc.health.v1')
  .requiredOption('--dir <dir>', 'data folder')
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--port <port>', 'port (0 = any free)', integer, 50051)
  .option('--services <list>', 'authorization,settlement', 'authorization,settlement')
  .option('--tls-dir <dir>', 'mutual-TLS material (ca.pem, server.pem, server-key.pem)', '<DIR>/tls')
  .option('--insecure', 'serve plaintext without client certificates (local debugging only)', false)
  .option('--metrics-port <port>', 'serve Prometheus metrics on http://HOST:PORT/metrics (0 = any free port)', integer)
  .option('--no-reflection', 'do not serve gRPC server reflection')
  .option('--no-worker', 'run the use cases on the gRPC thread (default: on a worker thread, the gRPC thread serving the transport only)')
  .option('--crypto-workers <n>', 'with the worker: threads that open sealed PINs and check card certificates and ARQCs (default: cores − 2, none on 2 cores; 0 = none: the use-case worker does that work)', integer)
  .option('--shopper-port <port>', 'the shopper-facing listener (phones pay with a code or a merchant card; server TLS only); default --port + 1 (any free one with --port 0)', integer)
  .option('--no-shopper', 'do not serve the shopper-facing listener')
  .action(async (o: { dir: string; host: string; port: number; services: string; tlsDir: string; insecure: boolean; metricsPort?: number; reflection: boolean; worker: boolean; cryptoWorkers?: number; shopper: boolean; shopperPort?: number }) => {
    const masterKey = masterKeyFromEnv();
    const services = o.services.split(',').map((s) => s.trim()) as Array<'authorization' | 'settlement'>;
    const tls = o.insecure ? 'insecure' : readServerTls(o.tlsDir === '<DIR>/tls' ? join(o.dir, 'tls') : o.tlsDir);
    if (o.insecure) console.error('bluetill-backend: WARNING --insecure: no TLS, callers are not authenticated (local debugging only)');
    const metrics = o.metricsPort === undefined ? undefined : new BackendMetrics({ processMetrics: true });
    const backend = await startBackend({
      ...dirPaths(o.dir), masterKey, reflection: o.reflection, host: o.host, port: o.port, services, tls, logger: createLogger('backend'), worker: o.worker, ...(o.cryptoWorkers !== undefined ? { cryptoWorkers: o.cryptoWorkers } : {}), ...(metrics ? { metrics } : {}),
      shopper: o.shopper ? { port: o.shopperPort ?? (o.port === 0 ? 0 : o.port + 1) } : false,
    });
    console.log(`listening on ${backend.address} (${o.insecure ? 'INSECURE plaintext' : 'mutual TLS'})`);
    if (backend.shopperAddress) console.log(`shopper listener on ${backend.shopperAddress} (${o.insecure ? 'INSECURE plaintext' : 'TLS, no client certificate'})`);
    const metricsServer = metrics ? await startMetricsServer(metrics, { host: o.host, port: o.metricsPort }) : undefined;
    if (metricsServer) console.log(`metrics on ${metricsServer.url}`);
    const stop = () => void Promise.all([backend.close(), metricsServer?.close()]).then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

const terminal = program.command('terminal').description('mutual-TLS client certificates of registered terminals');

terminal
  .command('issue-cert')
  .description('issue a client certificate for a registered terminal (CN=ID, SAN urn:bluetill:terminal:ID); writes tls/terminal-ID.pem and tls/terminal-ID-key.pem (0600); refuses when they exist')
  .requiredOption('--dir <dir>', 'data folder')
  .requiredOption('--id <id>', 'terminal id')
  .option('--replace', "revoke the terminal's certificates first, then write the new key and certificate over the old files", false)
  .action(async (o: { dir: string; id: string; replace: boolean }) => {
    unlockedKeys(o.dir);
    const tlsDir = join(o.dir, 'tls');
    const ca = readTlsAuthority(tlsDir);
    const store = new SqliteBackendStore(dirPaths(o.dir).dbPath);
    try {
      const t = store.findTerminal(o.id);
      if (!t) throw new InvalidArgumentError(`no terminal ${o.id} in the registry`);
      if (t.status !== 'active') throw new InvalidArgumentError(`terminal ${o.id} is ${t.status}`);
      const issued = await issueTerminalTls(tlsDir, store.db, ca, { terminalId: t.id, merchantId: t.merchantId }, { replace: o.replace });
      if (issued.revoked > 0) console.log(`terminal ${o.id}: ${issued.revoked} earlier certificate(s) revoked`);
      console.log(`terminal ${o.id}: certificate serial ${issued.serial} (valid until ${new Date(issued.notAfter).toISOString()}) written to ${tlsDir}/terminal-${o.id}.pem and -key.pem`);
    } finally {
      store.close();
    }
  });

terminal
  .command('revoke')
  .description("revoke a terminal's client certificates (all, or the one with --serial); a running server refuses them from the next call")
  .requiredOption('--dir <dir>', 'data folder')
  .requiredOption('--id <id>', 'terminal id')
  .option('--serial <hex>', 'only the certificate with this serial number')
  .action((o: { dir: string; id: string; serial?: string }) => {
    unlockedKeys(o.dir);
    const store = new SqliteBackendStore(dirPaths(o.dir).dbPath);
    try {
      const n = revokeTerminalCertificates(store.db, o.id, o.serial === undefined ? {} : { serial: o.serial });
      if (n === 0) throw new InvalidArgumentError(`terminal ${o.id}: no unrevoked certificate${o.serial ? ` with serial ${o.serial}` : ''}`);
      console.log(`terminal ${o.id}: ${n} certificate(s) revoked`);
    } finally {
      store.close();
    }
  });

const card = program.command('card').description('issue and administer cards');

card
  .command('issue')
  .description('register a card and write its personalization file (for a card writer: bluetill-phone card write FILE)')
  .requiredOption('--dir <dir>', 'data folder')
  .requiredOption('--id <id>', 'card id')
  .requiredOption('--pan <pan>', 'card number (12-19 digits)')
  .requiredOption('--expiry <yymm>', 'expiry, YYMM')
  .requiredOption('--name <name>', 'cardholder name as embossed')
  .option('--psn <n>', 'PAN sequence number', integer, 1)
  .option('--limit <minor>', 'credit limit in minor units', integer, 100_000)
  .option('--currency <code>', 'ISO 4217 currency', 'EUR')
  .option('--merchant <id>', "a merchant IC card for this registered merchant (its id goes on the card, 9F16); no PIN, no credit limit")
  .requiredOption('--out <file>', 'personalization file to write (secret: mode 0600)')
  .option('--biometric-template-file <file>', 'fingerprint template for match-on-card: 64 bytes, signed components (claim 16)')
  .option('--knowledge-secret-fd <n>', 'read the knowledge secret the card checks from this file descriptor (claim 17); never an argument', integer)
  .action((o: { dir: string; id: string; pan: string; expiry: string; name: string; psn: number; limit: number; currency: string; out: string; merchant?: string; biometricTemplateFile?: string; knowledgeSecretFd?: number }) => {
    if (o.merchant !== undefined) {
      const { material } = unlockedKeys(o.dir);
      const store = new SqliteBackendStore(dirPaths(o.dir).dbPath);
      try {
        registerMerchantCard(store.db, new SoftwareKeyStore(material), { id: o.id, pan: o.pan, panSequence: o.psn, expiry: o.expiry, merchantId: o.merchant, name: o.name });
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      } finally {
        store.close();
      }
      writePersonalizationFile(o.out, o.id, issueMerchantCard(material, { pan: o.pan, panSequence: o.psn, expiry: o.expiry, name: o.name, merchantId: o.merchant }));
      console.log(`issued merchant card ${o.id} (${maskPan(o.pan)}) for merchant ${o.merchant}, terminal ${merchantCardTerminalId(o.id)}; personalization written to ${o.out}`);
      return;
    }
    const pin = process.env.BLUETILL_CARD_PIN;
    if (!pin || !/^\d{4,12}$/.test(pin)) throw new InvalidArgumentError('set BLUETILL_CARD_PIN to the card PIN (4-12 digits); it is never taken as an argument');
    // Cardholder-verification secrets go to the card only: checked here, never printed or logged.
    const secretInput = <T>(what: string, read: () => T): T => {
      try {
        return read();
      } catch (e) {
        throw new InvalidArgumentError(e instanceof CvmDataError ? e.message : `cannot read the ${what}`);
      }
    };
    const biometricTemplate = o.biometricTemplateFile === undefined ? undefined
      : secretInput('biometric template file', () => templateFromBytes(new Uint8Array(readFileSync(o.biometricTemplateFile!))));
    const knowledgeSecret = o.knowledgeSecretFd === undefined ? undefined
      : secretInput('knowledge secret', () => {
          const secret = readFileSync(o.knowledgeSecretFd!, 'utf8').replace(/\r?\n$/, '');
          encodeKnowledgeSecret(secret);
          return secret;
        });
    const { material } = unlockedKeys(o.dir);
    const { dbPath } = dirPaths(o.dir);
    const store = new SqliteBackendStore(dbPath);
    try {
      registerCard(store.db, new SoftwareKeyStore(material), { id: o.id, pan: o.pan, panSequence: o.psn, expiry: o.expiry, cardholderName: o.name, pin, creditLimitMinor: o.limit, currency: o.currency });
    } finally {
      store.close();
    }
    writePersonalizationFile(o.out, o.id, issueCard(material, {
      pan: o.pan, panSequence: o.psn, expiry: o.expiry, cardholderName: o.name, pin,
      ...(biometricTemplate ? { biometricTemplate } : {}), ...(knowledgeSecret !== undefined ? { knowledgeSecret } : {}),
    }));
    const extras = [biometricTemplate ? 'fingerprint template' : '', knowledgeSecret !== undefined ? 'knowledge secret' : ''].filter(Boolean);
    console.log(`issued card ${o.id} (${maskPan(o.pan)})${extras.length ? ` with ${extras.join(' and ')}` : ''}; personalization written to ${o.out}`);
  });

for (const [name, what] of [['block', 'block a card'], ['unblock', 'make a blocked card active again'], ['unlock-pin', 'reset the PIN try counter (issuer action)']] as const) {
  card
    .command(name)
    .description(what)
    .requiredOption('--dir <dir>', 'data folder')
    .requiredOption('--id <id>', 'card id')
    .action((o: { dir: string; id: string }) => {
      const store = new SqliteBackendStore(dirPaths(o.dir).dbPath);
      try {
        if (name === 'unlock-pin') unlockPin(store.db, o.id);
        else if (store.findCardById(o.id)) setCardStatus(store.db, o.id, name === 'block' ? 'blocked' : 'active');
        else setMerchantCardStatus(store.db, o.id, name === 'block' ? 'blocked' : 'active');
      } finally {
        store.close();
      }
      console.log(`card ${o.id}: ${name} done`);
    });
}

program
  .command('transactions')
  .description("a terminal's or a merchant's sales, refunds and voids")
  .command('export')
  .description('write them as CSV (masked card numbers only; amounts in minor units)')
  .requiredOption('--dir <dir>', 'data folder')
  .option('--terminal <id>', 'terminal id')
  .option('--merchant <id>', "merchant id: every terminal of the merchant, its tills and its merchant cards (with a terminal_id column)")
  .option('--from <time>', 'from (inclusive): ISO 8601 or unix ms', instant, 0)
  .option('--to <time>', 'to (exclusive): ISO 8601 or unix ms (default: now)', instant)
  .requiredOption('--out <file>', 'CSV file to write')
  .action((o: { dir: string; terminal?: string; merchant?: string; from: number; to?: number; out: string }) => {
    if ((o.terminal === undefined) === (o.merchant === undefined)) throw new InvalidArgumentError('give --terminal ID or --merchant ID');
    const store = new SqliteBackendStore(dirPaths(o.dir).dbPath);
    try {
      if (o.merchant !== undefined) {
        const rows = new SqliteShopperStore(store.db).listMerchantTransactions(o.merchant, o.from, o.to ?? Date.now() + 1, Number.MAX_SAFE_INTEGER);
        writeFileSync(o.out, transactionsCsv(rows, { withTerminal: true }));
        console.log(`merchant ${o.merchant}: ${rows.length} transaction(s) written to ${o.out}`);
        return;
      }
      const rows = store.listTransactions(o.terminal!, o.from, o.to ?? Date.now() + 1, Number.MAX_SAFE_INTEGER);
      writeFileSync(o.out, transactionsCsv(rows));
      console.log(`terminal ${o.terminal}: ${rows.length} transaction(s) written to ${o.out}`);
    } finally {
      store.close();
    }
  });

program
  .command('batch')
  .description("a terminal's batches (business days)")
  .command('close')
  .description("close the terminal's open batch and print its totals (they reconcile with the ledger, or nothing is closed)")
  .requiredOption('--dir <dir>', 'data folder')
  .requiredOption('--terminal <id>', 'terminal id')
  .action(async (o: { dir: string; terminal: string }) => {
    const store = new SqliteBackendStore(dirPaths(o.dir).dbPath);
    try {
      const b = await new BatchUseCase(store, systemClock).closeBatch({ terminalId: o.terminal, closeRequestId: '' }, { kind: 'admin' });
      const t = b.totals!;
      const m = (minor: number) => formatMoney({ minor, currency: t.currency || 'EUR' });
      console.log(`terminal ${o.terminal}: batch ${b.batchId} closed (${new Date(b.openedAtMs).toISOString()} – ${new Date(b.closedAtMs).toISOString()})`);
      console.log(`  sales   ${t.saleCount} ${m(t.saleMinor)}`);
      console.log(`  refunds ${t.refundCount} ${m(t.refundMinor)}`);
      console.log(`  voids   ${t.voidCount} ${m(t.voidMinor)}`);
      console.log(`  net     ${m(t.netMinor)}`);
    } finally {
      store.close();
    }
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  const code = error instanceof KeyStoreError ? `${error.code}: ` : '';
  console.error(`bluetill-backend: ${code}${(error as Error).message}`);
  process.exit(2);
});
