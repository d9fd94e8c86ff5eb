/**
 * BLE link loss at every point of a payment, over the real stacks (noble on the phone, bleno on
 * the till) and the simulator's virtual radio, with the real backend (gRPC + SQLite).
 *
 * - The phone's link is cut after the n-th ATT value, for every n of a payment, counted in both
 *   directions (a phone write or a till notification), so also in the middle of a message; an
 *   honest phone pays at the same till at the same time.
 * - The radio goes dark at a random time (every connection event lost) until the supervision
 *   timeout ends the link; the phone comes back into range shortly after.
 *
 * The only allowed outcomes: nothing charged (and the phone says so), or charged once with the
 * signed receipt at the phone (fetched after reconnecting when needed) and at the till. The ledger
 * sums to zero and the till keeps serving. Prints `faults_ble_drop`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fleetCards } from '@bluetill/backend';
import {
  dropAfterValues,
  phoneCardFromFile,
  runPhone,
  seededRandom,
  startWorld,
  VirtualBle,
  type PhoneRun,
  type World,
} from '@bluetill/simulator';
import type { PaymentCard } from '@bluetill/phone-agent';
import { publicKeyFromRaw, type Item } from '@bluetill/protocol';
import { SEED, SOAK, timeout } from './support';

let ble: VirtualBle;
const [dropper, honest] = fleetCards(3).slice(1);
let dropperCard: PaymentCard;
let world: World;
const figures = {
  runs: 0,
  nothingCharged: 0,
  chargedReceiptAtPhone: 0,
  chargedAfterReconnect: 0,
  honestApproved: 0,
  violations: 0,
  dropPoints: 0,
  blackouts: 0,
};
const t0 = performance.now();

beforeAll(async () => {
  ble = await VirtualBle.start();
  world = await startWorld({ radio: ble, fleetCards: 3 });
  dropperCard = (await phoneCardFromFile(join(world.seed.cardsDir, `${dropper!.id}.json`))).paymentCard;
}, 60_000);
afterAll(async () => {
  await world?.close();
  await ble?.close();
  const line = {
    bench: 'faults_ble_drop',
    value: figures.runs,
    unit: 'payments',
    ...figures,
    ms: Math.round(performance.now() - t0),
    seed: SEED,
    soak: SOAK,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
});

const postings = () =>
  (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;
const receiptsAtTill = () =>
  world.events.filter((e) => e.type === 'receipt' && e.receipt.result === 'approved').length;
let basketNo = 0;
const basket = (): Item[] => [
  { sku: `drop-${++basketNo}`, name: 'Batteries', quantity: 1, unitPriceMinor: 300 + basketNo },
];

const trust = () => ({
  acquirerCa: publicKeyFromRaw(Buffer.from(world.seed.trust.acquirerCa, 'base64')),
  cardCompanyRoot: publicKeyFromRaw(Buffer.from(world.seed.trust.cardCompanyRoot, 'base64')),
});

/** Checks one dropped payment's outcome against the ledger and the till; returns its class. */
function classify(
  run: PhoneRun,
  postingsBefore: number,
  postingsAfter: number,
  honestApproved: boolean,
): string {
  const own = postingsAfter - postingsBefore - (honestApproved ? 2 : 0);
  const o = run.outcome;
  if (o.kind === 'failed' && o.charged === 'no' && own === 0) return 'nothingCharged';
  // A phone gone after its card was authorized, before its Payment arrived: the till's Cancel, signed.
  if (o.kind === 'cancelled' && o.receipt?.result === 'cancelled' && own === 0) return 'nothingCharged';
  if (o.kind === 'approved' && own === 2)
    return run.beforeResume ? 'chargedAfterReconnect' : 'chargedReceiptAtPhone';
  return `violation: ${JSON.stringify({ outcome: o.kind, charged: 'charged' in o ? o.charged : undefined, code: 'code' in o ? o.code : undefined, ownPostings: own })}`;
}

function count(what: string): void {
  figures.runs++;
  if (what.startsWith('violation')) figures.violations++;
  else figures[what as 'nothingCharged' | 'chargedReceiptAtPhone' | 'chargedAfterReconnect']++;
}

describe('BLE link loss during a payment (real stacks, virtual radio)', () => {
  it(
    'cut after the n-th ATT value, every n, either direction: nothing charged or charged once with the receipt; an honest phone pays alongside',
    async () => {
      // A clean payment first, counting its ATT values.
      let values = 0;
      world.ringUp(basket());
      const clean = await runPhone({
        central: ble.central(),
        card: dropperCard,
        pin: dropper!.pin,
        trust: trust(),
        counterName: 'Counter 1',
        wrapLink: (l) => ({
          ...l,
          get mtu() {
            return l.mtu;
          },
          write: async (v, o) => {
            await l.write(v, o);
            values++;
          },
          onValue: (h) =>
            l.onValue((v) => {
              values++;
              h(v);
            }),
        }),
      });
      expect(clean.outcome.kind).toBe('approved');
      expect(values).toBeGreaterThan(6);
      figures.dropPoints = values;

      const outcomes: string[] = [];
      for (let n = 1; n <= values; n++) {
        world.ringUp(basket());
        world.ringUp(basket());
        const before = postings();
        const tillReceipts = receiptsAtTill();
        let direction = '';
        const [run, other] = await Promise.all([
          runPhone({
            central: ble.central(),
            card: dropperCard,
            pin: dropper!.pin,
            trust: trust(),
            counterName: 'Counter 1',
            wrapLink: (l) => dropAfterValues(l, n, (d) => (direction = d)),
          }),
          world.phonePays(honest!.id, honest!.pin),
        ]);
        const honestApproved = other.outcome.kind === 'approved';
        if (honestApproved) figures.honestApproved++;
        const what = classify(run, before, postings(), honestApproved);
        count(what);
        outcomes.push(`${n}${direction ? `/${direction}` : ''}: ${what}`);
        expect(what, `drop after value ${n} (${direction})`).not.toMatch(/^violation/);
        expect(other.outcome.kind, `the honest phone while value ${n} was cut`).toBe('approved');
        // every charge has its receipt at the till too
        expect(receiptsAtTill() - tillReceipts).toBe((postings() - before) / 2);
        expect(world.backend.store.ledgerSum()).toBe(0);
      }
      console.log(`BLE drops after value n: ${outcomes.join('; ')}`);
    },
    timeout(240_000),
  );

  it(
    'the radio goes dark at a random moment until the supervision timeout, then the phone is back in range',
    async () => {
      const runs = SOAK ? 40 : 4;
      const next = seededRandom(SEED);
      for (let i = 0; i < runs; i++) {
        world.ringUp(basket());
        const before = postings();
        const tillReceipts = receiptsAtTill();
        const central = ble.central({ shaping: { supervisionTimeoutMs: 300 } });
        const darkAfterMs = Math.round(150 + next() * 900);
        const dark = (async () => {
          await new Promise((r) => setTimeout(r, darkAfterMs));
          await ble.radio
            .setLinkShaping(central.deviceName, undefined, { lossRate: 1 })
            .catch(() => undefined);
          await new Promise((r) => setTimeout(r, 600)); // past the supervision timeout
          await ble.radio
            .setLinkShaping(central.deviceName, undefined, { lossRate: 0 })
            .catch(() => undefined);
        })();
        const run = await runPhone({
          central,
          card: dropperCard,
          pin: dropper!.pin,
          trust: trust(),
          counterName: 'Counter 1',
        });
        await dark;
        figures.blackouts++;
        const what = classify(run, before, postings(), false);
        if (what.startsWith('violation'))
          console.log(
            `blackout ${i}: ${what} ${JSON.stringify(run.outcome)} before=${JSON.stringify(run.beforeResume ?? null)}`,
          );
        count(what);
        expect(
          what,
          `dark after ${darkAfterMs} ms (run ${i}, steps ${run.prompt.steps.join(' > ')})`,
        ).not.toMatch(/^violation/);
        expect(receiptsAtTill() - tillReceipts).toBe((postings() - before) / 2);
      }
      expect(world.backend.store.ledgerSum()).toBe(0);
      // still serving
      world.ringUp(basket());
      expect((await world.phonePays(honest!.id, honest!.pin)).outcome.kind).toBe('approved');
    },
    timeout(120_000),
  );
});
