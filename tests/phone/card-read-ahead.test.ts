/**
 * The card read starts at arrival, beside the scan and the BLE setup (PaymentCard.prepare): what
 * needs no UN is read while the phone looks for the till; what needs the till's UN (the second
 * GPO, INTERNAL AUTHENTICATE) waits for its HelloAck; the payment settles with the cryptogram of
 * the card read that way. Real till and backend over the in-memory link, the simulated card.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AutoPrompt,
  EmvCard,
  InMemoryRadio,
  personalizeCard,
  startWorld,
  type World,
} from '@bluetill/simulator';
import { decodePersonalizationData, publicKeyFromRaw } from '@bluetill/protocol';
import { InProcessCardReader } from '../../phone-agent/src/adapters/card-reader.in-process';
import { EmvPaymentCard } from '../../phone-agent/src/core/card/emv-payment-card';
import type { BleCentral } from '../../phone-agent/src/ports/ble-central';
import { runPaymentSession } from '../../phone-agent/src/core/payment-session';

let radio: InMemoryRadio;
let world: World;
let trust: {
  acquirerCa: ReturnType<typeof publicKeyFromRaw>;
  cardCompanyRoot: ReturnType<typeof publicKeyFromRaw>;
};
beforeAll(async () => {
  radio = new InMemoryRadio();
  world = await startWorld({ radio });
  trust = {
    acquirerCa: publicKeyFromRaw(Buffer.from(world.seed.trust.acquirerCa, 'base64')),
    cardCompanyRoot: publicKeyFromRaw(Buffer.from(world.seed.trust.cardCompanyRoot, 'base64')),
  };
}, 30_000);
afterAll(async () => {
  await world?.close();
});

async function simulatedCard(id: string): Promise<EmvCard> {
  const f = JSON.parse(readFileSync(join(world.seed.cardsDir, `${id}.json`), 'utf8')) as {
    personalization: string;
    personalizationKey: string;
  };
  const key = new Uint8Array(Buffer.from(f.personalizationKey, 'base64'));
  const card = new EmvCard(key);
  await personalizeCard(card, decodePersonalizationData(Buffer.from(f.personalization, 'base64')), key);
  return card;
}

const INS: Record<number, string> = {
  0xa4: 'SELECT',
  0xa8: 'GPO',
  0xb2: 'READ RECORD',
  0x88: 'INTERNAL AUTHENTICATE',
  0xae: 'GENERATE AC',
  0x82: 'EXTERNAL AUTHENTICATE',
};

describe('the card read beside the link setup', () => {
  it(
    'SELECT to READ RECORD while scanning; GPO with the UN and INTERNAL AUTHENTICATE after the HelloAck; approved',
    { timeout: 30_000 },
    async () => {
      world.ringUp([{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 349 }]);
      const events: string[] = [];
      const card = await simulatedCard('card-alice');
      const recording = {
        powerOn: () => card.powerOn(),
        powerOff: () => card.powerOff(),
        process: (c: Uint8Array) => (
          events.push(`card ${INS[c[1]!] ?? c[1]!.toString(16)}`),
          card.process(c)
        ),
      };
      const inner = radio.central();
      // A scan that takes the time a radio's does (advertising interval): the card has that long.
      const central: BleCentral = {
        scan: async (s) => {
          const found = await inner.scan(s);
          await new Promise((r) => setTimeout(r, 50));
          events.push('scan done');
          return found;
        },
        connect: async (id, c) => {
          const link = await inner.connect(id, c);
          events.push('connected');
          let first = true;
          link.onValue(() => {
            if (first) events.push('till answered (HelloAck)');
            first = false;
          });
          return link;
        },
        close: () => inner.close(),
      };
      const paymentCard = new EmvPaymentCard(new InProcessCardReader(recording), {
        country: 276,
        currency: 'EUR',
        now: () => new Date(),
        waitTimeoutMs: 200,
      });
      try {
        const r = await runPaymentSession({
          central,
          card: paymentCard,
          prompt: new AutoPrompt({ pin: '1234' }),
          trust,
          till: { kind: 'strongest' },
          scanTimeoutMs: 2_000,
        });
        expect(r.outcome.kind).toBe('approved');
      } finally {
        await central.close();
      }
      const at = (e: string) => events.indexOf(e);
      const scanDone = at('scan done');
      const helloAck = at('till answered (HelloAck)');
      expect(scanDone).toBeGreaterThan(0);
      expect(helloAck).toBeGreaterThan(at('connected'));
      // Ahead of the till: the application selected, its records read, and selected again.
      expect(events.slice(0, scanDone)).toEqual([
        'card SELECT',
        'card SELECT',
        'card GPO',
        ...Array<string>(6).fill('card READ RECORD'),
        'card SELECT',
      ]);
      // After the till proved itself and sent its UN: only what needs the UN (GPO, the signature over it,
      // and for online PIN the account-verification ARQC over amount 0, after which the card's next
      // transaction starts), the issuer's answer once Authorize is back, then the cryptogram over the basket.
      expect(events.slice(helloAck + 1).filter((e) => e.startsWith('card '))).toEqual([
        'card GPO',
        'card INTERNAL AUTHENTICATE',
        'card GENERATE AC',
        'card SELECT',
        'card GPO',
        'card EXTERNAL AUTHENTICATE',
        'card GENERATE AC',
      ]);
      expect(events.slice(scanDone, helloAck).filter((e) => e.startsWith('card '))).toEqual([]);
    },
  );

  it(
    'a till that cannot prove who it is: the card was read ahead, but it signed nothing and nothing of it left the phone',
    { timeout: 30_000 },
    async () => {
      const events: string[] = [];
      const card = await simulatedCard('card-bob');
      const recording = {
        powerOn: () => card.powerOn(),
        powerOff: () => card.powerOff(),
        process: (c: Uint8Array) => (
          events.push(`card ${INS[c[1]!] ?? c[1]!.toString(16)}`),
          card.process(c)
        ),
      };
      const inner = radio.central();
      let written = 0;
      const central: BleCentral = {
        scan: (s) => inner.scan(s),
        connect: async (id, c) => {
          const link = await inner.connect(id, c);
          return {
            get mtu() {
              return link.mtu;
            },
            write: (v, o) => ((written += v.length), link.write(v, o)),
            readInfo: () => link.readInfo(),
            onValue: (h) => link.onValue(h),
            onDisconnect: (h) => link.onDisconnect(h),
            disconnect: () => link.disconnect(),
          };
        },
        close: () => inner.close(),
      };
      const paymentCard = new EmvPaymentCard(new InProcessCardReader(recording), {
        country: 276,
        currency: 'EUR',
        now: () => new Date(),
        waitTimeoutMs: 200,
      });
      try {
        // The phone trusts another acquirer: this till's certificate does not chain to it.
        const r = await runPaymentSession({
          central,
          card: paymentCard,
          prompt: new AutoPrompt({ pin: '2580' }),
          trust: { ...trust, acquirerCa: trust.cardCompanyRoot },
          till: { kind: 'strongest' },
          scanTimeoutMs: 2_000,
        });
        expect(r.outcome).toMatchObject({ kind: 'failed', code: 'till_untrusted', charged: 'no' });
      } finally {
        await central.close();
      }
      expect(events).not.toContain('card INTERNAL AUTHENTICATE');
      expect(events).not.toContain('card GENERATE AC');
      expect(written).toBeLessThan(150); // the Hello alone (92 bytes framed)
    },
  );
});

describe("the issuer's answer while the shopper reads the basket", () => {
  it(
    'the basket is on the screen before EXTERNAL AUTHENTICATE, which the card has taken before GENERATE AC; a decline waits for it',
    { timeout: 30_000 },
    async () => {
      const run = async (id: string, pin: string) => {
        const events: string[] = [];
        const card = await simulatedCard(id);
        let issuerAnswerTaken!: () => void;
        const taken = new Promise<void>((resolve) => (issuerAnswerTaken = resolve));
        const recording = {
          powerOn: () => card.powerOn(),
          powerOff: () => card.powerOff(),
          process: (c: Uint8Array) => {
            events.push(`card ${INS[c[1]!] ?? c[1]!.toString(16)}`);
            const answer = card.process(c);
            if (c[1] === 0x82) issuerAnswerTaken();
            return answer;
          },
        };
        const central = radio.central();
        const paymentCard = new EmvPaymentCard(new InProcessCardReader(recording), {
          country: 276,
          currency: 'EUR',
          now: () => new Date(),
          waitTimeoutMs: 200,
        });
        const prompt = new AutoPrompt({ pin, confirmWhen: taken });
        const confirm = prompt.confirm.bind(prompt);
        prompt.confirm = (b) => (events.push('basket shown'), confirm(b));
        try {
          const r = await runPaymentSession({
            central,
            card: paymentCard,
            prompt,
            trust,
            till: { kind: 'strongest' },
            scanTimeoutMs: 2_000,
          });
          events.push(`outcome ${r.outcome.kind}`);
        } finally {
          await central.close();
        }
        return events;
      };
      world.ringUp([{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 349 }]);
      // The shopper confirms only once the card has the issuer's answer: shown before it, confirmed after.
      expect((await run('card-chen', '9876')).slice(-4)).toEqual([
        'basket shown',
        'card EXTERNAL AUTHENTICATE',
        'card GENERATE AC',
        'outcome approved',
      ]);
      world.ringUp([{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 349 }]);
      // A wrong PIN: no basket; the card takes the issuer's answer (its tries) before the flow ends.
      const declined = await run('card-dana', '0000');
      expect(declined.slice(-2)).toEqual(['card EXTERNAL AUTHENTICATE', 'outcome declined']);
      expect(declined).not.toContain('basket shown');
    },
  );
});
