/**
 * Claim 16: fingerprint match-on-card, end to end in one process: the real phone flow with a
 * simulated fingerprint sensor and a simulated EMV card personalized with the cardholder's
 * template (DF08), the till core over the in-memory BLE link, the real backend (grpc-js, SQLite).
 * The card matches (cosine similarity ≥ 0.90), counts failed tries (5), and records the result in
 * its CVR, which the ARQC covers; settlement accepts the payment only because that CVR shows the
 * match. The phone never compares templates.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWorld, InMemoryRadio, SimulatedFingerprintSensor, type World } from '@bluetill/simulator';
import {
  biometricSimilarity,
  decodeIad,
  demoFingerprint,
  BIOMETRIC_MATCH_THRESHOLD,
  type Item,
} from '@bluetill/protocol';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const finger = (name: string, noise: number, seed = 7) =>
  new SimulatedFingerprintSensor(demoFingerprint(name), { noise, seed });
const biometric = (sensor: SimulatedFingerprintSensor) => ({ cvm: { method: 'biometric' as const, sensor } });

let world: World;
beforeEach(async () => {
  world = await startWorld({ radio: new InMemoryRadio() });
});
afterEach(() => world.close());

const db = () => world.backend.store.db;
const count = (sql: string) => (db().prepare(sql).get() as { n: number }).n;
const postings = () => count('SELECT COUNT(*) AS n FROM postings');
const usedChallenges = () => count('SELECT COUNT(*) AS n FROM challenges WHERE used_at IS NOT NULL');

describe('claim 16: biometric match-on-card', () => {
  it('the simulated sensor: near captures of the finger pass the threshold, a noisy one and another finger do not', async () => {
    const alice = demoFingerprint('alice');
    const near = await finger('alice', 20).capture();
    const smudged = await finger('alice', 90).capture();
    expect(biometricSimilarity(alice, near)).toBeGreaterThanOrEqual(BIOMETRIC_MATCH_THRESHOLD);
    expect(biometricSimilarity(alice, near)).toBeLessThan(1);
    expect(biometricSimilarity(alice, smudged)).toBeLessThan(BIOMETRIC_MATCH_THRESHOLD);
    expect(biometricSimilarity(alice, demoFingerprint('mallory'))).toBeLessThan(BIOMETRIC_MATCH_THRESHOLD);
  });

  it('a near match pays: the card signed the match in its CVR, the authorization records biometric, one posting pair', async () => {
    world.ringUp(TEA);
    const sensor = finger('alice', 20);
    let iad: Uint8Array | undefined;
    let sealedPinBlockLength = -1;
    const run = await world.phonePays('card-alice', '', {
      ...biometric(sensor),
      oda: true,
      tamper: {
        cardAuth: (c) => void (sealedPinBlockLength = c.sealedPinBlock.length),
        payment: (p) => void (iad = p.cryptogram!.iad),
      },
    });
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({ kind: 'approved' });
    expect(sensor.captures).toBe(1);
    expect(sealedPinBlockLength).toBe(0); // no PIN block travels
    expect(decodeIad(iad!)?.cvr).toMatchObject({
      biometricPerformed: true,
      biometricFailed: false,
      offlinePinPerformed: false,
    });
    expect(count("SELECT COUNT(*) AS n FROM authorizations WHERE cvm = 'biometric'")).toBe(1);
    expect(count('SELECT COUNT(*) AS n FROM settlements WHERE approved = 1')).toBe(1);
    expect(postings()).toBe(2);
    expect(world.backend.store.ledgerSum()).toBe(0);
  });

  it('another finger and a smudged capture are refused by the card, counted, and nothing leaves the phone', async () => {
    world.ringUp(TEA);
    const other = await world.phonePays('card-bob', '', biometric(finger('mallory', 5)));
    expect(other.outcome).toMatchObject({ kind: 'declined', reason: 'cvm_failed', triesLeft: 4 });
    const smudged = await world.phonePays('card-bob', '', biometric(finger('bob', 90)));
    expect(smudged.outcome).toMatchObject({ kind: 'declined', reason: 'cvm_failed', triesLeft: 3 });
    expect(usedChallenges()).toBe(0);
    expect(postings()).toBe(0);
    // a good read resets the card's counter and pays
    const good = await world.phonePays('card-bob', '', biometric(finger('bob', 10)));
    expect(good.outcome).toMatchObject({ kind: 'approved' });
    expect(postings()).toBe(2);
  });

  it('the card locks match-on-card after 5 failed tries; the right finger is then refused too; nothing is charged', async () => {
    world.ringUp(TEA);
    const outcomes = [];
    for (let i = 0; i < 5; i++)
      outcomes.push((await world.phonePays('card-alice', '', biometric(finger('mallory', 5, i)))).outcome);
    expect(outcomes.map((o) => (o.kind === 'declined' ? [o.reason, o.triesLeft] : o.kind))).toEqual([
      ['cvm_failed', 4],
      ['cvm_failed', 3],
      ['cvm_failed', 2],
      ['cvm_failed', 1],
      ['cvm_tries_exceeded', 0],
    ]);
    const right = await world.phonePays('card-alice', '', biometric(finger('alice', 5)));
    expect(right.outcome).toMatchObject({ kind: 'declined', reason: 'cvm_tries_exceeded' });
    expect(usedChallenges()).toBe(0);
    expect(postings()).toBe(0);
    // The PIN is a separate method with its own counter: the card still takes it.
    const pin = await world.phonePays('card-alice', '1234', { cvm: { method: 'offline_pin' } });
    expect(pin.outcome).toMatchObject({ kind: 'approved' });
    expect(postings()).toBe(2);
  });

  it('a card without a fingerprint template: the phone says so and sends nothing', async () => {
    world.ringUp(TEA);
    const run = await world.phonePays('card-chen', '', biometric(finger('chen', 5)));
    expect(run.outcome).toMatchObject({ kind: 'failed', code: 'cvm_unsupported', charged: 'no' });
    expect(usedChallenges()).toBe(0);
    expect(postings()).toBe(0);
  });
});
