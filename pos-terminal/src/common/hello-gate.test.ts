/**
 * What a Hello may cost the till: nothing before it is checked (no backend Challenge, no basket),
 * and the Challenges that a stream of new links can make the till ask for are rate limited.
 * Real till core and sessions over the simulator's in-memory radio; the backend is a counting fake.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryRadio } from '@bluetill/simulator';
import { Reassembler, decodeMessage, encodeMessage, fragment, startPhoneHandshake, type BleBody } from '@bluetill/protocol';
import { Till } from './till';
import type { BackendClient } from './ports/backend-client';
import { SqliteJournal } from '../main/journal/journal.sqlite';

const tills: Till[] = [];
afterEach(async () => {
  for (const t of tills.splice(0)) await t.stop();
});

async function startTill(limits: { helloBurst?: number; hellosPerSecond?: number } = {}) {
  const radio = new InMemoryRadio();
  let challenges = 0;
  const backend = {
    challenge: async () => {
      challenges++;
      return { unpredictableNumber: Uint8Array.of(1, 2, 3, 4), expiresAtMs: Date.now() + 60_000, pinKeyCertificate: new Uint8Array(8) };
    },
    getSettlement: async () => null,
  } as unknown as BackendClient;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const till = new Till({
    terminalId: 'T-1', merchantId: 'M-1', counterName: 'Counter 1', currency: 'EUR',
    identity: { terminalKey: privateKey, terminalCertificate: new Uint8Array(8), merchantName: 'Shop' },
    peripheral: radio.peripheral(), backend,
    journal: new SqliteJournal(join(mkdtempSync(join(tmpdir(), 'bluetill-hello-')), 'journal.sqlite'), { key: new Uint8Array(32).fill(7) }),
    limits, resolveEveryMs: 0,
  });
  tills.push(till);
  await till.start();
  return { radio, till, challenges: () => challenges };
}

/** Sends one Hello on a new link and returns the till's first answer. */
async function hello(radio: InMemoryRadio, ephemeralPublicKey?: Uint8Array): Promise<BleBody> {
  const link = await radio.central().connect('till');
  const reassembler = new Reassembler();
  const answer = new Promise<BleBody>((resolve) =>
    link.onValue((v) => {
      const m = reassembler.push(v, Date.now());
      if (m) resolve(decodeMessage(m));
    }),
  );
  const h = startPhoneHandshake().hello;
  for (const v of fragment(encodeMessage({ $case: 'hello', value: ephemeralPublicKey ? { ...h, ephemeralPublicKey } : h }), radio.mtu - 3, 0)) await link.write(v);
  return answer;
}

describe('the till\'s Hello gate', () => {
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
