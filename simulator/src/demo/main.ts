/**
 * `make start`: the backend (authorization + settlement on loopback gRPC, SQLite), one till, and
 * three simulated phones paying three different baskets at the same time. Each phone and the till
 * print the receipt; structured logs go to a file. Each run starts afresh in its folder (new keys,
 * new database); the run's master key is left in demo-keys.json (0600) there, so the seeded folder
 * can be served again afterwards. Ends by saying what to try next.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { formatMoney, formatReceiptText, LOG_REDACT_PATHS, type Item } from '@bluetill/protocol';
import { DEMO_CARDS } from '@bluetill/backend';
import { startWorld } from '../world';
import { VirtualBle } from '../link/virtual-ble';
import { cardProfileFromEnv } from '../card/card-timing';

const SHOPPERS = [
  {
    cardId: 'card-alice',
    pin: '1234',
    basket: [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }],
  },
  {
    cardId: 'card-bob',
    pin: '2580',
    basket: [
      { sku: 'sandwich', name: 'Club sandwich', quantity: 1, unitPriceMinor: 650 },
      { sku: 'water', name: 'Still water', quantity: 2, unitPriceMinor: 120 },
    ],
  },
  {
    cardId: 'card-chen',
    pin: '9876',
    basket: [
      { sku: 'book', name: 'Paperback', quantity: 1, unitPriceMinor: 1299 },
      { sku: 'pen', name: 'Gel pen', quantity: 3, unitPriceMinor: 199 },
    ],
  },
] satisfies Array<{ cardId: string; pin: string; basket: Item[] }>;

const WHAT_NEXT = `
What to try next:
  make till                            a till you can use: the cashier's screen on http://127.0.0.1:8080
                                       (sign in as "demo", PIN 1234), the backend and the virtual radio;
                                       it prints what to do; Ctrl-C stops it, the next start reuses it
  npm run phones -- --count 3          in another terminal: three simulated phones pay the baskets
                                       the cashier charged (add --ring-up: they ring up their own)
  README.md "Getting started"          the demo cards and their PINs, the logs, each package's README`;

const indent = (text: string, by = '    ') =>
  text
    .split('\n')
    .map((l) => by + l)
    .join('\n');

async function main(): Promise<number> {
  const dir = resolve(process.env.BLUETILL_DEMO_DIR ?? join(process.cwd(), '.data', 'demo'));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'bluetill.log');
  const logger = pino(
    { level: 'info', redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } },
    pino.destination({ dest: logFile, sync: true }),
  );
  console.log(
    'bluetill demo: backend (authorization + settlement, gRPC on loopback, SQLite), one till, three phones',
  );
  console.log(
    '  radio: the virtual LE controller; the till runs bleno, each phone noble, over HCI on pseudo-terminals (30 ms connection interval)',
  );
  console.log(
    '  cards: the "typical" timing profile (a contactless card\'s ~0.5 s of commands, as real cards take)',
  );
  const ble = await VirtualBle.start({ trace: { dir: join(dir, 'hci') } });
  const world = await startWorld({ dir, logger, radio: ble, cardProfile: cardProfileFromEnv() });
  // The folder is reusable after the run: its keys.json is sealed under this key (never printed).
  const keysFile = join(dir, 'demo-keys.json');
  writeFileSync(keysFile, JSON.stringify({ masterKey: world.masterKey.toBase64() }) + '\n', { mode: 0o600 });
  console.log(
    `  backend listening on ${world.backend.address}; data in ${dir} (each run starts afresh there; its master key in ${keysFile}, 0600)`,
  );
  let failures = 0;
  try {
    for (const s of SHOPPERS) {
      const id = world.ringUp(s.basket);
      const total = s.basket.reduce((n, i) => n + i.quantity * i.unitPriceMinor, 0);
      console.log(
        `  till: basket ${id} rung up, ${s.basket.length} line(s), ${formatMoney({ minor: total, currency: 'EUR' })}`,
      );
    }
    console.log('  three phones connect and pay at the same time...\n');
    const t0 = performance.now();
    const runs = await Promise.all(SHOPPERS.map((s) => world.phonePays(s.cardId, s.pin)));
    const wall = performance.now() - t0;
    runs.forEach((run, i) => {
      const holder = DEMO_CARDS.find((c) => c.id === SHOPPERS[i]!.cardId)!.cardholderName;
      console.log(`PHONE ${i + 1} (${holder}) — ${run.outcome.kind} in ${run.ms.toFixed(0)} ms`);
      if (run.outcome.kind === 'approved') console.log(indent(formatReceiptText(run.outcome.receipt)) + '\n');
      else {
        failures++;
        console.log(`    ${JSON.stringify(run.outcome)}\n`);
      }
    });
    const tillReceipts = world.events.flatMap((e) => (e.type === 'receipt' ? [e.receipt] : []));
    console.log(`TILL — ${tillReceipts.length} receipt(s) issued`);
    for (const r of tillReceipts) console.log(indent(formatReceiptText(r)) + '\n');
    const ledger = world.backend.store.db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(amount_minor), 0) AS sum FROM postings')
      .get() as { n: number; sum: number };
    console.log(
      `ledger: ${ledger.n} postings, sum ${ledger.sum} (balanced: ${ledger.sum === 0 ? 'yes' : 'NO'})`,
    );
    console.log(
      `three payments in ${wall.toFixed(0)} ms wall time; structured logs: ${logFile}; HCI traces: ${join(dir, 'hci')}`,
    );
    if (ledger.sum !== 0 || tillReceipts.length !== SHOPPERS.length) failures++;
    console.log(WHAT_NEXT);
  } finally {
    await world.close();
    await ble.close();
  }
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('demo failed:', error);
    process.exit(1);
  },
);
