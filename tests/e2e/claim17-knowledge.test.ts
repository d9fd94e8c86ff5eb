/**
 * Claim 17: a knowledge secret registered on the card at personalization (DF09), checked by the
 * card like the PIN (VERIFY P2 91, its own try counter, 3), the result in the CVR the ARQC covers;
 * end to end with the real phone flow, the till core and the real backend (grpc-js, SQLite).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWorld, InMemoryRadio, type World } from '@bluetill/simulator';
import { decodeIad, type Item } from '@bluetill/protocol';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const knowledge = (secret: string) => ({ cvm: { method: 'knowledge' as const, secret: async () => secret } });

let world: World;
beforeEach(async () => {
  world = await startWorld({ radio: new InMemoryRadio() });
});
afterEach(() => world.close());

const db = () => world.backend.store.db;
const count = (sql: string) => (db().prepare(sql).get() as { n: number }).n;
const postings = () => count('SELECT COUNT(*) AS n FROM postings');
const usedChallenges = () => count('SELECT COUNT(*) AS n FROM challenges WHERE used_at IS NOT NULL');

describe('claim 17: knowledge secret checked by the card', () => {
  it('the right secret pays: the CVR shows it, the authorization records knowledge, one posting pair', async () => {
    world.ringUp(TEA);
    let iad: Uint8Array | undefined;
    const run = await world.phonePays('card-bob', '', {
      ...knowledge('rue des lilas 7'),
      tamper: { payment: (p) => void (iad = p.cryptogram!.iad) },
    });
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({ kind: 'approved' });
    expect(run.prompt.steps).toContain('The card checks the secret');
    expect(decodeIad(iad!)?.cvr).toMatchObject({
      knowledgePerformed: true,
      knowledgeFailed: false,
      biometricPerformed: false,
      offlinePinPerformed: false,
    });
    expect(count("SELECT COUNT(*) AS n FROM authorizations WHERE cvm = 'knowledge'")).toBe(1);
    expect(postings()).toBe(2);
    expect(world.backend.store.ledgerSum()).toBe(0);
  });

  it('the secret is compared exactly (another case is another secret); the right one then pays', async () => {
    world.ringUp(TEA);
    // Alice's secret is 'green heron'.
    const wrongCase = await world.phonePays('card-alice', '', knowledge('Green Heron'));
    expect(wrongCase.outcome).toMatchObject({ kind: 'declined', reason: 'cvm_failed', triesLeft: 2 });
    const right = await world.phonePays('card-alice', '', knowledge('green heron'));
    expect(right.outcome).toMatchObject({ kind: 'approved' });
  });

  it('a wrong secret is refused and counted by the card; after 3 the card locks it, the right one is then refused; nothing is charged', async () => {
    world.ringUp(TEA);
    const outcomes = [];
    for (const s of ['rue des lilas 8', 'rue des lilas', 'lilas 7', 'rue des lilas 7'])
      outcomes.push((await world.phonePays('card-bob', '', knowledge(s))).outcome);
    expect(outcomes.map((o) => (o.kind === 'declined' ? [o.reason, o.triesLeft] : o.kind))).toEqual([
      ['cvm_failed', 2],
      ['cvm_failed', 1],
      ['cvm_tries_exceeded', 0],
      ['cvm_tries_exceeded', 0],
    ]);
    expect(usedChallenges()).toBe(0);
    expect(postings()).toBe(0);
    expect(world.till.baskets.list()[0]!.state).toBe('open');
  });

  it('a secret too short for the card is a clear error on the phone, before anything is sent', async () => {
    world.ringUp(TEA);
    const run = await world.phonePays('card-bob', '', knowledge('abc'));
    expect(run.outcome).toMatchObject({ kind: 'failed', code: 'card', charged: 'no' });
    expect(run.outcome.kind === 'failed' && run.outcome.message).toMatch(/4-64 bytes/);
    expect(usedChallenges()).toBe(0);
  });
});
