/**
 * A till whose card company cannot be reached at all (its gRPC client pointed at a closed port:
 * "No connection established") takes a phone's payment offline: the signed HelloAck says offline
 * with the till's own UN, the basket goes to the phone after its card data, the card's TC (with CDA,
 * over the basket's total and that UN) goes to the offline desk, and the phone gets the till-signed
 * receipt, which it verifies under the till's certificate key. Online PIN, a sum over the floor
 * limit and a Payment without a TC are declined "card company unreachable"; nothing is journaled
 * for them. Real till core, sessions, journals (SQLite files), gRPC client; a scripted phone over
 * the simulator's in-memory radio.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoPrompt, InMemoryRadio, phoneCardFrom } from '@bluetill/simulator';
import { pay } from '@bluetill/phone-agent';
import {
  MessageStream,
  createDemoIssuer,
  demoOfflineTc,
  generateP256,
  issueCertificate,
  prepareDemoCard,
  rawFromPublicKey,
  startPhoneHandshake,
  verifyOfflineReceipt,
  type BleBody,
} from '@bluetill/protocol';
import { Till } from '../../pos-terminal/src/common/till';
import { OfflineDesk } from '../../pos-terminal/src/common/offline/offline-desk';
import { SqliteJournal } from '../../pos-terminal/src/adapters/journal/journal.sqlite';
import { SqliteOfflineJournal } from '../../pos-terminal/src/adapters/journal/offline-journal.sqlite';
import { GrpcBackendClient } from '../../pos-terminal/src/adapters/backend/backend-client.grpc';

const issuer = createDemoIssuer();
/** A card its issuer lets approve offline: 2 in a row before it asks to go online, at most 3. */
const offlineCard = prepareDemoCard(issuer, {
  pan: '9990010000000025',
  expiry: '3012',
  cardholderName: 'OFF LINE',
  pin: '4321',
  offlineLimits: { lowerConsecutive: 2, upperConsecutive: 3, amountMinor: 20_000, currency: 978 },
});
const card = prepareDemoCard(issuer, {
  pan: '9990010000000017',
  expiry: '3012',
  cardholderName: 'OFF LINE',
  pin: '1234',
}).personalization;
const acquirer = generateP256();
const terminal = generateP256();
const certificate = issueCertificate(
  {
    subjectId: 'T-1',
    role: 'terminal',
    merchantId: 'M-1',
    merchantName: 'Shop',
    publicKey: rawFromPublicKey(terminal.publicKey),
    notAfterMs: Date.now() + 86_400_000,
    issuer: 'acquirer',
  },
  acquirer.privateKey,
);
const trust = { acquirerCa: acquirer.publicKey, cardCompanyRoot: generateP256().publicKey };

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startTill() {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-offline-session-'));
  const key = new Uint8Array(32).fill(7);
  const radio = new InMemoryRadio();
  const backend = new GrpcBackendClient({
    authorizationAddress: `127.0.0.1:${await closedPort()}`,
    terminalId: 'T-1',
    insecure: true,
    deadlineMs: 1_000,
    attempts: 1,
  });
  const offlineJournal = new SqliteOfflineJournal(join(dir, 'journal.sqlite'), { key });
  const offline = new OfflineDesk({
    terminalId: 'T-1',
    merchantId: 'M-1',
    merchantName: 'Shop',
    terminalKey: terminal.privateKey,
    journal: offlineJournal,
    limits: {
      currency: 'EUR',
      floorLimitMinor: 50_00,
      perCardDailyCount: 5,
      perCardDailyAmountMinor: 100_00,
      exposureMinor: 200_00,
      timeZone: 'UTC',
    },
    blockList: { has: () => false },
    caKeys: new Map([[issuer.ca.index, issuer.ca.publicKey]]),
    cardKeySecret: new Uint8Array(32).fill(3),
    forwarder: backend,
    clock: { now: () => Date.now() },
  });
  const till = new Till({
    terminalId: 'T-1',
    merchantId: 'M-1',
    counterName: 'Counter 1',
    currency: 'EUR',
    identity: { terminalKey: terminal.privateKey, terminalCertificate: certificate, merchantName: 'Shop' },
    peripheral: radio.peripheral(),
    backend,
    journal: new SqliteJournal(join(dir, 'journal.sqlite'), { key }),
    limits: { lingerMs: 50 },
    resolveEveryMs: 0,
    offline,
  });
  await till.start();
  closers.push(
    () => backend.close(),
    () => offlineJournal.close(),
    () => till.stop(),
  );
  return { radio, till, offlineJournal };
}

/** A phone that pays offline with the demo card; `o` bends it the ways the tests need. */
async function phonePays(
  radio: InMemoryRadio,
  o: { onlinePin?: boolean; noTc?: boolean } = {},
): Promise<BleBody[]> {
  const link = await radio.central().connect('till');
  const got: BleBody[] = [];
  let wake: (() => void) | null = null;
  const stream = new MessageStream({ send: (v) => link.write(v), mtu: () => link.mtu });
  link.onValue((v) => {
    const m = stream.receive(v, Date.now());
    if (m) {
      got.push(m);
      wake?.();
    }
  });
  const next = async (n: number) => {
    while (got.length < n) await new Promise<void>((r) => (wake = r));
    return got[n - 1]!;
  };
  const hs = startPhoneHandshake();
  await stream.send({ $case: 'hello', value: hs.hello });
  const ack = await next(1);
  if (ack.$case !== 'helloAck') return got;
  const secured = hs.finish(ack.value, { ...trust, now: Date.now() });
  expect(secured.offline).toBe(true);
  stream.secure(secured.channel);
  await stream.send({
    $case: 'cardAuth',
    value: {
      card: {
        pan: card.pan,
        expiry: card.expiry,
        panSequence: card.psn,
        cardholderName: '',
        records: new Uint8Array(),
        signedDynamicData: new Uint8Array(),
      },
      sealedPinBlock: new Uint8Array(),
      ...(o.onlinePin ? {} : { cvmMethod: 1 }),
    },
  });
  const auth = await next(2);
  if (auth.$case !== 'authResult' || !auth.value.approved) return got;
  const total = auth.value.total!;
  const offlineTc = o.noTc
    ? undefined
    : demoOfflineTc(card, {
        amount: total,
        unpredictableNumber: secured.unpredictableNumber,
        atc: 7 + got.length,
        date: new Date().toISOString().slice(2, 10).replaceAll('-', ''),
      });
  await stream.send({
    $case: 'payment',
    value: {
      terminalTxnId: auth.value.terminalTxnId,
      card: undefined,
      total,
      items: auth.value.items,
      cryptogram: undefined,
      offlineTc,
    },
  });
  await next(3);
  await link.disconnect().catch(() => undefined);
  return got;
}

describe('a till that cannot reach the card company sells offline', () => {
  it('approves within its limits: journaled, the basket paid, a till-signed receipt the phone verifies', async () => {
    const t = await startTill();
    const basket = t.till.baskets.add([{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }]);
    const got = await phonePays(t.radio);
    const last = got[2]!;
    expect(last.$case).toBe('receipt');
    if (last.$case !== 'receipt') return;
    expect(last.value.approved).toBe(true);
    const r = verifyOfflineReceipt(last.value.offlineReceipt!, {
      terminalId: 'T-1',
      publicKey: rawFromPublicKey(terminal.publicKey),
    });
    expect(r).toMatchObject({
      total: { minor: 700, currency: 'EUR' },
      status: 'approved offline, to be confirmed by the card company',
    });
    expect(t.offlineJournal.open().map((s) => s.offlineId)).toEqual([r.offlineId]);
    expect(t.till.baskets.get(basket.id)?.state).toBe('paid');
    expect(t.till.offlineStatus()).toMatchObject({ open: 1, exposureMinor: 700 });
  });

  it('declines "card company unreachable": an online PIN, a sum over the floor limit, a Payment without the card’s TC', async () => {
    const t = await startTill();
    const tea = t.till.baskets.add([{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 350 }]);
    const pin = await phonePays(t.radio, { onlinePin: true });
    expect(pin[1]).toMatchObject({
      $case: 'authResult',
      value: { approved: false, declineReason: 'card_company_unreachable' },
    });
    expect(t.till.baskets.get(tea.id)?.state).toBe('open'); // no basket went to a card that cannot be verified
    expect(t.till.baskets.cancel(tea.id)).toBe(true);
    const big = t.till.baskets.add([{ sku: 'tv', name: 'Television', quantity: 1, unitPriceMinor: 50_01 }]);
    const over = await phonePays(t.radio);
    expect(over[2]).toMatchObject({
      $case: 'receipt',
      value: { approved: false, declineReason: 'card_company_unreachable' },
    });
    expect(t.till.baskets.get(big.id)?.state).not.toBe('paid');
    const noTc = await phonePays(t.radio, { noTc: true });
    expect(noTc[2]).toMatchObject({
      $case: 'receipt',
      value: { approved: false, declineReason: 'card_company_unreachable' },
    });
    expect(t.offlineJournal.open()).toEqual([]);
  });

  it('the phone pays offline with its card (offline PIN, TC with CDA) and verifies the till’s receipt; past the card’s own limit it is declined', async () => {
    const t = await startTill();
    const { paymentCard } = await phoneCardFrom(offlineCard.personalization, offlineCard.personalizationKey);
    const outcomes = [];
    for (let i = 0; i < 4; i++) {
      t.till.baskets.add([{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 350 + i }]);
      const link = await t.radio.central().connect('till');
      outcomes.push(
        await pay({
          link,
          card: paymentCard,
          prompt: new AutoPrompt({ pin: '4321' }),
          trust,
          cvm: { method: 'offline_pin' },
          answerTimeoutMs: 5_000,
        }),
      );
      await link.disconnect().catch(() => undefined);
      for (const b of t.till.baskets.list()) if (b.state === 'open') t.till.baskets.cancel(b.id);
    }
    // The card approves offline twice in a row (its lower limit), then asks to go online: an ARQC
    // the till cannot send anywhere, declined "card company unreachable".
    expect(outcomes.map((o) => o.kind)).toEqual([
      'approved_offline',
      'approved_offline',
      'declined',
      'declined',
    ]);
    const first = outcomes[0]!;
    if (first.kind === 'approved_offline')
      expect(first.receipt).toMatchObject({ total: { minor: 350, currency: 'EUR' }, terminalId: 'T-1' });
    expect(outcomes[2]).toMatchObject({ reason: 'card_company_unreachable' });
    expect(t.offlineJournal.open()).toHaveLength(2);
  });
});
