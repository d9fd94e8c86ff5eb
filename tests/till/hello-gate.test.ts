/**
 * What a Hello may cost the till: nothing before it is checked (no backend Challenge, no basket),
 * and the Challenges that a stream of new links can make the till ask for are rate limited. And
 * what a phone that goes quiet after its Hello holds: no basket (a basket goes only to a phone whose
 * card the authorization server approved); the cashier can still cancel it.
 * Real till core and sessions over the simulator's in-memory radio; the backend is a counting fake.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryRadio } from '@bluetill/simulator';
import type { CentralLink } from '@bluetill/phone-agent';
import {
  Reassembler,
  decodeMessage,
  encodeMessage,
  fragment,
  startPhoneHandshake,
  type BleBody,
} from '@bluetill/protocol';
import { Till } from '../../pos-terminal/src/common/till';
import type { BackendClient } from '../../pos-terminal/src/common/ports/backend-client';
import { SqliteJournal } from '../../pos-terminal/src/adapters/journal/journal.sqlite';

const tills: Till[] = [];
afterEach(async () => {
  for (const t of tills.splice(0)) await t.stop();
});

async function startTill(limits: { helloBurst?: number; hellosPerSecond?: number; lingerMs?: number } = {}) {
  const radio = new InMemoryRadio();
  let challenges = 0;
  const backend = {
    challenge: async () => {
      challenges++;
      return {
        unpredictableNumber: Uint8Array.of(1, 2, 3, 4),
        expiresAtMs: Date.now() + 60_000,
        pinKeyCertificate: new Uint8Array(8),
        terminalStatement: new Uint8Array(),
      };
    },
    getSettlement: async () => null,
  } as unknown as BackendClient;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const till = new Till({
    terminalId: 'T-1',
    merchantId: 'M-1',
    counterName: 'Counter 1',
    currency: 'EUR',
    identity: { terminalKey: privateKey, terminalCertificate: new Uint8Array(8), merchantName: 'Shop' },
    peripheral: radio.peripheral(),
    backend,
    journal: new SqliteJournal(join(mkdtempSync(join(tmpdir(), 'bluetill-hello-')), 'journal.sqlite'), {
      key: new Uint8Array(32).fill(7),
    }),
    limits,
    resolveEveryMs: 0,
  });
  tills.push(till);
  await till.start();
  return { radio, till, challenges: () => challenges };
}

/** Sends one Hello on a new link and returns the till's first answer (`link`: the phone's side, to watch). */
async function hello(
  radio: InMemoryRadio,
  ephemeralPublicKey?: Uint8Array,
  watch?: (link: CentralLink) => void,
): Promise<BleBody> {
  const link = await radio.central().connect('till');
  watch?.(link);
  const reassembler = new Reassembler();
  const answer = new Promise<BleBody>((resolve) =>
    link.onValue((v) => {
      const m = reassembler.push(v, Date.now());
      if (m) resolve(decodeMessage(m));
    }),
  );
  const h = startPhoneHandshake().hello;
  for (const v of fragment(
    encodeMessage({ $case: 'hello', value: ephemeralPublicKey ? { ...h, ephemeralPublicKey } : h }),
    radio.mtu - 3,
    0,
  ))
    await link.write(v);
  return answer;
}

describe("the till's Hello gate", () => {
  it('a Hello whose key is not on P-256 is refused before any Challenge or basket', async () => {
    const t = await startTill();
    const basket = t.till.baskets.add([{ sku: 's', name: 'Soap', quantity: 1, unitPriceMinor: 250 }]);
    const offCurve = Uint8Array.from([0x04, ...new Uint8Array(64).fill(0x42)]);
    const answer = await hello(t.radio, offCurve);
    expect(answer).toMatchObject({ $case: 'error', value: { code: 'bad_hello' } });
    expect(t.challenges()).toBe(0);
    expect(t.till.baskets.list().find((b) => b.id === basket.id)?.state).toBe('open');
  });

  it('answers the burst, then refuses further Hellos with busy (no Challenge asked for them)', async () => {
    const t = await startTill({ helloBurst: 2, hellosPerSecond: 0.001 });
    const answers = [await hello(t.radio), await hello(t.radio), await hello(t.radio)];
    expect(answers.map((a) => a.$case)).toEqual(['helloAck', 'helloAck', 'error']);
    expect(answers[2]).toMatchObject({ value: { code: 'busy' } });
    expect(t.challenges()).toBe(2);
  });
});

describe('the cashier cancels a phone that waits', () => {
  it('a phone quiet after its Hello holds no basket; cancelled, it is told so and let go, nothing was asked of the network', async () => {
    const t = await startTill({ lingerMs: 50 });
    const basket = t.till.baskets.add([{ sku: 's', name: 'Soap', quantity: 1, unitPriceMinor: 250 }]);
    let values = 0;
    let gone: Promise<string> | undefined;
    const answer = await hello(t.radio, undefined, (link) => {
      link.onValue(() => values++);
      gone = new Promise((r) => link.onDisconnect(r));
    });
    expect(answer.$case).toBe('helloAck');
    // The till records 'secured' right after its HelloAck has gone.
    for (let i = 0; i < 100 && t.till.sessionSnapshots()[0]?.state !== 'secured'; i++)
      await new Promise((r) => setTimeout(r, 5));
    const [session] = t.till.sessionSnapshots();
    expect(session).toMatchObject({ state: 'secured', basketId: null });
    expect(t.till.baskets.list().find((b) => b.id === basket.id)?.state).toBe('open');
    const before = values;
    expect(t.till.cancelSession(session!.id)).toBe(true);
    // The basket still waits; the session failed as cancelled; the phone got one more
    // message (the sealed Error 'cancelled') and is let go after the linger.
    expect(t.till.baskets.list().find((b) => b.id === basket.id)?.state).toBe('open');
    expect(t.till.sessionSnapshots()[0]).toMatchObject({ state: 'failed', decline: 'cancelled' });
    await gone;
    expect(values).toBeGreaterThan(before);
    expect(t.challenges()).toBe(1); // the Hello's; no Authorize or Settle exists in this fake
    // Gone, or cancelled twice: nothing to cancel.
    expect(t.till.cancelSession(session!.id)).toBe(false);
    expect(t.till.cancelSession('no-such-phone')).toBe(false);
  });

  it('a phone that has not said Hello yet cannot be cancelled (it holds nothing)', async () => {
    const t = await startTill();
    await t.radio.central().connect('till');
    const [session] = t.till.sessionSnapshots();
    expect(session?.state).toBe('connected');
    expect(t.till.cancelSession(session!.id)).toBe(false);
  });
});
