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
 *   bluetill-backend transactions export --dir DIR --terminal ID | --merchant M [--from T] [--to T] --out FILE.csv   masked card numbers only
 *   bluetill-backend batch close --dir DIR --terminal ID   close the terminal's open batch, print its totals
 *
 * DIR holds keys.json, backend.sqlite and tls/ (as `seed` writes them). keys.json is sealed under
 * the master key (32 bytes, base64) in $BLUETILL_MASTER_KEY: `seed`, `keys`, `serve`, `card issue`
 * and `terminal …` need it, and refuse (exit 2, code master_key_missing / master_key_wrong) without
 * the right one. No command prints a key.
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
import { addRegistryCommands } from './registry-commands';
import {
  merchantCardTerminalId,
  registerCard,
  registerMerchantCard,
  revokeTerminalCertificates,
  setCardStatus,
  setMerchantCardStatus,
  unlockPin,
} from '../admin/registry';
import { SqliteShopperStore } from '../adapters/sqlite/shopper-store.sqlite';
import { issueTerminalTls, readTlsAuthority } from '../admin/tls-issuing';
import { readServerTls } from '../adapters/tls-files';
import { SoftwareKeyStore } from '../adapters/key-store.file';
import { readKeysFile, rotateKeysFile, writeKeysFile } from '../adapters/keys-file';
import { masterKeyFromEnv, NEW_MASTER_KEY_ENV } from '../adapters/master-key';
import { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';
import { DRAIN_DEADLINE_MS, startBackend } from '../main';
import { createLogger, flushLogSync } from '../adapters/logger';
import { BackendMetrics } from '../adapters/metrics/backend-metrics';
import { startMetricsServer } from '../adapters/metrics/metrics-server';
import { BatchUseCase } from '../app/batch-service';
import { systemClock } from '../ports/clock';
import { transactionsCsv } from './transactions-csv';

const program = new Command('bluetill-backend')
  .description('bluetill card company backend: authorization and settlement servers, admin tool')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

const dirPaths = (dir: string) => {
  const keysPath = join(dir, 'keys.json');
  const dbPath = join(dir, 'backend.sqlite');
  if (!existsSync(keysPath) || !existsSync(dbPath))
    throw new InvalidArgumentError(`${dir} has no keys.json / backend.sqlite (run "seed" first)`);
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
/** Opens DIR's database for one command and closes it after, whatever happens. */
const withStore = <T>(dir: string, use: (store: SqliteBackendStore) => T): T => {
  const store = new SqliteBackendStore(dirPaths(dir).dbPath);
  try {
    return use(store);
  } finally {
    store.close();
  }
};
/**
 * Writes a personalization file only if `register` succeeds, and registers only if the file can be
 * written: the file is written beside its target first (new, 0600), `register` runs in one
 * transaction that also puts the file in place (a hard link: refused if the target exists), and
 * the temporary name is removed whatever happens.
 */
const issueAtomically = (
  store: SqliteBackendStore,
  out: string,
  write: (path: string) => void,
  register: () => void,
): void => {
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
  try {
    write(tmp);
    store.db.transaction(() => {
      register();
      linkSync(tmp, out);
    })();
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
  .action(async (o: { dir: string; serverName?: string[] }) => {
    const masterKey = masterKeyFromEnv();
    mkdirSync(o.dir, { recursive: true });
    const s = await seedDemo(o.dir, [], [], { masterKey, serverNames: o.serverName ?? [] });
    console.log(
      `seeded ${o.dir}: ${s.dbPath}, ${s.keysPath}, cards in ${s.cardsDir}, terminal identity terminal-${s.terminal.terminalId}.json, trust.json, TLS material in ${s.tlsDir}`,
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
  .option(
    '--drain-timeout <ms>',
    'on SIGTERM/SIGINT: how long calls in flight may take to finish before they are cut (a second signal cuts them at once)',
    integer,
    DRAIN_DEADLINE_MS,
  )
  .action(
    async (o: {
      dir: string;
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
        ...dirPaths(o.dir),
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
      const forced = () => {
        flushLogSync(log);
        process.kill(process.pid, 'SIGKILL');
      };
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
  .action(async (o: { dir: string; id: string; replace: boolean }) => {
    unlockedKeys(o.dir);
    const tlsDir = join(o.dir, 'tls');
    const ca = readTlsAuthority(tlsDir);
    const store = new SqliteBackendStore(dirPaths(o.dir).dbPath);
    try {
      const t = store.findTerminal(o.id);
      if (!t) throw new InvalidArgumentError(`no terminal ${o.id} in the registry`);
      if (t.status !== 'active') throw new InvalidArgumentError(`terminal ${o.id} is ${t.status}`);
      const issued = await issueTerminalTls(
        tlsDir,
        store.db,
        ca,
        { terminalId: t.id, merchantId: t.merchantId },
        { replace: o.replace },
      );
      if (issued.revoked > 0)
        console.log(`terminal ${o.id}: ${issued.revoked} earlier certificate(s) revoked`);
      console.log(
        `terminal ${o.id}: certificate serial ${issued.serial} (valid until ${new Date(issued.notAfter).toISOString()}) written to ${tlsDir}/terminal-${o.id}.pem and -key.pem`,
      );
    } finally {
      store.close();
    }
  });

terminal
  .command('revoke')
  .description(
    "revoke a terminal's client certificates (all, or the one with --serial); a running server refuses them from the next call",
  )
  .requiredOption('--dir <dir>', 'data folder')
  .requiredOption('--id <id>', 'terminal id')
  .option('--serial <hex>', 'only the certificate with this serial number')
  .action((o: { dir: string; id: string; serial?: string }) => {
    unlockedKeys(o.dir);
    const store = new SqliteBackendStore(dirPaths(o.dir).dbPath);
    try {
      const n = revokeTerminalCertificates(
        store.db,
        o.id,
        o.serial === undefined ? {} : { serial: o.serial },
      );
      if (n === 0)
        throw new InvalidArgumentError(
          `terminal ${o.id}: no unrevoked certificate${o.serial ? ` with serial ${o.serial}` : ''}`,
        );
      console.log(`terminal ${o.id}: ${n} certificate(s) revoked`);
    } finally {
      store.close();
    }
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
    (o: {
      dir: string;
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
      /** Neither the id nor the card number may be registered already (as a payment or a merchant card). */
      const unregistered = (store: SqliteBackendStore, keys: SoftwareKeyStore) => {
        const panHash = keys.panHash(o.pan);
        const taken = store.db
          .prepare(
            'SELECT 1 FROM cards WHERE id = ? OR pan_hash = ? UNION ALL SELECT 1 FROM merchant_cards WHERE id = ? OR pan_hash = ?',
          )
          .get(o.id, panHash, o.id, panHash);
        if (taken)
          throw new InvalidArgumentError(
            `card ${o.id} or card number ${maskPan(o.pan)} is registered already`,
          );
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
        withStore(o.dir, (store) => {
          unregistered(store, keys);
          if (!store.findMerchant(o.merchant!)) throw new InvalidArgumentError(`no merchant ${o.merchant}`);
          issueAtomically(
            store,
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
            () =>
              registerMerchantCard(store.db, keys, {
                id: o.id,
                pan: o.pan,
                panSequence: o.psn,
                expiry: o.expiry,
                merchantId: o.merchant!,
                name: o.name,
              }),
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
      withStore(o.dir, (store) => {
        unregistered(store, keys);
        issueAtomically(
          store,
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
          () =>
            registerCard(store.db, keys, {
              id: o.id,
              pan: o.pan,
              panSequence: o.psn,
              expiry: o.expiry,
              cardholderName: o.name,
              pin,
              creditLimitMinor: o.limit,
              currency: o.currency,
            }),
        );
      });
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
    .requiredOption('--dir <dir>', 'data folder')
    .requiredOption('--id <id>', 'card id');
  if (name === 'block')
    command.option(
      '--reason <reason>',
      `why: ${BLOCK_REASONS.join(', ')} (payment cards; merchant cards are just blocked)`,
      blockReason,
      'blocked',
    );
  command.action((o: { dir: string; id: string; reason?: BlockReason }) => {
    const done = withStore(o.dir, (store) => {
      const payment = store.findCardById(o.id);
      const merchantCard = payment
        ? undefined
        : (store.db.prepare('SELECT status FROM merchant_cards WHERE id = ?').get(o.id) as
            { status: string } | undefined);
      if (!payment && !merchantCard) throw new InvalidArgumentError(`no card ${o.id}`);
      const status = payment?.status ?? merchantCard!.status;
      if (name === 'unlock-pin') {
        if (!payment) throw new InvalidArgumentError(`${o.id} is a merchant card: it has no PIN to unlock`);
        if (payment.pinTries === 0)
          throw new InvalidArgumentError(`card ${o.id} has no wrong PIN tries to reset`);
        unlockPin(store.db, o.id);
        return 'PIN tries reset';
      }
      if (name === 'block') {
        if (status !== 'active') throw new InvalidArgumentError(`card ${o.id} is ${status} already`);
        if (payment) setCardStatus(store.db, o.id, o.reason ?? 'blocked');
        else setMerchantCardStatus(store.db, o.id, 'blocked');
        return `blocked (${payment ? (o.reason ?? 'blocked') : 'blocked'})`;
      }
      if (status === 'active') throw new InvalidArgumentError(`card ${o.id} is active already`);
      if (payment) setCardStatus(store.db, o.id, 'active');
      else setMerchantCardStatus(store.db, o.id, 'active');
      return `active again (was ${status})`;
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
  .action(
    (o: { dir: string; terminal?: string; merchant?: string; from: number; to?: number; out: string }) => {
      if ((o.terminal === undefined) === (o.merchant === undefined))
        throw new InvalidArgumentError('give --terminal ID or --merchant ID');
      const to = o.to ?? Date.now() + 1;
      if (o.from >= to)
        throw new InvalidArgumentError(
          `--from (${new Date(o.from).toISOString()}) must be before --to (${new Date(to).toISOString()})`,
        );
      const { csv, count, what } = withStore(o.dir, (store) => {
        if (o.merchant !== undefined) {
          if (!store.findMerchant(o.merchant)) throw new InvalidArgumentError(`no merchant ${o.merchant}`);
          const rows = new SqliteShopperStore(store.db).listMerchantTransactions(
            o.merchant,
            o.from,
            to,
            Number.MAX_SAFE_INTEGER,
          );
          return {
            csv: transactionsCsv(rows, { withTerminal: true }),
            count: rows.length,
            what: `merchant ${o.merchant}`,
          };
        }
        if (!store.findTerminal(o.terminal!)) throw new InvalidArgumentError(`no terminal ${o.terminal}`);
        const rows = store.listTransactions(o.terminal!, o.from, to, Number.MAX_SAFE_INTEGER);
        return { csv: transactionsCsv(rows), count: rows.length, what: `terminal ${o.terminal}` };
      });
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
  .action(async (o: { dir: string; terminal: string }) => {
    const store = new SqliteBackendStore(dirPaths(o.dir).dbPath);
    try {
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
    } finally {
      store.close();
    }
  });

addRegistryCommands(program, withStore);

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
