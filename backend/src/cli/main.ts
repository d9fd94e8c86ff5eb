/**
 * bluetill-backend: run the servers and administer the card company's registry.
 *
 *   bluetill-backend keys create --dir DIR [--demo-key-sizes]   a fresh keys.json, encrypted under $BLUETILL_MASTER_KEY (EMV keys 1984/1984/1024 bits; demo 1024/1024/768)
 *   bluetill-backend keys rotate-master --dir DIR          re-encrypt keys.json: $BLUETILL_MASTER_KEY → $BLUETILL_NEW_MASTER_KEY
 *   bluetill-backend seed --dir DIR [--server-name NAME…]  demo keys, database, cards, terminal identity, tls/
 *   bluetill-backend serve --dir DIR [--port N]         authorization + settlement (or --services one), mutual TLS;
 *                                                       SIGTERM/SIGINT drains (--drain-timeout MS), a second signal cuts
 *                                                       (tls/ in DIR; --insecure: plaintext, local debugging only);
 *                                                       the shopper-facing listener on --shopper-port (TLS, no client
 *                                                       certificate; --no-shopper turns it off)
 *   bluetill-backend terminal issue-cert --dir DIR --id ID [--replace]   a new mTLS client certificate (tls/terminal-ID.pem, -key.pem); --replace revokes the old ones
 *   bluetill-backend terminal revoke --dir DIR --id ID [--serial HEX]   revoke its certificates (the server refuses them at once)
 *   bluetill-backend card issue --dir DIR --id ID --pan PAN --expiry YYMM --name NAME --out FILE
 *                              [--biometric-template-file F] [--knowledge-secret-fd N]
 *                              [--offline-lower N] [--offline-upper N] [--offline-amount AMOUNT]   the card's offline limits
 *                                                       PIN from $BLUETILL_CARD_PIN (never an argument)
 *   bluetill-backend card issue --merchant M … (no PIN)    a merchant IC card for merchant M (claims 2, 7, 8)
 *   bluetill-backend card block|unblock|unlock-pin --dir DIR --id ID   (block and unblock: merchant cards too)
 *   bluetill-backend merchant|terminal offline-limits --dir DIR --id ID [--floor-limit A] [--exposure A]
 *                              [--card-daily-count N] [--card-daily-amount A] [--json]   offline limits ("default" clears one)
 *   bluetill-backend offline report --dir DIR [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--merchant M] [--json]
 *   bluetill-backend transactions export --dir DIR --terminal ID | --merchant M [--from T] [--to T] --out FILE.csv   masked card numbers only
 *   bluetill-backend batch close --dir DIR --terminal ID   close the terminal's open batch, print its totals
 *   bluetill-backend migrate [--dir DIR | --store PATH|URL] [--to N]   bring the store's schema up to date (prints from, to, applied)
 *
 * DIR holds keys.json, backend.sqlite and tls/ (as `seed` writes them). Every command that touches
 * the registry takes `--store PATH|URL`: a SQLite file or a postgres:// / postgresql:// URL
 * (several hosts allowed), else $BLUETILL_STORE, else DIR/backend.sqlite (adapters/store-spec.ts);
 * the registry commands (merchant, terminal add/list, card list/show/block/unblock/unlock-pin)
 * then need no DIR. `serve`, `transactions export` and `batch close` run on a SQLite file.
 * keys.json is sealed under the master key (32 bytes, base64) in $BLUETILL_MASTER_KEY: `seed`,
 * `keys`, `serve`, `card issue` and `terminal …` need it, and refuse (exit 2, code
 * master_key_missing / master_key_wrong) without the right one. No command prints a key.
 */
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  CvmDataError,
  encodeKnowledgeSecret,
  formatMoney,
  maskPan,
  SUPPORTED_CURRENCIES,
  templateFromBytes,
} from '@bluetill/protocol';
import { seedDemo } from '../admin/demo-seed';
import {
  DEFAULT_OFFLINE_LIMITS,
  issueCard,
  issueMerchantCard,
  offlineLimitsFrom,
  OfflineLimitsError,
  writePersonalizationFile,
} from '../admin/card-issuing';
import { DEMO_KEY_BITS, SCHEME_KEY_BITS, createKeyMaterial } from '../admin/key-material';
import { CardFieldError, validateCardFields } from '../admin/card-validation';
import { addOfflineCommands } from './offline-commands';
import { addRegistryCommands, STORE_OPTION, type StoreChoice, type WithAdmin } from './registry-commands';
import { merchantCardTerminalId, registerCard, registerMerchantCard } from '../admin/registry';
import {
  backendStoreOptions,
  openBackendStore,
  describeStore,
  migrateStore,
  openRegistryAdmin,
  resolveStoreSpec,
  SQLITE_FILE,
  STORE_ENV,
  type StoreSpec,
} from '../adapters/store-spec';
import { issueTerminalTls, readTlsAuthority } from '../admin/tls-issuing';
import { readServerTls } from '../adapters/tls-files';
import { SoftwareKeyStore } from '../adapters/key-store.file';
import { readKeysFile, rotateKeysFile, writeKeysFile } from '../adapters/keys-file';
import { masterKeyFromEnv, NEW_MASTER_KEY_ENV } from '../adapters/master-key';
import type { BackendStore } from '../ports/backend-store';
import { DRAIN_DEADLINE_MS, startBackend } from '../main';
import { afterLogWritten, createLogger } from '../adapters/logger';
import { BackendMetrics } from '../adapters/metrics/backend-metrics';
import { startMetricsServer } from '../adapters/metrics/metrics-server';
import { BatchUseCase } from '../app/batch-service';
import { systemClock } from '../ports/clock';
import { transactionsCsv } from './transactions-csv';

const program = new Command('bluetill-backend')
  .description('bluetill card company backend: authorization and settlement servers, admin tool')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

/**
 * The store a command uses (--store, else $BLUETILL_STORE, else DIR/backend.sqlite). A SQLite file
 * must exist already (seed or migrate creates one): a mistyped path never starts an empty registry.
 */
const storeOf = (o: StoreChoice): StoreSpec => {
  const spec = resolveStoreSpec(o);
  if (spec.kind === 'sqlite' && !existsSync(spec.path))
    throw new InvalidArgumentError(
      o.store === undefined && !process.env[STORE_ENV]
        ? `${o.dir} has no keys.json / ${SQLITE_FILE} (run "seed" first)`
        : `${spec.path} does not exist (run "seed", or "migrate --store ${spec.path}" for an empty registry)`,
    );
  return spec;
};
/** DIR's keys.json, which must exist. */
const keysPathOf = (dir: string) => {
  const keysPath = join(dir, 'keys.json');
  if (!existsSync(keysPath)) throw new InvalidArgumentError(`${dir} has no keys.json (run "seed" first)`);
  return keysPath;
};
/** The master key from the environment, checked against DIR's keys.json (the operator holds the right key). */
const unlockedKeys = (dir: string) => {
  const master = masterKeyFromEnv();
  return { master, material: readKeysFile(keysPathOf(dir), master) };
};
/** A time as ISO 8601 (2026-11-24, 2026-11-24T09:00:00Z) or unix milliseconds. */
const instant = (v: string) => {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError('must be an ISO 8601 time or unix milliseconds');
  return n;
};
const port = (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535)
    throw new InvalidArgumentError('must be a port number from 0 to 65535 (0: any free port)');
  return n;
};
/** Opens the chosen store's registry for one command and closes it after, whatever happens. */
const withAdmin: WithAdmin = async (o, use) => {
  const admin = await openRegistryAdmin(storeOf(o));
  try {
    return await use(admin);
  } finally {
    await admin.close();
  }
};
/** The servers' store for the commands that run the use cases on it (batch close, transactions export). */
const withBackendStore = async <T>(o: StoreChoice, use: (store: BackendStore) => Promise<T>): Promise<T> => {
  const store = await openBackendStore(storeOf(o));
  try {
    return await use(store);
  } finally {
    await store.close();
  }
};
/**
 * Writes a personalization file only if `register` succeeds, and registers only if the file can be
 * written: the file is written beside its target first (new, 0600), `register` runs one
 * transaction in which the file is put in place (a hard link: refused if the target exists), and
 * the temporary name is removed whatever happens; a registration that fails after the link (its
 * commit) removes the file again.
 */
const issueAtomically = async (
  out: string,
  write: (path: string) => void,
  register: (within: () => void) => Promise<void>,
): Promise<void> => {
  if (existsSync(out))
    throw new InvalidArgumentError(`${out} exists: a personalization file is never overwritten`);
  let folder;
  try {
    folder = statSync(dirname(out));
  } catch {
    throw new InvalidArgumentError(`cannot write ${out}: the folder ${dirname(out)} does not exist`);
  }
  if (!folder.isDirectory())
    throw new InvalidArgumentError(`cannot write ${out}: ${dirname(out)} is not a folder`);
  const tmp = `${out}.${process.pid}.tmp`;
  let linked = false;
  try {
    write(tmp);
    await register(() => {
      linkSync(tmp, out);
      linked = true;
    });
  } catch (e) {
    if (linked) unlinkSync(out);
    throw e;
  } finally {
    if (existsSync(tmp)) unlinkSync(tmp);
  }
};
const integer = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};

const keys = program
  .command('keys')
  .description('the key material file (keys.json), encrypted at rest under the master key');

keys
  .command('create')
  .description(
    `write a fresh keys.json (PIN key, receipt key, symmetric keys, EMV CA and issuer keys: CA ${SCHEME_KEY_BITS.ca}, issuer ${SCHEME_KEY_BITS.issuer}, cards ${SCHEME_KEY_BITS.icc} bits) encrypted under $BLUETILL_MASTER_KEY; never replaces one`,
  )
  .requiredOption('--dir <dir>', 'data folder')
  .option(
    '--demo-key-sizes',
    `the demo's small EMV keys (CA ${DEMO_KEY_BITS.ca}, issuer ${DEMO_KEY_BITS.issuer}, cards ${DEMO_KEY_BITS.icc} bits): quick, NOT for real cards`,
    false,
  )
  .action((o: { dir: string; demoKeySizes: boolean }) => {
    const master = masterKeyFromEnv();
    mkdirSync(o.dir, { recursive: true });
    const path = join(o.dir, 'keys.json');
    const bits = o.demoKeySizes ? DEMO_KEY_BITS : SCHEME_KEY_BITS;
    writeKeysFile(path, createKeyMaterial(Date.now(), { emvKeyBits: bits }), master, { exclusive: true });
    console.log(`keys created: ${path} (encrypted under master key ${master.id})`);
    console.log(
      `EMV RSA keys: CA ${bits.ca} bits, issuer ${bits.issuer} bits, cards issued under it ${bits.icc} bits (${o.demoKeySizes ? 'DEMO sizes: not for real cards' : 'scheme-grade sizes'})`,
    );
  });

keys
  .command('rotate-master')
  .description(
    `re-encrypt keys.json from the master key in $BLUETILL_MASTER_KEY to the one in $${NEW_MASTER_KEY_ENV} (the keys inside are unchanged)`,
  )
  .requiredOption('--dir <dir>', 'data folder')
  .action((o: { dir: string }) => {
    const current = masterKeyFromEnv();
    const next = masterKeyFromEnv(NEW_MASTER_KEY_ENV);
    if (next.id === current.id)
      throw new InvalidArgumentError(`${NEW_MASTER_KEY_ENV} is the current master key`);
    const path = join(o.dir, 'keys.json');
    const r = rotateKeysFile(path, current, next);
    console.log(
      `keys re-encrypted: ${path} (master key ${r.from} → ${r.to}); set BLUETILL_MASTER_KEY to the new key before the next start`,
    );
  });

program
  .command('seed')
  .description(
    'create demo keys, database (merchant, terminal, cards), card personalization files and the terminal identity',
  )
  .requiredOption('--dir <dir>', 'data folder')
  .option(
    '--server-name <name...>',
    'extra DNS names or IP addresses for the server certificate (127.0.0.1 and localhost are always in)',
  )
  .option(...STORE_OPTION)
  .action(async (o: { dir: string; store?: string; serverName?: string[] }) => {
    const masterKey = masterKeyFromEnv();
    const store = resolveStoreSpec(o);
    mkdirSync(o.dir, { recursive: true });
    const s = await seedDemo(o.dir, [], [], { masterKey, serverNames: o.serverName ?? [], store });
    console.log(
      `seeded ${o.dir}: registry in ${describeStore(s.store)}, ${s.keysPath}, cards in ${s.cardsDir}, terminal identity terminal-${s.terminal.terminalId}.json, trust.json, TLS material in ${s.tlsDir}`,
    );
  });

program
  .command('serve')
  .description('serve gRPC: Authorization and Settlement (both by default), grpc.health.v1')
  .requiredOption('--dir <dir>', 'data folder')
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--port <port>', 'port (0 = any free)', port, 50051)
  .option('--services <list>', 'authorization,settlement', 'authorization,settlement')
  .option('--tls-dir <dir>', 'mutual-TLS material (ca.pem, server.pem, server-key.pem)', '<DIR>/tls')
  .option('--insecure', 'serve plaintext without client certificates (local debugging only)', false)
  .option(
    '--metrics-port <port>',
    'serve Prometheus metrics on http://HOST:PORT/metrics (0 = any free port)',
    port,
  )
  .option('--no-reflection', 'do not serve gRPC server reflection')
  .option(
    '--no-worker',
    'run the use cases on the gRPC thread (default: on a worker thread, the gRPC thread serving the transport only)',
  )
  .option(
    '--crypto-workers <n>',
    'with the worker: threads that open sealed PINs and check card certificates and ARQCs (default: cores − 2, none on 2 cores; 0 = none: the use-case worker does that work)',
    integer,
  )
  .option(
    '--shopper-port <port>',
    'the shopper-facing listener (phones pay with a code or a merchant card; server TLS only); default --port + 1 (any free one with --port 0)',
    port,
  )
  .option('--no-shopper', 'do not serve the shopper-facing listener')
  .option(...STORE_OPTION)
  .option(
    '--drain-timeout <ms>',
    'on SIGTERM/SIGINT: how long calls in flight may take to finish before they are cut (a second signal cuts them at once)',
    integer,
    DRAIN_DEADLINE_MS,
  )
  .action(
    async (o: {
      dir: string;
      store?: string;
      host: string;
      port: number;
      services: string;
      tlsDir: string;
      insecure: boolean;
      metricsPort?: number;
      reflection: boolean;
      worker: boolean;
      cryptoWorkers?: number;
      shopper: boolean;
      shopperPort?: number;
      drainTimeout: number;
    }) => {
      const masterKey = masterKeyFromEnv();
      const keysPath = keysPathOf(o.dir);
      const storage = backendStoreOptions(storeOf(o));
      const services = o.services.split(',').map((s) => s.trim()) as Array<'authorization' | 'settlement'>;
      const tls = o.insecure
        ? 'insecure'
        : readServerTls(o.tlsDir === '<DIR>/tls' ? join(o.dir, 'tls') : o.tlsDir);
      if (o.insecure)
        console.error(
          'bluetill-backend: WARNING --insecure: no TLS, callers are not authenticated (local debugging only)',
        );
      const metrics = o.metricsPort === undefined ? undefined : new BackendMetrics({ processMetrics: true });
      const log = createLogger('backend');
      const backend = await startBackend({
        ...storage,
        keysPath,
        masterKey,
        reflection: o.reflection,
        host: o.host,
        port: o.port,
        services,
        tls,
        logger: log,
        worker: o.worker,
        ...(o.cryptoWorkers !== undefined ? { cryptoWorkers: o.cryptoWorkers } : {}),
        ...(metrics ? { metrics } : {}),
        shopper: o.shopper ? { port: o.shopperPort ?? (o.port === 0 ? 0 : o.port + 1) } : false,
      }).catch((e: unknown) => {
        if (/No address added|EADDRINUSE|bind/i.test((e as Error).message)) {
          throw new ListenError(
            `cannot listen on ${o.host}:${o.port}${o.shopper ? ` or the shopper port ${o.shopperPort ?? o.port + 1}` : ''}: the port is in use (another backend running?) or the address is not this machine's`,
            { cause: e },
          );
        }
        throw e;
      });
      console.log(`listening on ${backend.address} (${o.insecure ? 'INSECURE plaintext' : 'mutual TLS'})`);
      if (backend.shopperAddress)
        console.log(
          `shopper listener on ${backend.shopperAddress} (${o.insecure ? 'INSECURE plaintext' : 'TLS, no client certificate'})`,
        );
      const metricsServer = metrics
        ? await startMetricsServer(metrics, { host: o.host, port: o.metricsPort })
        : undefined;
      if (metricsServer) console.log(`metrics on ${metricsServer.url}`);
      // SIGTERM or SIGINT drains the node (main.ts drain): health NOT_SERVING, new calls refused so
      // tills move on, calls in flight finish and commit; exit 0. A second signal, or the drain
      // deadline, cuts the calls still in flight: exit 1.
      // A forced end is SIGKILL of this process, as a crash: exactly-once makes that safe for the
      // calls cut, and a thread waiting on the SQLite file's lock cannot be stopped cleanly (better-sqlite3
      // aborts the process when a worker is terminated inside its busy wait).
      const forced = () => afterLogWritten(log, () => process.kill(process.pid, 'SIGKILL'));
      let draining = false;
      const stop = (signal: NodeJS.Signals) => {
        if (draining) {
          log.warn({ event: 'drain_forced', signal }, `${signal} again: calls still in flight are cut`);
          forced();
          return;
        }
        draining = true;
        log.info({ event: 'signal', signal }, `${signal}: draining`);
        void backend.drain(o.drainTimeout).then(async (r) => {
          if (r.forced) return forced();
          await metricsServer?.close();
          log.flush(() => process.exit(0));
        });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
  );

/** A server that could not take its port: said in plain words, exit 2. */
class ListenError extends Error {
  readonly code = 'listen_failed';
}

const terminal = program
  .command('terminal')
  .description('registered terminals (tills): add one, its mutual-TLS client certificates');

terminal
  .command('issue-cert')
  .description(
    'issue a client certificate for a registered terminal (CN=ID, SAN urn:bluetill:terminal:ID); writes tls/terminal-ID.pem and tls/terminal-ID-key.pem (0600); refuses when they exist',
  )
  .requiredOption('--dir <dir>', 'data folder')
  .requiredOption('--id <id>', 'terminal id')
  .option(
    '--replace',
    "revoke the terminal's certificates first, then write the new key and certificate over the old files",
    false,
  )
  .option(...STORE_OPTION)
  .action(async (o: { dir: string; store?: string; id: string; replace: boolean }) => {
    unlockedKeys(o.dir);
    const tlsDir = join(o.dir, 'tls');
    const ca = readTlsAuthority(tlsDir);
    const issued = await withAdmin(o, async (admin) => {
      const t = await admin.findTerminal(o.id);
      if (!t) throw new InvalidArgumentError(`no terminal ${o.id} in the registry`);
      if (t.status !== 'active') throw new InvalidArgumentError(`terminal ${o.id} is ${t.status}`);
      return issueTerminalTls(
        tlsDir,
        admin,
        ca,
        { terminalId: t.id, merchantId: t.merchantId },
        { replace: o.replace },
      );
    });
    if (issued.revoked > 0) console.log(`terminal ${o.id}: ${issued.revoked} earlier certificate(s) revoked`);
    console.log(
      `terminal ${o.id}: certificate serial ${issued.serial} (valid until ${new Date(issued.notAfter).toISOString()}) written to ${tlsDir}/terminal-${o.id}.pem and -key.pem`,
    );
  });

terminal
  .command('revoke')
  .description(
    "revoke a terminal's client certificates (all, or the one with --serial); a running server refuses them from the next call",
  )
  .requiredOption('--dir <dir>', 'data folder')
  .requiredOption('--id <id>', 'terminal id')
  .option('--serial <hex>', 'only the certificate with this serial number')
  .option(...STORE_OPTION)
  .action(async (o: { dir: string; store?: string; id: string; serial?: string }) => {
    unlockedKeys(o.dir);
    const n = await withAdmin(o, (admin) =>
      admin.revokeTerminalCertificates(o.id, o.serial === undefined ? {} : { serial: o.serial }),
    );
    if (n === 0)
      throw new InvalidArgumentError(
        `terminal ${o.id}: no unrevoked certificate${o.serial ? ` with serial ${o.serial}` : ''}`,
      );
    console.log(`terminal ${o.id}: ${n} certificate(s) revoked`);
  });

const card = program.command('card').description('issue and administer cards');

card
  .command('issue')
  .description(
    'register a card and write its personalization file (for a card writer: bluetill-phone card write FILE)',
  )
  .requiredOption('--dir <dir>', 'data folder')
  .requiredOption('--id <id>', 'card id')
  .requiredOption('--pan <pan>', 'card number (12-19 digits)')
  .requiredOption('--expiry <yymm>', 'expiry, YYMM')
  .requiredOption('--name <name>', 'cardholder name as embossed')
  .option('--psn <n>', 'PAN sequence number', integer, 1)
  .option('--limit <minor>', 'credit limit in minor units', integer, 100_000)
  .option('--currency <code>', 'ISO 4217 currency', 'EUR')
  .option(
    '--merchant <id>',
    'a merchant IC card for this registered merchant (its id goes on the card, 9F16); no PIN, no credit limit',
  )
  .requiredOption('--out <file>', 'personalization file to write (secret: mode 0600)')
  .option(...STORE_OPTION)
  .option(
    '--biometric-template-file <file>',
    'fingerprint template for match-on-card: 64 bytes, signed components (claim 16)',
  )
  .option(
    '--knowledge-secret-fd <n>',
    'read the knowledge secret the card checks from this file descriptor (claim 17); never an argument',
    integer,
  )
  .option(
    '--offline-lower <n>',
    `offline approvals in a row before the card asks to go online (9F14; default ${DEFAULT_OFFLINE_LIMITS.lower})`,
    integer,
  )
  .option(
    '--offline-upper <n>',
    `offline approvals in a row before the card declines (9F23; default ${DEFAULT_OFFLINE_LIMITS.upper})`,
    integer,
  )
  .option(
    '--offline-amount <amount>',
    `amount the card approves offline between two online approvals, in --currency (default ${DEFAULT_OFFLINE_LIMITS.amount})`,
  )
  .action(
    async (o: {
      dir: string;
      store?: string;
      id: string;
      pan: string;
      expiry: string;
      name: string;
      psn: number;
      limit: number;
      currency: string;
      out: string;
      merchant?: string;
      biometricTemplateFile?: string;
      knowledgeSecretFd?: number;
      offlineLower?: number;
      offlineUpper?: number;
      offlineAmount?: string;
    }) => {
      const fields = (issuerIdentifier: string) => {
        try {
          validateCardFields(
            { pan: o.pan, expiry: o.expiry, name: o.name, panSequence: o.psn },
            { issuerIdentifier, now: Date.now() },
          );
        } catch (e) {
          if (e instanceof CardFieldError) throw new InvalidArgumentError(`${e.code}: ${e.message}`);
          throw e;
        }
      };
      if (
        o.merchant !== undefined &&
        (o.offlineLower !== undefined || o.offlineUpper !== undefined || o.offlineAmount !== undefined)
      )
        throw new InvalidArgumentError('a merchant card takes no offline limits');
      if (o.merchant !== undefined) {
        const { material } = unlockedKeys(o.dir);
        fields(material.emv.issuerIdentifier);
        const keys = new SoftwareKeyStore(material);
        await withAdmin(o, async (admin) => {
          if (!(await admin.findMerchant(o.merchant!)))
            throw new InvalidArgumentError(`no merchant ${o.merchant}`);
          await issueAtomically(
            o.out,
            (path) =>
              writePersonalizationFile(
                path,
                o.id,
                issueMerchantCard(material, {
                  pan: o.pan,
                  panSequence: o.psn,
                  expiry: o.expiry,
                  name: o.name,
                  merchantId: o.merchant!,
                }),
              ),
            (within) =>
              registerMerchantCard(
                admin,
                keys,
                {
                  id: o.id,
                  pan: o.pan,
                  panSequence: o.psn,
                  expiry: o.expiry,
                  merchantId: o.merchant!,
                  name: o.name,
                },
                { within },
              ),
          );
        });
        console.log(
          `issued merchant card ${o.id} (${maskPan(o.pan)}) for merchant ${o.merchant}, terminal ${merchantCardTerminalId(o.id)}; personalization written to ${o.out}`,
        );
        return;
      }
      const pin = process.env.BLUETILL_CARD_PIN;
      if (!pin || !/^\d{4,12}$/.test(pin))
        throw new InvalidArgumentError(
          'set BLUETILL_CARD_PIN to the card PIN (4-12 digits); it is never taken as an argument',
        );
      // Cardholder-verification secrets go to the card only: checked here, never printed or logged.
      const secretInput = <T>(what: string, read: () => T): T => {
        try {
          return read();
        } catch (e) {
          throw new InvalidArgumentError(e instanceof CvmDataError ? e.message : `cannot read the ${what}`);
        }
      };
      const biometricTemplate =
        o.biometricTemplateFile === undefined
          ? undefined
          : secretInput('biometric template file', () =>
              templateFromBytes(new Uint8Array(readFileSync(o.biometricTemplateFile!))),
            );
      const knowledgeSecret =
        o.knowledgeSecretFd === undefined
          ? undefined
          : secretInput('knowledge secret', () => {
              const secret = readFileSync(o.knowledgeSecretFd!, 'utf8').replace(/\r?\n$/, '');
              encodeKnowledgeSecret(secret);
              return secret;
            });
      const { material } = unlockedKeys(o.dir);
      fields(material.emv.issuerIdentifier);
      if (!SUPPORTED_CURRENCIES.includes(o.currency))
        throw new InvalidArgumentError(`currency must be one of ${SUPPORTED_CURRENCIES.join(', ')}`);
      let offlineLimits;
      try {
        offlineLimits = offlineLimitsFrom(
          { lower: o.offlineLower, upper: o.offlineUpper, amount: o.offlineAmount },
          o.currency,
        );
      } catch (e) {
        if (e instanceof OfflineLimitsError) throw new InvalidArgumentError(`${e.code}: ${e.message}`);
        throw e;
      }
      const keys = new SoftwareKeyStore(material);
      await withAdmin(o, (admin) =>
        issueAtomically(
          o.out,
          (path) =>
            writePersonalizationFile(
              path,
              o.id,
              issueCard(material, {
                pan: o.pan,
                panSequence: o.psn,
                expiry: o.expiry,
                cardholderName: o.name,
                pin,
                offlineLimits,
                ...(biometricTemplate ? { biometricTemplate } : {}),
                ...(knowledgeSecret !== undefined ? { knowledgeSecret } : {}),
              }),
            ),
          (within) =>
            registerCard(
              admin,
              keys,
              {
                id: o.id,
                pan: o.pan,
                panSequence: o.psn,
                expiry: o.expiry,
                cardholderName: o.name,
                pin,
                creditLimitMinor: o.limit,
                currency: o.currency,
              },
              within,
            ),
        ),
      );
      const extras = [
        biometricTemplate ? 'fingerprint template' : '',
        knowledgeSecret !== undefined ? 'knowledge secret' : '',
      ].filter(Boolean);
      console.log(
        `issued card ${o.id} (${maskPan(o.pan)})${extras.length ? ` with ${extras.join(' and ')}` : ''}; personalization written to ${o.out}`,
      );
      console.log(
        `offline limits: online after ${offlineLimits.lowerConsecutive} offline approvals in a row, declined after ${offlineLimits.upperConsecutive}, ${formatMoney({ minor: offlineLimits.amountMinor, currency: o.currency })} between online approvals`,
      );
    },
  );

const BLOCK_REASONS = ['blocked', 'lost', 'stolen'] as const;
type BlockReason = (typeof BLOCK_REASONS)[number];
const blockReason = (v: string): BlockReason => {
  if (!(BLOCK_REASONS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`must be one of ${BLOCK_REASONS.join(', ')}`);
  return v as BlockReason;
};

/** Block, unblock or unlock a card; a command that would change nothing says so and exits 2. */
for (const [name, what] of [
  ['block', 'block a card (--reason lost or stolen: recorded as its status)'],
  ['unblock', 'make a blocked card active again'],
  ['unlock-pin', 'reset the PIN try counter (issuer action)'],
] as const) {
  const command = card
    .command(name)
    .description(what)
    .option('--dir <dir>', 'data folder (its backend.sqlite is the default store)')
    .requiredOption('--id <id>', 'card id');
  if (name === 'block')
    command.option(
      '--reason <reason>',
      `why: ${BLOCK_REASONS.join(', ')} (payment cards; merchant cards are just blocked)`,
      blockReason,
      'blocked',
    );
  command.option(...STORE_OPTION);
  command.action(async (o: StoreChoice & { id: string; reason?: BlockReason }) => {
    const done = await withAdmin(o, async (admin) => {
      const found = await admin.findCard(o.id);
      if (!found) throw new InvalidArgumentError(`no card ${o.id}`);
      if (name === 'unlock-pin') {
        if (found.kind === 'merchant')
          throw new InvalidArgumentError(`${o.id} is a merchant card: it has no PIN to unlock`);
        if (found.pinTries === 0)
          throw new InvalidArgumentError(`card ${o.id} has no wrong PIN tries to reset`);
        await admin.resetPinTries(o.id);
        return 'PIN tries reset';
      }
      if (name === 'block') {
        if (found.status !== 'active')
          throw new InvalidArgumentError(`card ${o.id} is ${found.status} already`);
        if (found.kind === 'payment') await admin.setCardStatus(o.id, o.reason ?? 'blocked');
        else await admin.setMerchantCardStatus(o.id, 'blocked');
        return `blocked (${found.kind === 'payment' ? (o.reason ?? 'blocked') : 'blocked'})`;
      }
      if (found.status === 'active') throw new InvalidArgumentError(`card ${o.id} is active already`);
      if (found.kind === 'payment') await admin.setCardStatus(o.id, 'active');
      else await admin.setMerchantCardStatus(o.id, 'active');
      return `active again (was ${found.status})`;
    });
    console.log(`card ${o.id}: ${done}`);
  });
}

program
  .command('transactions')
  .description("a terminal's or a merchant's sales, refunds and voids")
  .command('export')
  .description('write them as CSV (masked card numbers only; amounts in minor units)')
  .requiredOption('--dir <dir>', 'data folder')
  .option('--terminal <id>', 'terminal id')
  .option(
    '--merchant <id>',
    'merchant id: every terminal of the merchant, its tills and its merchant cards (with a terminal_id column)',
  )
  .option('--from <time>', 'from (inclusive): ISO 8601 or unix ms', instant, 0)
  .option('--to <time>', 'to (exclusive): ISO 8601 or unix ms (default: now)', instant)
  .requiredOption('--out <file>', 'CSV file to write, or - for standard output')
  .option(...STORE_OPTION)
  .action(
    async (o: {
      dir: string;
      store?: string;
      terminal?: string;
      merchant?: string;
      from: number;
      to?: number;
      out: string;
    }) => {
      if ((o.terminal === undefined) === (o.merchant === undefined))
        throw new InvalidArgumentError('give --terminal ID or --merchant ID');
      const to = o.to ?? Date.now() + 1;
      if (o.from >= to)
        throw new InvalidArgumentError(
          `--from (${new Date(o.from).toISOString()}) must be before --to (${new Date(to).toISOString()})`,
        );
      const { csv, count, what } = await withBackendStore(o, (store) =>
        store.read(async (tx) => {
          if (o.merchant !== undefined) {
            if (!(await tx.findMerchant(o.merchant)))
              throw new InvalidArgumentError(`no merchant ${o.merchant}`);
            const rows = await tx.listMerchantTransactions(o.merchant, o.from, to, Number.MAX_SAFE_INTEGER);
            return {
              csv: transactionsCsv(rows, { withTerminal: true }),
              count: rows.length,
              what: `merchant ${o.merchant}`,
            };
          }
          if (!(await tx.findTerminal(o.terminal!)))
            throw new InvalidArgumentError(`no terminal ${o.terminal}`);
          const rows = await tx.listTransactions(o.terminal!, o.from, to, Number.MAX_SAFE_INTEGER);
          return { csv: transactionsCsv(rows), count: rows.length, what: `terminal ${o.terminal}` };
        }),
      );
      if (o.out === '-') {
        process.stdout.write(csv);
        console.error(`${what}: ${count} transaction(s)`);
        return;
      }
      writeFileSync(o.out, csv);
      console.log(`${what}: ${count} transaction(s) written to ${o.out}`);
    },
  );

program
  .command('batch')
  .description("a terminal's batches (business days)")
  .command('close')
  .description(
    "close the terminal's open batch and print its totals (they reconcile with the ledger, or nothing is closed)",
  )
  .requiredOption('--dir <dir>', 'data folder')
  .requiredOption('--terminal <id>', 'terminal id')
  .option(...STORE_OPTION)
  .action(async (o: { dir: string; store?: string; terminal: string }) => {
    await withBackendStore(o, async (store) => {
      const b = await new BatchUseCase(store, systemClock).closeBatch(
        { terminalId: o.terminal, closeRequestId: '' },
        { kind: 'admin' },
      );
      const t = b.totals!;
      const m = (minor: number) => formatMoney({ minor, currency: t.currency || 'EUR' });
      console.log(
        `terminal ${o.terminal}: batch ${b.batchId} closed (${new Date(b.openedAtMs).toISOString()} – ${new Date(b.closedAtMs).toISOString()})`,
      );
      console.log(`  sales   ${t.saleCount} ${m(t.saleMinor)}`);
      console.log(`  refunds ${t.refundCount} ${m(t.refundMinor)}`);
      console.log(`  voids   ${t.voidCount} ${m(t.voidMinor)}`);
      console.log(`  net     ${m(t.netMinor)}`);
    });
  });

program
  .command('migrate')
  .description(
    "bring the store's schema to this release's (or to --to N): SQLite, one transaction per migration; PostgreSQL, all in one transaction under an advisory lock",
  )
  .option('--dir <dir>', 'data folder (its backend.sqlite is the default store)')
  .option(...STORE_OPTION)
  .option('--to <n>', 'the schema version to reach (default: the newest; never goes back)', integer)
  .action(async (o: StoreChoice & { to?: number }) => {
    const spec = resolveStoreSpec(o);
    const r = await migrateStore(spec, o.to);
    console.log(
      `${describeStore(spec)}: schema version ${r.from} → ${r.to}; ${r.applied.length === 0 ? 'nothing to apply' : `applied ${r.applied.join(', ')}`}`,
    );
  });

addRegistryCommands(program, withAdmin);
addOfflineCommands(program, withAdmin);

/**
 * Exit codes: 0 done; 2 refused — a usage error (commander has printed it), a bad value, or an
 * operation the registry or key store refuses (printed here with its code, when it has one).
 */
program.parseAsync(process.argv).catch((error: unknown) => {
  // commander printed its own usage errors (and help) already; an InvalidArgumentError from an action it did not.
  if (error instanceof CommanderError && !(error instanceof InvalidArgumentError))
    process.exit(error.exitCode === 0 ? 0 : 2);
  const own = (error as { code?: unknown }).code;
  const code = !(error instanceof InvalidArgumentError) && typeof own === 'string' ? `${own}: ` : '';
  console.error(`bluetill-backend: ${code}${(error as Error).message}`);
  process.exit(2);
});
