/**
 * A flood of bad frames from one phone leaves the honest phones' payments unharmed. One attacker
 * link writes N garbage values as fast as the in-memory radio takes them (raw random values,
 * framed protobuf junk, framed Hellos with a junk key), a few bursts per connection, then hangs
 * up and reconnects (so every burst meets a fresh session), while 7 honest phones pay 7 baskets. All 7 are approved, every basket is paid once,
 * the ledger has one balanced pair per payment and sums to zero, and the till survives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fleetCards } from '@bluetill/backend';
import { InMemoryRadio, startWorld, type World } from '@bluetill/simulator';
import { decodeMessage, encodeMessage, fragment, type Item } from '@bluetill/protocol';
import { SEED, SOAK, Tally, bytes, cases, timeout } from './support';

/** FAULTS_KNOWN_BUGS=1: the attacker starts before the honest phones hold their baskets, and the junk-Hello test must be approved. */
// The bugs this suite found are fixed: strict by default (FAULTS_KNOWN_BUGS=0 tolerates them again).
const KNOWN_BUGS = process.env.FAULTS_KNOWN_BUGS !== '0';

const tally = new Tally('flood');
const radio = new InMemoryRadio();
let world: World;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  world = await startWorld({ radio, fleetCards: 7 });
}, 60_000);
afterAll(async () => {
  await world?.close();
  tally.print(figures);
});

const MTU_VALUE = radio.mtu - 3;
const BURSTS_PER_CONNECTION = 4;

/** Whether a message would reach the till's session as a Hello (a Hello takes a basket before it is checked). */
const isHello = (m: Uint8Array): boolean => {
  try {
    return decodeMessage(m).$case === 'hello';
  } catch {
    return false;
  }
};

/** One burst of attacker values: a raw value, or a whole framed junk message (so it reaches the decoder and the session). */
const burst: fc.Arbitrary<{ values: Uint8Array[]; hello: boolean }> = fc.oneof(
  { weight: 6, arbitrary: bytes(MTU_VALUE).map((v) => ({ values: [v], hello: false })) },
  {
    weight: 2,
    arbitrary: fc
      .uint8Array({ minLength: 1, maxLength: 400 })
      .map((m) => ({ values: fragment(m, MTU_VALUE, 0), hello: isHello(m) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.constantFrom(1, 2),
      )
      .map(([key, nonce, protocolVersion]) => ({
        values: fragment(
          encodeMessage({
            $case: 'hello',
            value: { protocolVersion, ephemeralPublicKey: Uint8Array.from([0x04, ...key]), nonce },
          }),
          MTU_VALUE,
          0,
        ),
        hello: true,
      })),
  },
);

const basketFor = (i: number): Item[] => [
  { sku: `flood-${i}`, name: `Flood item ${i}`, quantity: 1 + (i % 2), unitPriceMinor: 150 * (i + 1) },
];
const postings = (): number =>
  (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;

describe('a flood of bad frames from one phone', () => {
  it(
    '7 honest phones pay while one attacker writes garbage: all approved, ledger balanced',
    async () => {
      const N = cases(20_000);
      const cards = fleetCards(7);
      for (let i = 0; i < 7; i++) world.ringUp(basketFor(i));
      const before = postings();
      const t0 = performance.now();

      let written = 0;
      let connections = 0;
      let refusedWrites = 0;
      let duringPayments = 0;
      let honestDone = false;
      // Known bug (see README): a Hello from a link that is gone before the till's Challenge returns leaks the basket the till
      // then assigns to the dead session. Until it is fixed, the attacker sends no Hello-shaped junk while a basket is open
      // (everything else from the first moment); with FAULTS_KNOWN_BUGS=1 it sends them from the start.
      const helloAllowed = (): boolean =>
        KNOWN_BUGS || !world.till.baskets.list().some((b) => b.state === 'open');
      const attacker = (async () => {
        const central = radio.central();
        const rng = fc
          .sample(fc.array(burst, { minLength: 64, maxLength: 64 }), { seed: SEED, numRuns: 64 })
          .flat();
        let at = 0;
        // Runs until N values are out and (in the fast slice) until the honest phones are done, so they pay under fire.
        while (written < N || (!SOAK && !honestDone)) {
          const link = await central.connect('till');
          connections++;
          // a few bursts per connection, all written in one go (not one value per event-loop turn), then hang up and
          // come back: every burst meets a fresh session
          const batch: Uint8Array[] = [];
          for (let b = 0; b < BURSTS_PER_CONNECTION; b++) {
            const next = rng[at++ % rng.length]!;
            if (next.hello && !helloAllowed()) continue;
            batch.push(...next.values);
          }
          const results = await Promise.allSettled(batch.map((v) => link.write(v)));
          for (const r of results) {
            if (r.status === 'rejected') {
              refusedWrites++;
              continue;
            }
            written++;
            if (!honestDone) duringPayments++;
            tally.cases++;
          }
          await link.disconnect().catch(() => undefined);
        }
        await central.close();
      })();

      const runs = await Promise.all(cards.map((c) => world.phonePays(c.id, c.pin)));
      honestDone = true;
      const honestMs = performance.now() - t0;
      await attacker;

      const outcomes = runs.map((r) => r.outcome.kind);
      // sessions that failed while holding a basket: the attacker's junk Hellos took a basket (assigned before the Hello is checked)
      const failedWithBasket = new Set(
        world.events.flatMap((e) =>
          e.type === 'session' && e.session.state === 'failed' && e.session.basketId ? [e.session.id] : [],
        ),
      );
      const errorCodes = new Map<string, number>();
      for (const e of world.events)
        if (e.type === 'error') errorCodes.set(e.code, (errorCodes.get(e.code) ?? 0) + 1);
      Object.assign(figures, {
        valuesWritten: written,
        valuesWhileHonestPaying: duringPayments,
        attackerStartedFirst: KNOWN_BUGS,
        attackerConnections: connections,
        refusedWrites,
        honestPhones: runs.length,
        approved: outcomes.filter((k) => k === 'approved').length,
        honestMs: Math.round(honestMs),
        floodMs: Math.round(performance.now() - t0),
        perPhoneMs: runs.map((r) => Math.round(r.ms)),
        attackerSessionsHoldingABasket: failedWithBasket.size,
        tillErrors: Object.fromEntries(errorCodes),
      });

      if (process.env.FAULTS_DEBUG) {
        const lastById = new Map<string, unknown>();
        for (const e of world.events) if (e.type === 'session') lastById.set(e.session.id, e.session);
        const notFailed = [...lastById.values()].filter((s) => (s as { state: string }).state !== 'failed');
        process.stdout.write(
          `DEBUG sessions not failed: ${JSON.stringify(notFailed)}\nDEBUG baskets: ${JSON.stringify(world.till.baskets.list().map((b) => [b.id, b.state, b.sessionId]))}\n`,
        );
      }
      expect(outcomes, JSON.stringify(runs.map((r) => r.outcome))).toEqual(Array(7).fill('approved'));
      const skus = runs.map((r) => (r.outcome.kind === 'approved' ? r.outcome.receipt.items[0]!.sku : ''));
      expect(new Set(skus).size).toBe(7);
      expect(world.till.baskets.list().filter((b) => b.state === 'paid')).toHaveLength(7);
      expect(postings() - before).toBe(14);
      expect(world.backend.store.ledgerSum()).toBe(0);
      expect(written).toBeGreaterThanOrEqual(N);
      // the till is still serving: one more honest payment after the flood. (The wait lets the Challenges of the
      // attacker's last Hellos come back first: a basket rung up earlier would leak to those dead sessions — the known bug.)
      if (!KNOWN_BUGS) await new Promise((r) => setTimeout(r, 1_500));
      world.ringUp(basketFor(7));
      const after = await world.phonePays(cards[0]!.id, cards[0]!.pin);
      expect(after.outcome.kind).toBe('approved');
      expect(world.backend.store.ledgerSum()).toBe(0);
    },
    timeout(55_000),
  );
});

describe('a junk Hello', () => {
  it('cost a backend Challenge and held the basket until the till hung up (an honest phone timed out under load behind 8 such links) — was a bug', async () => {
    const challenges = (): number =>
      (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM challenges').get() as { n: number }).n;
    const basket = world.ringUp(basketFor(90));
    const before = challenges();
    for (const hello of [
      {
        protocolVersion: 1,
        ephemeralPublicKey: Uint8Array.from([0x04, ...new Uint8Array(64).fill(7)]),
        nonce: new Uint8Array(16),
      }, // not a P-256 point
      { protocolVersion: 1, ephemeralPublicKey: new Uint8Array(10), nonce: new Uint8Array(16) },
      { protocolVersion: 9, ephemeralPublicKey: new Uint8Array(65), nonce: new Uint8Array(16) },
      { protocolVersion: 1, ephemeralPublicKey: new Uint8Array(65), nonce: new Uint8Array(3) },
    ]) {
      const central = radio.central();
      const link = await central.connect('till');
      const gone = new Promise<string>((r) => link.onDisconnect(r));
      let basketHeld = false;
      const off = world.till.onEvent(
        () => void (basketHeld ||= world.till.baskets.get(basket)!.state !== 'open'),
      );
      for (const v of fragment(encodeMessage({ $case: 'hello', value: hello }), MTU_VALUE, 0))
        await link.write(v);
      await gone;
      off();
      await central.close();
      expect(basketHeld).toBe(false);
    }
    expect(challenges() - before).toBe(0);
    expect(world.events).toContainEqual(expect.objectContaining({ type: 'error', code: 'bad_hello' }));
    const [card] = fleetCards(3).slice(2);
    expect((await world.phonePays(card!.id, card!.pin)).outcome.kind).toBe('approved');
    expect(world.till.baskets.get(basket)!.state).toBe('paid');
  });
});

describe('a flood of junk Hellos (well framed, junk key) from many attacker links', () => {
  /**
   * Was a finding: the till asked the backend for a Challenge and assigned a basket BEFORE it
   * checked the Hello, so each junk Hello cost a backend round trip and held a basket. Now the
   * till checks the Hello first (checkHello: version, nonce, key on P-256) and rate-limits the
   * Challenges it asks for (tests/till/hello-gate.test.ts): junk costs the backend nothing.
   */
  it(
    'the honest phone is still approved; prints its delay and the backend challenges the junk cost',
    async () => {
      const ATTACKERS = SOAK ? 60 : 8;
      const challenges = (): number =>
        (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM challenges').get() as { n: number }).n;
      const [card] = fleetCards(2).slice(1);
      world.ringUp(basketFor(100));
      const before = postings();
      const challengesBefore = challenges();
      const hellos = fc.sample(
        fc
          .tuple(
            fc.uint8Array({ minLength: 64, maxLength: 64 }),
            fc.uint8Array({ minLength: 16, maxLength: 16 }),
          )
          .map(([key, nonce]) =>
            fragment(
              encodeMessage({
                $case: 'hello',
                value: { protocolVersion: 1, ephemeralPublicKey: Uint8Array.from([0x04, ...key]), nonce },
              }),
              MTU_VALUE,
              0,
            ),
          ),
        { seed: SEED, numRuns: 64 },
      );
      let stop = false;
      let junk = 0;
      const attackers = Array.from({ length: ATTACKERS }, async () => {
        const central = radio.central();
        while (!stop) {
          const link = await central.connect('till');
          const gone = new Promise((r) => link.onDisconnect(r));
          for (const v of hellos[junk++ % hellos.length]!) await link.write(v).catch(() => undefined);
          await gone; // hold the link (and the basket) until the till hangs up
        }
        await central.close();
      });
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      const run = await world.phonePays(card!.id, card!.pin);
      const honestMs = performance.now() - t0;
      stop = true;
      await Promise.all(attackers);
      Object.assign(figures, {
        junkHello: {
          attackerLinks: ATTACKERS,
          junkHellos: junk,
          backendChallengesForJunk: challenges() - challengesBefore - 1,
          honestMs: Math.round(honestMs),
          outcome: run.outcome.kind,
        },
      });
      expect(junk).toBeGreaterThan(0);
      expect(challenges() - challengesBefore).toBe(1); // the honest phone's only
      // Under CPU load the junk sessions can hold the only basket long enough for the honest phone to give up (15 s):
      // a known weakness (README). Then nothing may be charged; with FAULTS_KNOWN_BUGS=1 the phone must be approved.
      if (KNOWN_BUGS || run.outcome.kind === 'approved') {
        expect(run.outcome.kind).toBe('approved');
        expect(postings() - before).toBe(2);
      } else {
        expect(run.outcome).toMatchObject({ kind: 'failed', charged: 'no' });
        expect(postings() - before).toBe(0);
      }
      expect(world.backend.store.ledgerSum()).toBe(0);
    },
    timeout(55_000),
  );
});

describe('found by this suite, fixed: a basket leaks to a session that is already gone', () => {
  /**
   * session.ts onHello awaits the backend's Challenge, then assigns a basket, without checking that
   * the session is still open. A phone (or an attacker) that sends a Hello and hangs up before the
   * Challenge returns leaves the basket "assigned" to a closed session for good: no phone can pay
   * it and the cashier cannot cancel it (cancel needs "open"). Under load the flood test hit it
   * (the 7th honest phone timed out after 15 s); this is the deterministic form.
   */
  it.skipIf(!KNOWN_BUGS)(
    'was a bug — a Hello then an immediate hang-up leaves the basket open',
    async () => {
      const id = world.ringUp(basketFor(200));
      const central = radio.central();
      const link = await central.connect('till');
      const [key, nonce] = fc.sample(
        fc.tuple(
          fc.uint8Array({ minLength: 64, maxLength: 64 }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
        ),
        { seed: SEED, numRuns: 1 },
      )[0]!;
      for (const v of fragment(
        encodeMessage({
          $case: 'hello',
          value: { protocolVersion: 1, ephemeralPublicKey: Uint8Array.from([0x04, ...key]), nonce },
        }),
        MTU_VALUE,
        0,
      ))
        await link.write(v);
      await link.disconnect();
      await new Promise((r) => setTimeout(r, 500));
      await central.close();
      expect(world.till.baskets.list().find((b) => b.id === id)).toMatchObject({
        state: 'open',
        sessionId: null,
      });
    },
    30_000,
  );
});
