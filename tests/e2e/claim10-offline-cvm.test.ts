/**
 * Claim 10: card authentication on the phone and offline PIN verified by the card, end to end in
 * one process: the real phone flow (phone-agent's pay) with a simulated EMV card, the till core
 * over the in-memory BLE link, the real backend (grpc-js on loopback, SQLite files).
 * - ODA on the phone with the scheme CA keys of trust.json: a card that fails sends nothing;
 * - offline PIN: VERIFY P2 80 on the card, its own try counter; the authorization carries no PIN
 *   block but declares the method, and settlement accepts it only because the card's ARQC-covered
 *   CVR says the PIN passed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWorld, phoneCardFrom, InMemoryRadio, type World } from '@bluetill/simulator';
import { DEMO_CARDS } from '@bluetill/backend';
import { createDemoIssuer, decodeIad, prepareDemoCard, type Item } from '@bluetill/protocol';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const OFFLINE_PIN = { cvm: { method: 'offline_pin' as const } };

let world: World;
beforeEach(async () => {
  world = await startWorld({ radio: new InMemoryRadio() });
});
afterEach(() => world.close());

const db = () => world.backend.store.db;
const count = (sql: string) => (db().prepare(sql).get() as { n: number }).n;
const postings = () => count('SELECT COUNT(*) AS n FROM postings');
const approved = () => count('SELECT COUNT(*) AS n FROM settlements WHERE approved = 1');
const authorizations = (cvm: string) =>
  count(`SELECT COUNT(*) AS n FROM authorizations WHERE cvm = '${cvm}'`);
/** Challenges consumed by an Authorize: none means no CardAuth reached the backend. */
const usedChallenges = () => count('SELECT COUNT(*) AS n FROM challenges WHERE used_at IS NOT NULL');
const backendPinTries = (id: string) =>
  (db().prepare('SELECT pin_tries AS n FROM cards WHERE id = ?').get(id) as { n: number }).n;

describe('claim 10: offline PIN verified by the card, ODA on the phone', () => {
  it('pays with the offline PIN after ODA on the phone: one posting pair, the authorization records the method', async () => {
    world.ringUp(TEA);
    let iad: Uint8Array | undefined;
    const run = await world.phonePays('card-alice', '1234', {
      ...OFFLINE_PIN,
      oda: true,
      tamper: { payment: (p) => void (iad = p.cryptogram!.iad) },
    });
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({ kind: 'approved' });
    expect(run.prompt.steps).toContain('The card checks the PIN');
    // The card's own CVR, covered by the ARQC, is what settlement trusted.
    expect(decodeIad(iad!)?.cvr).toMatchObject({
      offlinePinPerformed: true,
      offlinePinFailed: false,
      ddaPerformed: true,
      pinTriesLeft: 3,
    });
    expect(authorizations('offline_pin')).toBe(1);
    expect(approved()).toBe(1);
    expect(postings()).toBe(2);
    expect(world.backend.store.ledgerSum()).toBe(0);
    expect(backendPinTries('card-alice')).toBe(0); // the issuer's online PIN counter is not touched
  });

  it('a wrong offline PIN is refused by the card, counted on the card, and nothing leaves the phone', async () => {
    world.ringUp(TEA);
    const one = await world.phonePays('card-bob', '0000', OFFLINE_PIN);
    expect(one.outcome).toMatchObject({
      kind: 'declined',
      reason: 'pin_incorrect',
      pinTriesLeft: 2,
      triesLeft: 2,
    });
    expect(usedChallenges()).toBe(0);
    expect(postings()).toBe(0);
    // the right PIN on the next try resets the card's counter and pays
    const right = await world.phonePays('card-bob', '2580', OFFLINE_PIN);
    expect(right.outcome).toMatchObject({ kind: 'approved' });
    expect(postings()).toBe(2);
  });

  it('the card locks its offline PIN after its try limit; the right PIN is then refused too; nothing is charged', async () => {
    world.ringUp(TEA);
    const runs = [];
    for (const pin of ['1111', '2222', '3333', '9876'])
      runs.push(await world.phonePays('card-chen', pin, OFFLINE_PIN));
    expect(runs.map((r) => r.outcome)).toMatchObject([
      { kind: 'declined', reason: 'pin_incorrect', triesLeft: 2 },
      { kind: 'declined', reason: 'pin_incorrect', triesLeft: 1 },
      { kind: 'declined', reason: 'pin_tries_exceeded', triesLeft: 0 },
      { kind: 'declined', reason: 'pin_tries_exceeded', triesLeft: 0 },
    ]);
    expect(usedChallenges()).toBe(0);
    expect(postings()).toBe(0);
    expect(world.till.baskets.list()[0]!.state).toBe('open'); // the basket waits for another card
    // The lock is the card's: the backend's counter for the online PIN is untouched.
    expect(backendPinTries('card-chen')).toBe(0);
  });

  it('a card that fails ODA on the phone is refused with a clear message before any card data leaves the phone', async () => {
    world.ringUp(TEA);
    // Same BIN and CA index as the scheme's, but an issuer certificate the scheme CA never signed.
    const rogue = createDemoIssuer({ identifier: '679999', caIndex: 0x99 });
    const alice = DEMO_CARDS.find((c) => c.id === 'card-alice')!;
    const { personalization, personalizationKey } = prepareDemoCard(rogue, {
      pan: alice.pan,
      expiry: alice.expiry,
      cardholderName: 'ROGUE',
      pin: '1234',
    });
    const card = (await phoneCardFrom(personalization, personalizationKey)).paymentCard;
    const run = await world.phonePays('card-alice', '1234', { ...OFFLINE_PIN, oda: true, card });
    expect(run.outcome).toMatchObject({ kind: 'failed', code: 'card_unauthentic', charged: 'no' });
    expect(run.outcome.kind === 'failed' && run.outcome.message).toMatch(
      /offline data authentication \(issuer certificate\).*no card data was sent/,
    );
    expect(run.outcome.kind === 'failed' && run.outcome.message).not.toContain(alice.pan);
    expect(run.prompt.steps).not.toContain('The card checks the PIN'); // refused before the PIN was asked
    expect(usedChallenges()).toBe(0);
    expect(postings()).toBe(0);
  });

  it('the online PIN (the default) still works beside it, each payment one posting pair', async () => {
    world.ringUp(TEA);
    world.ringUp(TEA);
    const online = await world.phonePays('card-alice', '1234', { oda: true });
    const offline = await world.phonePays('card-bob', '2580', OFFLINE_PIN);
    expect([online.outcome.kind, offline.outcome.kind]).toEqual(['approved', 'approved']);
    expect([authorizations('online_pin'), authorizations('offline_pin')]).toEqual([1, 1]);
    expect(approved()).toBe(2);
    expect(postings()).toBe(4);
    expect(world.backend.store.ledgerSum()).toBe(0);
  });
});
