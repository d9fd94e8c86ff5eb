/**
 * One payment (core/payment-session.ts) against a real till and backend over the in-memory link: picking the
 * till, resuming after a link lost once the Payment left, and the shopper's messages for card
 * failures (no reader, no card, card removed mid-read) and a declined PIN.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AutoPrompt,
  dropAfterMessages,
  EmvCard,
  InMemoryRadio,
  personalizeCard,
  startWorld,
  type World,
} from '@bluetill/simulator';
import { decodePersonalizationData, publicKeyFromRaw } from '@bluetill/protocol';
import { readFileSync } from 'node:fs';
import { InProcessCardReader } from '../../phone-agent/src/adapters/card-reader.in-process';
import { EmvPaymentCard } from '../../phone-agent/src/core/card/emv-payment-card';
import type { BleCentral } from '../../phone-agent/src/ports/ble-central';
import type { CardReader } from '../../phone-agent/src/ports/card-reader';
import type { PaymentCard } from '../../phone-agent/src/ports/payment-card';
import { EXIT } from '../../phone-agent/src/cli/exit-codes';
import { reportOutcome } from '../../phone-agent/src/cli/pay-report';
import {
  pickTill,
  runPaymentSession,
  TillUnreachableError,
} from '../../phone-agent/src/core/payment-session';
import { tillUnreachableCliError } from '../../phone-agent/src/cli/till-unreachable';
import { BleCentralError } from '../../phone-agent/src/ports/ble-central';
import { bySignal, signalText } from '../../phone-agent/src/core/signal';
import { CliError } from '../../phone-agent/src/cli/cli-error';
import { GrpcShopperBackend } from '../../phone-agent/src/adapters/shopper-backend.grpc';

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

/** Records what the card raised, as the CLI's card source does. */
function recording(inner: PaymentCard): PaymentCard & { failure?: unknown } {
  const r: PaymentCard & { failure?: unknown } = {
    read: (un) =>
      inner.read(un).catch((e: unknown) => {
        r.failure = e;
        throw e;
      }),
    generateAc: (i) => inner.generateAc(i),
  };
  return r;
}

const emv = (reader: CardReader) =>
  new EmvPaymentCard(reader, { country: 276, currency: 'EUR', now: () => new Date(), waitTimeoutMs: 200 });

describe('payment session', () => {
  it('picks a till by name or by the strongest signal', () => {
    const ads = [
      { id: 'a', counterName: 'Counter 1', rssi: -70 },
      { id: 'b', counterName: 'Counter 2', rssi: -50 },
    ];
    expect(pickTill(ads, { kind: 'strongest' })?.id).toBe('b');
    expect(pickTill(ads, { kind: 'name', name: 'Counter 1' })?.id).toBe('a');
    expect(pickTill(ads, { kind: 'name', name: 'Counter 9' })).toBeUndefined();
  });

  it('RSSI 127 is "not available": ranked after every measured signal, shown as "signal n/a", null in the JSON report', () => {
    const ads = [
      { id: 'n', counterName: 'Counter 1', rssi: 127 },
      { id: 'far', counterName: 'Counter 1', rssi: -90 },
      { id: 'near', counterName: 'Counter 2', rssi: -50 },
    ];
    expect(pickTill(ads, { kind: 'strongest' })?.id).toBe('near');
    expect(pickTill(ads, { kind: 'name', name: 'Counter 1' })?.id).toBe('far');
    expect(pickTill([ads[0]!], { kind: 'strongest' })?.id).toBe('n'); // the only one is still a till
    expect([...ads].sort(bySignal).map((a) => a.id)).toEqual(['near', 'far', 'n']);
    expect(signalText(127)).toBe('signal n/a');
    expect(signalText(-59)).toBe('-59 dBm');
    const report = reportOutcome(
      { till: ads[0]!, outcome: { kind: 'cancelled' }, resumed: false } as never,
      {},
    );
    expect(report.till).toEqual({ counterName: 'Counter 1', rssi: null });
  });

  it('Bluetooth not available: ble_unavailable, which the CLI says with its hint on --hci', async () => {
    const dead: BleCentral = {
      scan: () =>
        Promise.reject(
          new BleCentralError('adapter_unavailable', 'BLE adapter not powered on (state poweredOff)'),
        ),
      connect: () => Promise.reject(new Error('not reached')),
      close: () => Promise.resolve(),
    };
    const e = await runPaymentSession({
      central: dead,
      card: emv(new InProcessCardReader(await simulatedCard('card-alice'))),
      prompt: new AutoPrompt({ pin: '1234' }),
      trust,
      till: { kind: 'strongest' },
      scanTimeoutMs: 100,
    }).catch((x: unknown) => x);
    expect(e).toMatchObject({ name: 'TillUnreachableError', code: 'ble_unavailable' });
    expect(e).not.toBeInstanceOf(CliError);
    expect(tillUnreachableCliError(e as TillUnreachableError)).toMatchObject({
      code: 'ble_unavailable',
      exitCode: EXIT.notCharged,
      message: expect.stringContaining('Check --hci'),
    });
  });

  it('no till: a TillUnreachableError no_till, which the CLI says with exit 4', async () => {
    const central = radio.central();
    try {
      const e = await runPaymentSession({
        central,
        card: emv(new InProcessCardReader(await simulatedCard('card-alice'))),
        prompt: new AutoPrompt({ pin: '1234' }),
        trust,
        till: { kind: 'name', name: 'Nowhere' },
        scanTimeoutMs: 100,
      }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TillUnreachableError);
      expect((e as TillUnreachableError).code).toBe('no_till');
      const cli = tillUnreachableCliError(e as TillUnreachableError);
      expect(cli).toBeInstanceOf(CliError);
      expect(cli).toMatchObject({
        code: 'no_till',
        exitCode: EXIT.notCharged,
        message: (e as Error).message,
      });
    } finally {
      await central.close();
    }
  });

  it(
    'the link drops right after the Payment: reconnects, retrieves the receipt, approved',
    { timeout: 30_000 },
    async () => {
      world.ringUp([{ sku: 'soap', name: 'Soap', quantity: 1, unitPriceMinor: 199 }]);
      const inner = radio.central();
      let connects = 0;
      // The first connection drops after the 5th message (the Payment); the next ones are healthy.
      const central: BleCentral = {
        scan: (s) => inner.scan(s),
        connect: async (id, c) => {
          const link = await inner.connect(id, c);
          return ++connects === 1 ? dropAfterMessages(link, 5) : link;
        },
        close: () => inner.close(),
      };
      try {
        const r = await runPaymentSession({
          central,
          card: emv(new InProcessCardReader(await simulatedCard('card-alice'))),
          prompt: new AutoPrompt({ pin: '1234' }),
          trust,
          till: { kind: 'strongest' },
          scanTimeoutMs: 2_000,
          resumeBackoffMs: 10,
        });
        expect(connects).toBe(2);
        expect(r.resumed).toBe(true);
        expect(r.outcome.kind).toBe('approved');
        const report = reportOutcome(r, {});
        expect(report).toMatchObject({
          outcome: 'approved',
          exitCode: EXIT.ok,
          resumed: true,
          card: '679999*********0019',
        });
      } finally {
        await central.close();
      }
    },
  );

  it(
    "the link drops after the Payment and the till stays out of reach: with the card company's listener, the phone asks it and shows the signed approval",
    { timeout: 30_000 },
    async () => {
      world.ringUp([{ sku: 'salt', name: 'Salt', quantity: 1, unitPriceMinor: 99 }]);
      const inner = radio.central();
      let connects = 0;
      const central: BleCentral = {
        scan: (s) => inner.scan(s),
        connect: async (id, c) => {
          if (++connects > 1) throw new Error('out of range');
          return dropAfterMessages(await inner.connect(id, c), 5);
        },
        close: () => inner.close(),
      };
      const askBackend = new GrpcShopperBackend({
        address: world.backend.shopperAddress!.replace(/^127\.0\.0\.1:/, 'localhost:'),
        backendCa: Buffer.from(world.seed.trust.backendTlsCa!),
        attempts: 1,
      });
      try {
        const r = await runPaymentSession({
          central,
          card: emv(new InProcessCardReader(await simulatedCard('card-bob'))),
          prompt: new AutoPrompt({ pin: '2580' }),
          trust,
          till: { kind: 'strongest' },
          scanTimeoutMs: 2_000,
          resumeBackoffMs: 10,
          askBackend,
        });
        expect(r.resumed).toBe(false);
        expect(r.asked).toBe(true);
        expect(r.outcome, JSON.stringify(r.outcome)).toMatchObject({
          kind: 'approved',
          receipt: { result: 'approved', total: { minor: 99 } },
        });
        expect(reportOutcome(r, {})).toMatchObject({ outcome: 'approved', exitCode: EXIT.ok, asked: true });
      } finally {
        askBackend.close();
        await central.close();
      }
    },
  );

  const cardFailure = async (reader: CardReader) => {
    const central = radio.central();
    const card = recording(emv(reader));
    try {
      const r = await runPaymentSession({
        central,
        card,
        prompt: new AutoPrompt({ pin: '1234' }),
        trust,
        till: { kind: 'name', name: 'Counter 1' },
        scanTimeoutMs: 2_000,
      });
      return reportOutcome(r, { failure: card.failure });
    } finally {
      await central.close();
    }
  };

  it('card removed mid-read: says so, exit 4, nothing charged', { timeout: 30_000 }, async () => {
    const inner = new InProcessCardReader(await simulatedCard('card-alice'));
    let n = 0;
    const flaky: CardReader = {
      waitForCard: (o) => inner.waitForCard(o),
      transmit: (c) => {
        if (++n === 4) inner.removeCard();
        return inner.transmit(c);
      },
      close: () => inner.close(),
    };
    const report = await cardFailure(flaky);
    expect(report).toMatchObject({
      outcome: 'failed',
      exitCode: EXIT.notCharged,
      charged: 'no',
      error: { code: 'card_removed' },
    });
    expect(report.message).toContain('The card was removed while it was being read');
  });

  it('no card in the field: says so, exit 4', { timeout: 30_000 }, async () => {
    const report = await cardFailure(
      new InProcessCardReader(await simulatedCard('card-alice'), { present: false }),
    );
    expect(report).toMatchObject({ exitCode: EXIT.notCharged, error: { code: 'no_card' } });
    expect(report.message).toContain('No card');
  });

  it('no reader: says so, exit 4', { timeout: 30_000 }, async () => {
    const reader = new InProcessCardReader(await simulatedCard('card-alice'));
    await reader.close();
    const report = await cardFailure(reader);
    expect(report).toMatchObject({ exitCode: EXIT.notCharged, error: { code: 'no_reader' } });
    expect(report.message).toContain('No card reader');
  });

  it('a wrong PIN: declined with the reason text and tries left, exit 3', { timeout: 30_000 }, async () => {
    const central = radio.central();
    try {
      const r = await runPaymentSession({
        central,
        card: emv(new InProcessCardReader(await simulatedCard('card-chen'))),
        prompt: new AutoPrompt({ pin: '1111' }),
        trust,
        till: { kind: 'strongest' },
        scanTimeoutMs: 2_000,
      });
      const report = reportOutcome(r, {});
      expect(report).toMatchObject({
        outcome: 'declined',
        exitCode: EXIT.declined,
        reason: 'pin_incorrect',
        pinTriesLeft: 2,
      });
      expect(report.message).toBe('Declined: Incorrect PIN (2 tries left)');
    } finally {
      await central.close();
    }
  });
});
