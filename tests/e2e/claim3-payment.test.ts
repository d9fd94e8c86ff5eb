/**
 * The claim-3 payment end to end in one process: real grpc-js servers on loopback, real SQLite
 * files (backend and till journal), the till core and the phone flow over the in-memory BLE link.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWorld, phoneCardFrom, InMemoryRadio, type World } from '@bluetill/simulator';
import { DEMO_CARDS } from '@bluetill/backend';
import { cardSecrets, filesAtRest, scanAtRest } from '../support/data-at-rest';
import {
  createDemoIssuer,
  fragment,
  encodeMessage,
  LAST,
  prepareDemoCard,
  startPhoneHandshake,
  type Item,
} from '@bluetill/protocol';

/** A card made by an issuer whose keys the backend does not know (same BIN and CA index). */
async function rogueCard(pan: string, expiry: string, pin: string) {
  const rogue = createDemoIssuer({ identifier: '679999', caIndex: 0x99 });
  const { personalization, personalizationKey } = prepareDemoCard(rogue, {
    pan,
    expiry,
    cardholderName: 'ROGUE',
    pin,
  });
  return (await phoneCardFrom(personalization, personalizationKey)).paymentCard;
}

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const LUNCH: Item[] = [
  { sku: 'sandwich', name: 'Club sandwich', quantity: 1, unitPriceMinor: 650 },
  { sku: 'water', name: 'Still water', quantity: 2, unitPriceMinor: 120 },
];
const BOOK: Item[] = [{ sku: 'book', name: 'Paperback', quantity: 1, unitPriceMinor: 1299 }];

let world: World;
let radio: InMemoryRadio;
beforeEach(async () => {
  radio = new InMemoryRadio();
  world = await startWorld({ radio });
});
afterEach(() => world.close());

const db = () => world.backend.store.db;
const postingCount = () => (db().prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;
const approvedCount = () =>
  (db().prepare('SELECT COUNT(*) AS n FROM settlements WHERE approved = 1').get() as { n: number }).n;
const ledgerSum = () => world.backend.store.ledgerSum();

describe('claim 3: three phones pay three baskets at the same time', () => {
  it('approves each, with a verified receipt per phone, and posts one balanced pair per payment', async () => {
    const baskets = [TEA, LUNCH, BOOK].map((b) => world.ringUp(b));
    const runs = await Promise.all([
      world.phonePays('card-alice', '1234'),
      world.phonePays('card-bob', '2580'),
      world.phonePays('card-chen', '9876'),
    ]);
    for (const r of runs) expect(r.outcome, JSON.stringify(r.outcome)).toMatchObject({ kind: 'approved' });
    const receipts = runs.map((r) => (r.outcome.kind === 'approved' ? r.outcome.receipt : null)!);
    // every basket paid exactly once, each by a different card
    expect(new Set(receipts.map((r) => r.total!.minor))).toEqual(new Set([700, 890, 1299]));
    expect(new Set(receipts.map((r) => r.maskedPan)).size).toBe(3);
    for (const r of receipts) {
      expect(r.merchantName).toBe('Corner Shop');
      expect(r.maskedPan).toMatch(/^679999\*+\d{4}$/);
      expect(r.approvalCode).toMatch(/^[0-9A-Z]{6}$/);
    }
    for (const id of baskets) expect(world.till.baskets.get(id)!.state).toBe('paid');
    // the phone showed the merchant from the verified certificate and the basket before paying
    for (const r of runs) expect(r.prompt.merchantName).toBe('Corner Shop');
    expect(approvedCount()).toBe(3);
    expect(postingCount()).toBe(6);
    expect(ledgerSum()).toBe(0);
    // the till shows each receipt too
    expect(world.events.filter((e) => e.type === 'receipt')).toHaveLength(3);
    // data at rest: no card number, PIN or card key in clear in any file of the backend or the till (DBs, WALs, logs)
    const scan = scanAtRest(filesAtRest(world.dir), cardSecrets(world.seed.cardsDir));
    expect(scan.files).toBeGreaterThanOrEqual(2);
    expect(scan.hits).toEqual([]);
  });
});

describe('claim 3: the order, with the card read ahead of the link', () => {
  it("card and cardholder are authenticated (CardAuth over the till's UN) before the transaction data (the Payment), in three round trips", async () => {
    world.ringUp(TEA);
    const log: string[] = [];
    const alice = await world.cardOf('card-alice');
    const card = {
      prepare: () => (log.includes('card: ahead, no UN') || log.push('card: ahead, no UN'), alice.prepare!()), // the session and the flow both ask
      read: (un: Uint8Array, options?: Parameters<typeof alice.read>[1]) => (
        log.push('card: authenticated over the UN'),
        alice.read(un, options)
      ),
      issuerAuthenticate: (data: Uint8Array) => alice.issuerAuthenticate!(data), // the issuer's answer to the card, after Authorize
      generateAc: (i: Parameters<typeof alice.generateAc>[0]) => (
        log.push('card: cryptogram over the amount'),
        alice.generateAc(i)
      ),
    };
    let sent = 0;
    const run = await world.phonePays('card-alice', '1234', {
      card,
      wrapLink: (link) => ({
        get mtu() {
          return link.mtu;
        },
        write: async (v, o) => {
          await link.write(v, o);
          if ((v[0]! & LAST) !== 0) log.push(`phone: message ${++sent} sent`);
        },
        readInfo: () => link.readInfo(),
        onValue: (h) => link.onValue(h),
        onDisconnect: (h) => link.onDisconnect(h),
        disconnect: () => link.disconnect(),
      }),
    });
    expect(run.outcome.kind).toBe('approved');
    expect(log).toEqual([
      'card: ahead, no UN', // at arrival: nothing of it leaves the phone
      'phone: message 1 sent', // Hello; HelloAck brings the till's certificate and the UN
      'card: authenticated over the UN',
      'phone: message 2 sent', // CardAuth (card data, sealed PIN block)
      'card: cryptogram over the amount',
      'phone: message 3 sent', // Payment
    ]);
  });
});

describe('bad input is declined and costs nothing', () => {
  it('wrong PIN is declined with tries counted, and locks at the third', async () => {
    world.ringUp(TEA);
    const one = await world.phonePays('card-chen', '0000');
    expect(one.outcome).toMatchObject({ kind: 'declined', reason: 'pin_incorrect', pinTriesLeft: 2 });
    await world.phonePays('card-chen', '0001');
    const three = await world.phonePays('card-chen', '0002');
    expect(three.outcome).toMatchObject({ kind: 'declined', reason: 'pin_tries_exceeded' });
    const right = await world.phonePays('card-chen', '9876');
    expect(right.outcome).toMatchObject({ kind: 'declined', reason: 'pin_tries_exceeded' });
    expect(postingCount()).toBe(0);
    expect(world.till.baskets.list()[0]!.state).toBe('open'); // the basket waits for another card
  });

  it('an unknown card is declined, as any card that has not proven itself (no word on the number, no PIN tries)', async () => {
    world.ringUp(TEA);
    const run = await world.phonePays('card-alice', '1234', {
      card: await rogueCard('6799990100000009999', '2812', '1234'),
    });
    expect(run.outcome).toMatchObject({
      kind: 'declined',
      reason: 'card_authentication_failed',
      pinTriesLeft: 0,
    });
    expect(postingCount()).toBe(0);
  });

  it('a cloned card (known number, keys not from the issuer) fails card authentication, learns nothing of the PIN tries and burns none', async () => {
    world.ringUp(TEA);
    const alice = DEMO_CARDS.find((c) => c.id === 'card-alice')!;
    const run = await world.phonePays('card-alice', '0000', {
      card: await rogueCard(alice.pan, alice.expiry, '0000'),
    });
    expect(run.outcome).toMatchObject({
      kind: 'declined',
      reason: 'card_authentication_failed',
      pinTriesLeft: 0,
    });
    const tries = db().prepare("SELECT pin_tries AS n FROM cards WHERE id = 'card-alice'").get() as {
      n: number;
    };
    expect(tries.n).toBe(0);
    expect(postingCount()).toBe(0);
  });

  it('an ARQC over another amount is refused at settlement; nothing is charged', async () => {
    world.ringUp(BOOK);
    const run = await world.phonePays('card-alice', '1234', {
      tamper: {
        payment: (p) =>
          void (p.cryptogram = {
            ...p.cryptogram!,
            cdolData: Uint8Array.from(p.cryptogram!.cdolData, (b, i) => (i === 5 ? b ^ 0x01 : b)),
          }),
      },
    });
    expect(run.outcome).toMatchObject({ kind: 'declined', reason: 'cryptogram_invalid' });
    expect(postingCount()).toBe(0);
  });

  it('a phone that changes the amount is declined at the till; nothing is charged', async () => {
    world.ringUp(LUNCH);
    const run = await world.phonePays('card-alice', '1234', {
      tamper: { payment: (p) => void (p.total = { minor: 1, currency: 'EUR' }) },
    });
    expect(run.outcome).toMatchObject({ kind: 'declined', reason: 'amount_mismatch' });
    expect(world.events).toContainEqual(
      expect.objectContaining({ type: 'mismatch', decline: 'amount_mismatch' }),
    );
    expect(postingCount()).toBe(0);
    // The decline is the settlement server's (signed, so the phone can believe it): one declined row, no postings.
    expect(db().prepare('SELECT approved, decline_reason FROM settlements').all()).toEqual([
      { approved: 0, decline_reason: 'amount_mismatch' },
    ]);
    expect(run.outcome.kind === 'declined' && run.outcome.receipt?.result).toBe('declined');
  });

  it('a phone that changes the items (same sum) is declined at the till; nothing is charged', async () => {
    world.ringUp(LUNCH);
    const swapped = (items: Item[]) => [{ ...items[0]!, name: 'Caviar', sku: 'caviar' }, ...items.slice(1)];
    const run = await world.phonePays('card-alice', '1234', {
      tamper: { payment: (p) => void (p.items = swapped(p.items)) },
    });
    expect(run.outcome).toMatchObject({ kind: 'declined', reason: 'items_mismatch' });
    expect(postingCount()).toBe(0);
  });

  it('a frame that fails authentication closes that session only; another phone still pays', async () => {
    world.ringUp(TEA);
    const link = await radio.central().connect('till');
    const closed = new Promise<string>((r) => link.onDisconnect(r));
    const answered = new Promise<void>((r) => link.onValue(() => r()));
    const hs = startPhoneHandshake();
    for (const v of fragment(encodeMessage({ $case: 'hello', value: hs.hello }), link.mtu - 3, 0))
      await link.write(v);
    await answered; // the till answers the Hello once its session is keyed: now send a forged sealed record
    for (const v of fragment(
      encodeMessage({ $case: 'sealed', value: { seq: 0, ciphertext: new Uint8Array(40).fill(7) } }),
      link.mtu - 3,
      1,
    ))
      await link.write(v);
    expect(await closed).toBeTruthy();
    expect(world.events).toContainEqual(expect.objectContaining({ type: 'error', code: 'bad_record' }));
    expect((await world.phonePays('card-alice', '1234')).outcome.kind).toBe('approved');
  });

  it('a frame that is too large closes that session only, while another phone pays', async () => {
    world.ringUp(TEA);
    const link = await radio.central().connect('till');
    const closed = new Promise<string>((r) => link.onDisconnect(r));
    const honest = world.phonePays('card-bob', '2580');
    await link.write(Uint8Array.of(0xc0, 0xff, 0xff, 1, 2, 3)); // declares 65535 bytes
    expect(await closed).toBeTruthy();
    expect(world.events).toContainEqual(
      expect.objectContaining({ type: 'error', code: 'message_too_large' }),
    );
    expect((await honest).outcome.kind).toBe('approved');
  });
});

describe('backend unreachable', () => {
  it('at the start: a clear error, nothing charged; after it returns one payment charges once', async () => {
    world.ringUp(TEA);
    await world.stopBackend();
    const down = await world.phonePays('card-alice', '1234');
    expect(down.outcome).toMatchObject({ kind: 'failed', charged: 'no' });
    expect(down.outcome.kind === 'failed' && down.outcome.message).toMatch(/backend_unavailable/);
    await world.restartBackend();
    expect(postingCount()).toBe(0);
    const up = await world.phonePays('card-alice', '1234');
    expect(up.outcome.kind).toBe('approved');
    expect(approvedCount()).toBe(1);
    expect(ledgerSum()).toBe(0);
  });

  it('at settlement: outcome unknown is resolved by asking; the retry charges exactly once', async () => {
    const basket = world.ringUp(BOOK);
    const lost = await world.phonePays('card-bob', '2580', {
      tamper: { payment: () => world.stopBackend() },
    });
    expect(lost.outcome).toMatchObject({ kind: 'failed', charged: 'unknown' });
    expect(world.events).toContainEqual(expect.objectContaining({ type: 'attempt', state: 'unresolved' }));
    await world.restartBackend();
    await world.till.resolveUnresolved();
    expect(world.events).toContainEqual(expect.objectContaining({ type: 'attempt', state: 'abandoned' }));
    expect(world.till.baskets.get(basket)!.state).toBe('open');
    const retry = await world.phonePays('card-bob', '2580');
    expect(retry.outcome.kind).toBe('approved');
    expect(approvedCount()).toBe(1);
    expect(postingCount()).toBe(2);
    expect(ledgerSum()).toBe(0);
  });
});
