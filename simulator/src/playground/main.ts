/**
 * `make till` (`npm run till`): a till a person can use, with simulated phones. Starts the seeded
 * backend (in .data/playground/, reused on the next start), the virtual LE radio and the till
 * (`pos-terminal serve`, bleno on the radio) with its cashier UI, and a demo cashier; then waits,
 * until Ctrl-C, for `npm run phones` to bring phones over the radio.
 *
 *   npx tsx simulator/src/playground/main.ts [--port 8080] [--dir .data/playground] [--backend HOST:PORT,…]
 *   (or BLUETILL_PLAYGROUND_PORT, BLUETILL_PLAYGROUND_DIR, BLUETILL_BACKEND)
 *
 * With --backend the till talks to backend nodes that run already (`make cluster` prints the
 * command: its backend folder as the playground's, its nodes' addresses) instead of starting one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { fleetCards, seedDemo, startBackend, DEMO_TERMINAL_ID, type RunningBackend } from '@bluetill/backend';
import { LOG_REDACT_PATHS } from '@bluetill/protocol';
import { RadioProcess } from '../radio/radio-process';
import { repoRoot } from '../radio/host-process';
import {
  controlFile,
  keysFile,
  loadOrCreateKeys,
  playgroundDir,
  readControl,
  PLAYGROUND_FLEET_CARDS,
  type PlaygroundControl,
} from './playground-files';

const DEMO_CASHIER = { id: 'demo', name: 'Demo Cashier', pin: '1234' };
const COUNTER = 'Counter 1';

const tsx = (script: string, args: string[], o: { env?: NodeJS.ProcessEnv; log: string }): ChildProcess => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot(), script), ...args], {
    cwd: repoRoot(),
    env: { ...process.env, ...o.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log = createWriteStream(o.log, { flags: 'a' });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  return child;
};

const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));

async function addDemoCashier(file: string, log: string): Promise<void> {
  const child = tsx(
    'pos-terminal/src/server/cashiers-cli.ts',
    ['add', '--file', file, '--id', DEMO_CASHIER.id, '--name', DEMO_CASHIER.name, '--role', 'manager'],
    { log },
  );
  child.stdin?.end(`${DEMO_CASHIER.pin}\n`);
  if ((await exited(child)) !== 0) throw new Error(`could not add the demo cashier (see ${log})`);
}

/** Starts `pos-terminal serve`; resolves with its URL once it serves. */
function startTill(
  args: string[],
  tillKey: string,
  log: string,
): Promise<{ child: ChildProcess; url: string }> {
  const child = tsx('pos-terminal/src/server/cli.ts', args, { env: { BLUETILL_TILL_KEY: tillKey }, log });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /serving (\S+)/.exec(out)?.[1];
      if (url) resolvePromise({ child, url });
    });
    child.once('exit', (code) =>
      reject(new Error(`the till stopped (exit ${code}) before it served; see ${log}`)),
    );
  });
}

/** The radio's control endpoint: phones in other processes ask it for a controller and its pty. */
function startRadioControl(radio: RadioProcess): Promise<{ server: Server; url: string }> {
  let phones = 0;
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const name = /^\/phone-devices\/(phone-[0-9]+)$/.exec(req.url ?? '')?.[1];
    if (req.method === 'POST' && req.url === '/phone-devices') {
      const deviceName = `phone-${++phones}`;
      radio
        .addDevice({ name: deviceName, distanceM: 1 + (phones % 5), shaping: { llPayloadBytes: 251 } })
        .then(
          (d) => send(200, { name: d.name, ttyPath: d.ttyPath, address: d.address }),
          (e: unknown) => send(500, { error: (e as Error).message }),
        );
    } else if (req.method === 'DELETE' && name) {
      radio.removeDevice(name).then(
        () => send(200, { removed: name }),
        (e: unknown) => send(404, { error: (e as Error).message }),
      );
    } else send(404, { error: 'POST /phone-devices or DELETE /phone-devices/NAME' });
  });
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () =>
      r({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: process.env.BLUETILL_PLAYGROUND_PORT ?? '8080' },
      dir: { type: 'string' },
      backend: { type: 'string', default: process.env.BLUETILL_BACKEND ?? '' },
    },
    strict: true,
  });
  const dir = values.dir ? resolve(process.env.INIT_CWD ?? process.cwd(), values.dir) : playgroundDir();
  mkdirSync(dir, { recursive: true });
  const running = (() => {
    try {
      return readControl(dir);
    } catch {
      return null;
    }
  })();
  if (running)
    throw new Error(`a playground already runs in ${dir} (process ${running.pid}, till ${running.till})`);
  const logFile = join(dir, 'playground.log');
  const tillLog = join(dir, 'till.log');
  const logger = pino(
    { level: 'info', redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } },
    pino.destination({ dest: logFile, sync: true }),
  );
  const terminalFile = join(dir, `terminal-${DEMO_TERMINAL_ID}.json`);
  const cashiersFile = join(dir, 'cashiers.json');
  const external = values.backend;
  if (external && (!existsSync(keysFile(dir)) || !existsSync(terminalFile)))
    throw new Error(
      `--backend ${external}: ${dir} is not that backend's folder (no keys or terminal identity; make cluster prints the folder)`,
    );
  const { keys, created } = loadOrCreateKeys(dir);
  if (created || !existsSync(terminalFile))
    await seedDemo(dir, [], fleetCards(PLAYGROUND_FLEET_CARDS), { masterKey: keys.masterKey });
  if (!existsSync(cashiersFile)) await addDemoCashier(cashiersFile, tillLog);
  console.log(
    `bluetill playground in ${dir} (${created ? 'new: seeded' : 'reused'}; its keys in ${keysFile(dir)}, 0600)`,
  );

  let backend: RunningBackend | null = null;
  let radio: RadioProcess | null = null;
  let till: ChildProcess | null = null;
  let control: Server | null = null;
  try {
    if (!external)
      backend = await startBackend({
        dbPath: join(dir, 'backend.sqlite'),
        keysPath: join(dir, 'keys.json'),
        masterKey: keys.masterKey,
        logger,
      });
    const backendAddresses = external || `localhost:${backend!.port}`;
    radio = await RadioProcess.start({});
    const tillDevice = await radio.addDevice({ name: 'till', distanceM: 0, aclBuffers: 24 });
    const tokenFile = join(dir, 'till', 'api-token');
    const started = await startTill(
      [
        '--terminal',
        terminalFile,
        '--backend',
        backendAddresses,
        '--ble',
        `uart:${tillDevice.ttyPath}`,
        '--cashiers',
        cashiersFile,
        '--port',
        values.port,
        '--data',
        join(dir, 'till'),
        '--counter',
        COUNTER,
        '--token-file',
        tokenFile,
      ],
      keys.tillKey,
      tillLog,
    );
    till = started.child;
    const radioControl = await startRadioControl(radio);
    control = radioControl.server;
    const c: PlaygroundControl = {
      pid: process.pid,
      radio: radioControl.url,
      till: started.url,
      tokenFile,
      counterName: COUNTER,
      cardsDir: join(dir, 'cards'),
      trustFile: join(dir, 'trust.json'),
    };
    writeFileSync(controlFile(dir), JSON.stringify(c, null, 2) + '\n');
    console.log(
      `  backend (authorization + settlement) on ${backendAddresses}${external ? ' (running already)' : ''}`,
    );
    console.log(
      `  virtual LE radio: the till's controller on ${tillDevice.ttyPath}; phones attach through ${radioControl.url}`,
    );
    console.log(`  till "${COUNTER}": cashier UI on ${started.url}`);
    console.log('');
    console.log('What to do next:');
    console.log(
      `  1. open ${started.url} and sign in as cashier "${DEMO_CASHIER.id}" with PIN ${DEMO_CASHIER.pin}`,
    );
    console.log(
      '  2. ring up a sale (F3 search, Enter adds) and charge it (F9): the basket waits for a phone',
    );
    console.log('  3. in another terminal, send phones to pay it:   npm run phones -- --count 1');
    console.log('     or let the phones ring up their own baskets:   npm run phones -- --count 3 --ring-up');
    console.log(`  logs: ${logFile} (backend), ${tillLog} (till); the API token for scripts: ${tokenFile}`);
    console.log(
      '  Ctrl-C stops the playground; the next `make till` reuses this folder (rm -r it to start afresh)',
    );
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
      started.child.once('exit', done);
    });
    console.log('playground: stopping');
    return started.child.exitCode === null ? 0 : 1;
  } finally {
    rmSync(controlFile(dir), { force: true });
    control?.close();
    if (till && till.exitCode === null) {
      till.kill('SIGTERM');
      const timer = setTimeout(() => till?.kill('SIGKILL'), 10_000);
      await exited(till);
      clearTimeout(timer);
    }
    await radio?.close();
    await backend?.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`playground: ${(error as Error).message}`);
    process.exit(1);
  },
);
