/**
 * The card's timing model measured where it is paid: a real simulated card (issued as a card
 * writer issues it) behind TimedCard, read by the phone's in-process reader with the phone agent's
 * own EMV flow — SELECT PPSE to GENERATE AC, the tap the published figures time (card-timing.ts
 * [1]: 215-740 ms on the card and the air, 315-325 ms for new cards, 250-800 ms with the phone's
 * reader). The reader waits on a virtual clock here (each profile's tap in no wall time), and once
 * on real timers.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateCryptogram,
  InProcessCardReader,
  readCard,
  type TransactionData,
} from '@bluetill/phone-agent';
import { createDemoIssuer, type DemoIssuer } from '@bluetill/protocol';
import { issueSimulatedCard } from './issue-card';
import {
  cardTimingProfile,
  commandTimeMs,
  TimedCard,
  type CardProfileName,
  type CardTransport,
} from './card-timing';

const tx: TransactionData = {
  amount: 1250n,
  currency: 978,
  country: 276,
  unpredictableNumber: Uint8Array.from([0xa1, 0xb2, 0xc3, 0xd4]),
  date: new Date('2026-11-24T12:00:00Z'),
};

let issuer: DemoIssuer;
beforeAll(() => {
  issuer = createDemoIssuer();
});

/** A virtual clock: `sleep` moves it at once. */
function virtualClock() {
  let now = 0;
  const waits: number[] = [];
  return {
    now: () => now,
    waits,
    sleep: (ms: number) => {
      now += ms;
      waits.push(ms);
      return Promise.resolve();
    },
  };
}

/** One tap: SELECT PPSE, SELECT AID, GPO, the records, INTERNAL AUTHENTICATE, GENERATE AC. */
async function tap(
  profile: CardProfileName,
  o: { phoneReader: boolean; transport?: CardTransport; sleep?: (ms: number) => Promise<void> },
) {
  const { card } = await issueSimulatedCard(issuer, {
    pan: '9990010000000017',
    psn: 1,
    expiry: '3012',
    cardholderName: 'TEST/CARDHOLDER',
    pin: '1234',
  });
  const timed = new TimedCard(card, profile, {
    phoneReader: o.phoneReader,
    ...(o.transport ? { transport: o.transport } : {}),
  });
  const reader = new InProcessCardReader(timed, o.sleep ? { sleep: o.sleep } : {});
  await reader.waitForCard({ timeoutMs: 100 });
  const read = await readCard(reader, tx);
  await generateCryptogram(reader, read, tx);
  await reader.close();
  // The model's figure for the same exchanges, from the transcript the reader kept.
  const lines = reader.transcript().split('\n');
  const exchanges = lines.flatMap((l, i) =>
    l.startsWith('=> ')
      ? [[Buffer.from(l.slice(3), 'hex'), Buffer.from(lines[i + 1]!.slice(3), 'hex')] as const]
      : [],
  );
  const modelMs = exchanges.reduce(
    (sum, [c, r]) =>
      sum +
      commandTimeMs(cardTimingProfile(profile), c, r, {
        phoneReader: o.phoneReader,
        ...(o.transport ? { transport: o.transport } : {}),
      }),
    0,
  );
  return { commands: exchanges.map(([c]) => c[1]!.toString(16)), modelMs };
}

describe('card timing measured in process (virtual clock)', () => {
  it.each(['fast', 'typical', 'slow'] as const)(
    '%s: the tap waits what the model says, within the published ranges',
    async (profile) => {
      const card = virtualClock();
      const cardOnly = await tap(profile, { phoneReader: false, sleep: card.sleep });
      const phone = virtualClock();
      const inPhone = await tap(profile, { phoneReader: true, sleep: phone.sleep });
      expect(cardOnly.commands).toEqual(['a4', 'a4', 'a8', 'b2', 'b2', 'b2', 'b2', 'b2', 'b2', '88', 'ae']);
      expect(card.waits).toHaveLength(11); // every command waited for
      expect(card.now()).toBeCloseTo(cardOnly.modelMs, 6);
      expect(phone.now()).toBeCloseTo(inPhone.modelMs, 6);
      expect(card.now()).toBeGreaterThanOrEqual(215);
      expect(card.now()).toBeLessThanOrEqual(740);
      expect(phone.now()).toBeGreaterThanOrEqual(250);
      expect(phone.now()).toBeLessThanOrEqual(800);
      expect(phone.now() - card.now()).toBeGreaterThanOrEqual(100);
      expect(phone.now() - card.now()).toBeLessThanOrEqual(120);
      if (profile === 'fast') {
        expect(card.now()).toBeGreaterThanOrEqual(315);
        expect(card.now()).toBeLessThanOrEqual(325);
      }
    },
  );

  it('instant waits not at all; the contact interface at 9,600 bit/s is slower than the air', async () => {
    const instant = virtualClock();
    await tap('instant', { phoneReader: true, sleep: instant.sleep });
    expect(instant.now()).toBe(0);
    expect(instant.waits).toEqual([]);
    const air = virtualClock();
    await tap('slow', { phoneReader: false, sleep: air.sleep });
    const contact = virtualClock();
    const t1 = await tap('slow', { phoneReader: true, transport: 'contact', sleep: contact.sleep });
    expect(contact.now()).toBeCloseTo(t1.modelMs, 6);
    expect(contact.now()).toBeGreaterThan(2 * air.now()); // ~1.2 ms a byte on the contacts at 9,600 bit/s
  });
});

describe('card timing measured in process (real timers)', () => {
  it('typical: the tap takes at least the model time, and not much more', async () => {
    const t0 = performance.now();
    const { modelMs } = await tap('typical', { phoneReader: true });
    const wall = performance.now() - t0;
    expect(modelMs).toBeGreaterThan(250);
    expect(wall).toBeGreaterThanOrEqual(modelMs - 11); // setTimeout never fires early by a whole ms a command
    expect(wall).toBeLessThan(modelMs + 1_000); // issuing the card and a loaded machine's timers
  });
});
