/**
 * A phone whose card is checked before the cashier has rung anything up, over real Bluetooth LE
 * stacks (the till's bleno and the phone's noble on the simulator's virtual radio) against a real
 * backend: the till's session waits for a basket (`waiting_for_basket`), the phone is told why in
 * words (TillStatus) and keeps waiting past its usual answer timeout; the next basket charged goes
 * to it at once. With none offered within the till's wait limit the phone hears "no basket"
 * (its code, and words), and nothing is charged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, VirtualBle, type World } from '@bluetill/simulator';
import { reportOutcome } from '../../phone-agent/src/cli/pay-report';
import type { TillEvent } from '../../pos-terminal/src/common/till-context';

const BASKET_WAIT_MS = 4_000;
let ble: VirtualBle;
let world: World;

beforeAll(async () => {
  ble = await VirtualBle.start();
  world = await startWorld({ radio: ble, limits: { basketWaitMs: BASKET_WAIT_MS, lingerMs: 1_000 } });
}, 60_000);
afterAll(async () => {
  await world?.close();
  await ble?.close();
});

const postings = () =>
  (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;
const until = async (what: string, ok: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
const sessionStates = (events: readonly TillEvent[], id: string) =>
  events.flatMap((e) => (e.type === 'session' && e.session.id === id ? [e.session.state] : []));

describe('a phone that comes before its basket', () => {
  it(
    'waits, told why, longer than its own answer timeout; the cashier charges the sale and that phone pays it at once',
    { timeout: 60_000 },
    async () => {
      const steps: string[] = [];
      const before = world.events.length;
      // The phone gives the till 1.5 s per answer; the till's word that it waits for a basket
      // stretches that wait, so the sale charged 2.5 s later still reaches this phone.
      const run = world.phonePays('card-alice', '1234', {
        onStep: (s) => steps.push(s),
        answerTimeoutMs: 1_500,
      });
      await until('the phone waiting for a basket', () =>
        world.events
          .slice(before)
          .some((e) => e.type === 'session' && e.session.state === 'waiting_for_basket'),
      );
      expect(world.till.baskets.waitingPhones()).toHaveLength(1);
      const [phoneId] = world.till.baskets.waitingPhones();
      await until('the phone told why it waits', () =>
        steps.some((s) => s.includes('waiting for the cashier')),
      );
      expect(world.till.sessionSnapshots().find((s) => s.id === phoneId)?.state).toBe('waiting_for_basket');

      await new Promise((r) => setTimeout(r, 2_500));
      const chargedAt = Date.now();
      const basketId = world.ringUp([{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }]);
      expect(world.till.baskets.get(basketId)).toMatchObject({ state: 'assigned', sessionId: phoneId });
      expect(world.till.baskets.waitingPhones()).toEqual([]);
      const done = await run;
      expect(done.outcome.kind, JSON.stringify(done.outcome)).toBe('approved');
      if (done.outcome.kind === 'approved') {
        expect(done.outcome.receipt.total).toEqual({ minor: 700, currency: 'EUR' });
        expect(done.outcome.receipt.terminalTxnId).toBeTruthy();
      }
      expect(world.till.baskets.get(basketId)?.state).toBe('paid');
      expect(Date.now() - chargedAt).toBeLessThan(10_000);
      expect(sessionStates(world.events.slice(before), phoneId!)).toEqual(
        expect.arrayContaining(['authorizing', 'waiting_for_basket', 'authorized', 'paying', 'approved']),
      );
      // In the till's order: waiting came after authorizing and before authorized.
      const states = sessionStates(world.events.slice(before), phoneId!);
      expect(states.indexOf('waiting_for_basket')).toBeGreaterThan(states.indexOf('authorizing'));
      expect(states.indexOf('authorized')).toBeGreaterThan(states.indexOf('waiting_for_basket'));
    },
  );

  it(
    'with no basket within the wait limit the phone hears "no basket was offered" and nothing is charged',
    { timeout: 60_000 },
    async () => {
      const charged = postings();
      const steps: string[] = [];
      const started = Date.now();
      const run = await world.phonePays('card-chen', '9876', { onStep: (s) => steps.push(s) });
      const took = Date.now() - started;
      expect(run.outcome).toMatchObject({ kind: 'failed', tillCode: 'no_basket', charged: 'no' });
      expect(took).toBeGreaterThanOrEqual(BASKET_WAIT_MS);
      expect(steps.some((s) => s.includes('waiting for the cashier'))).toBe(true);
      // What the phone's CLI prints for it.
      const report = reportOutcome(
        { till: { id: 'till', counterName: 'Counter 1', rssi: -50 }, resumed: false, outcome: run.outcome },
        {},
      );
      expect(report.message).toContain('No basket was offered at the till');
      expect(report.message).toMatch(/nothing was charged/i);
      expect(report.message).not.toContain('no_basket');
      expect(postings()).toBe(charged);
      expect(world.till.baskets.waitingPhones()).toEqual([]);
      // The till's row says why, in words.
      const last = world.events
        .filter((e): e is Extract<TillEvent, { type: 'session' }> => e.type === 'session')
        .map((e) => e.session)
        .filter((s) => s.state === 'failed')
        .at(-1);
      expect(last?.detail).toBe('no basket was offered in time; nothing was charged');
    },
  );
});
