/**
 * Claims 3, 11, 14 over real Bluetooth LE stacks: the till runs bleno, every phone runs noble,
 * each on its own controller of the simulator's virtual LE radio (HCI over a pty, the stacks'
 * UART driver), 30 ms connection interval. Backend: real gRPC + SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetCards } from '@bluetill/backend';
import {
  poissonArrivals,
  runArrivals,
  startWorld,
  stepSummary,
  VirtualBle,
  type World,
} from '@bluetill/simulator';
import type { Item } from '@bluetill/protocol';

let ble: VirtualBle;
let world: World;
beforeAll(async () => {
  ble = await VirtualBle.start();
  world = await startWorld({ radio: ble, fleetCards: 10 });
}, 60_000);
afterAll(async () => {
  await world?.close();
  await ble?.close();
});

const postings = () =>
  (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;
const basketFor = (i: number): Item[] => [
  { sku: `item-${i}`, name: `Item ${i}`, quantity: 1 + (i % 3), unitPriceMinor: 100 * (i + 1) },
];

describe('one till, ten phones at once, over the virtual radio', () => {
  it(
    'eight pay, one is declined for a wrong PIN, one floods bad frames and is dropped; nobody else notices',
    { timeout: 90_000 },
    async () => {
      const cards = fleetCards(9);
      for (let i = 0; i < 9; i++) world.ringUp(basketFor(i));

      // The attacker: a phone that connects and sends a frame declaring 65,535 bytes, then garbage.
      const attacker = (async () => {
        const central = ble.central();
        try {
          const [till] = await central.scan({ timeoutMs: 10_000, counterName: 'Counter 1' });
          const link = await central.connect(till!.id);
          const dropped = new Promise<string>((r) => link.onDisconnect(r));
          await link.write(Uint8Array.of(0xc0, 0xff, 0xff, 1, 2, 3)).catch(() => undefined);
          return await dropped;
        } finally {
          await central.close();
        }
      })();

      const runs = await Promise.all(cards.map((c, i) => world.phonePays(c.id, i === 8 ? '0000' : c.pin)));
      const reason = await attacker;
      expect(reason).toBeTruthy();
      expect(world.events).toContainEqual(
        expect.objectContaining({ type: 'error', code: 'message_too_large' }),
      );

      const approved = runs.filter((r) => r.outcome.kind === 'approved');
      expect(approved).toHaveLength(8);
      expect(runs[8]!.outcome).toMatchObject({ kind: 'declined', reason: 'pin_incorrect' });
      // Each approved phone got a verified receipt for one of the baskets, no basket twice.
      const skus = approved.map((r) =>
        r.outcome.kind === 'approved' ? r.outcome.receipt.items[0]!.sku : '',
      );
      expect(new Set(skus).size).toBe(8);
      expect(postings()).toBe(16);
      expect(world.backend.store.ledgerSum()).toBe(0);
      expect(world.till.baskets.list().filter((b) => b.state === 'paid')).toHaveLength(8);
      console.log(
        `BLE: 9 payments + 1 attacker; per-phone ms: ${runs.map((r) => Math.round(r.ms)).join(', ')}`,
      );
    },
  );

  it(
    'a link dropped after each protocol step: nothing charged, or charged once with the receipt fetched on reconnect',
    { timeout: 120_000 },
    async () => {
      const before = postings();
      const steps = [
        'Hello sent',
        'HelloAck received',
        'CardAuth sent',
        'AuthResult received',
        'Payment sent',
        'Receipt received',
      ];
      const [card] = fleetCards(10).slice(9);
      const results: string[] = [];
      for (let k = 1; k <= steps.length; k++) {
        world.ringUp(basketFor(20 + k));
        const charged = postings();
        const run = await world.phonePays(card!.id, card!.pin, { dropAfterMessages: k });
        const o = run.outcome;
        results.push(
          `${steps[k - 1]}: ${o.kind}${run.beforeResume ? ' (receipt fetched after reconnecting)' : ''}`,
        );
        if (k <= 3) {
          expect(o, steps[k - 1]).toMatchObject({ kind: 'failed', charged: 'no' });
          expect(postings()).toBe(charged);
        } else if (k === 4) {
          // The phone may have handed its Payment to a link already gone: then it asks, and the till,
          // which saw the phone leave before any Payment, had the payment cancelled (signed).
          if (o.kind === 'failed') expect(o, steps[k - 1]).toMatchObject({ charged: 'no' });
          else expect(o, steps[k - 1]).toMatchObject({ kind: 'cancelled', receipt: { result: 'cancelled' } });
          expect(postings()).toBe(charged);
        } else {
          // The Payment reached the till: charged once, and the phone holds a verified receipt.
          expect(o, steps[k - 1]).toMatchObject({ kind: 'approved' });
          if (k === 5)
            expect(run.beforeResume).toMatchObject({ kind: 'failed', charged: 'unknown', code: 'link_lost' });
          expect(postings()).toBe(charged + 2);
        }
      }
      console.log(`BLE link drops: ${results.join('; ')}`);
      expect(postings()).toBe(before + 4);
      expect(world.backend.store.ledgerSum()).toBe(0);
      // the till keeps serving: another phone pays normally
      world.ringUp(basketFor(40));
      const [other] = fleetCards(1);
      expect((await world.phonePays(other!.id, other!.pin)).outcome.kind).toBe('approved');
    },
  );
});

describe('phones in a process of their own (as the fleet benchmark runs them)', () => {
  it(
    'phones made ready before the counter (card issued, Bluetooth on) and a phone that is not both pay',
    { timeout: 90_000 },
    async () => {
      const own = await VirtualBle.start();
      const w = await startWorld({
        radio: own,
        fleetCards: 3,
        phonesInOwnProcess: true,
        backendWorker: true,
      });
      try {
        const cards = fleetCards(3);
        for (let i = 0; i < 3; i++) w.ringUp(basketFor(i));
        await w.preparePhones([cards[0]!.id, cards[1]!.id]);
        const runs = await Promise.all(cards.map((c) => w.phonePays(c.id, c.pin)));
        expect(runs.map((r) => r.outcome.kind)).toEqual(['approved', 'approved', 'approved']);
        expect(runs.every((r) => r.roundTrips === 3)).toBe(true);
        expect(w.backend.store.ledgerSum()).toBe(0);
        // A prepared phone is used once: paying again takes a fresh device and stack.
        w.ringUp(basketFor(4));
        expect((await w.phonePays(cards[0]!.id, cards[0]!.pin)).outcome.kind).toBe('approved');
      } finally {
        await w.close();
        await own.close();
      }
    },
  );
});

describe('open loop: phones arrive when they please', () => {
  it(
    '3 phones arriving at 5/s (seeded) each pay once; what each waited on is stamped, in order, and adds up',
    { timeout: 60_000 },
    async () => {
      const cards = fleetCards(3);
      const arrivalsMs = poissonArrivals({ perSecond: 5, count: 3, seed: 11 });
      const shopper = { pinTypingMs: 60, basketReadingMs: 40 };
      const { results } = await runArrivals(
        world,
        cards.map((card) => ({ card, wrongPin: false })),
        arrivalsMs,
        { shopper },
      );
      expect(results.map((r) => r.outcome.kind)).toEqual(['approved', 'approved', 'approved']);
      for (const r of results) {
        const s = r.stamps!;
        const order = [
          0,
          s.cardReadStartAt,
          s.connectAt,
          s.cardUnAt,
          s.cardReadEndAt,
          s.pinEnteredAt,
          s.basketAt,
          s.confirmedAt,
          s.receiptAt,
        ];
        for (const t of order) expect(t).toBeTypeOf('number');
        // arrival ≤ card read (ahead of the UN, beside the link) ≤ connect ≤ the card's part over the
        // till's UN ≤ PIN entered ≤ basket (authorized) ≤ confirmed ≤ receipt
        expect([...(order as number[])].sort((a, b) => a - b)).toEqual(order);
        expect(s.cardPrefixEndAt).toBeTypeOf('number');
        expect(r.steps!.cardAfterUnMs).toBeCloseTo(s.cardReadEndAt! - s.cardUnAt!, 3);
        expect(s.shopperMs).toBeGreaterThanOrEqual(95); // the shopper's 60 + 40 ms (timers fire no earlier)
        const d = r.steps!;
        expect(d.arrivalToBasketMs).toBe(s.basketAt);
        expect(d.cardReadMs).toBeGreaterThan(0);
        expect(d.pinToAuthorizedMs).toBeGreaterThan(0); // a round trip to the till and the backend
        expect(d.confirmToReceiptMs).toBeGreaterThan(0);
        expect(d.machineMs).toBeGreaterThan(0);
        expect(d.machineMs!).toBeLessThanOrEqual(r.latencyMs);
        expect(d.machineMs!).toBeCloseTo(r.latencyMs - s.shopperMs, 3);
      }
      expect(stepSummary(results.map((r) => r.steps!))?.cardReadMs.p50).toBeGreaterThan(0);
    },
  );
});
