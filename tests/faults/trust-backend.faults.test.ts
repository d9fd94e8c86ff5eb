/**
 * The card company's rules against a curious stranger and a dishonest party, through the real
 * parts: gRPC clients over the real servers (mutual TLS for tills, the shopper listener for
 * phones), the real SQLite file, cards computed from their personalization (TestCard: the card's
 * own keys), and the simulated world (real till core, simulated EMV card, in-memory radio) for a
 * card whose own PIN counter is locked.
 *
 * 1. no card-data oracle: before the card's signature over this UN verifies, an unknown, blocked,
 *    expired or mistyped card number gets the same answer as a fake card; limits per address;
 * 2. currencies never mix: a JPY card at a EUR merchant is declined, a JPY sale at a JPY merchant
 *    settles in yen, the database refuses unbalanced or cross-currency postings;
 * 3. the cryptogram's type is the one the card MACed: an AAC or TC relabelled ARQC is declined;
 * 4. one budget of PIN guesses: the card's signed PIN lock refuses (and locks) online PIN; the PIN
 *    Try Counter the card signs over the UN counts at Authorize and IssueCode;
 * 5. a decline is filed under the terminal's own merchant;
 * 6. guessing payment codes does not pay: used and expired answers count, per-till limit, metrics.
 *
 * Prints {"bench":"faults_trust_backend","value":<attacks>,"unit":"attacks","approved":0,…}.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { status } from '@grpc/grpc-js';
import {
  codePinContext,
  pinSealContext,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
  type AuthorizeResponse,
  type IssueCodeResponse,
  type Item,
  type Money,
  type SettleRequest,
  type SettleResponse,
} from '@bluetill/protocol';
import { luhnCheckDigit, SqliteRegistryAdmin } from '@bluetill/backend';
import { startWorld, InMemoryRadio, phoneCardFromFile, type World } from '@bluetill/simulator';
import type { PaymentCard, PaymentOutcome } from '@bluetill/phone-agent';
import {
  startBackendFixture,
  type BackendFixture,
  type FixtureClients,
} from '../../backend/src/test-support/backend-fixture';
import { BackendMetrics } from '../../backend/src/adapters/metrics/backend-metrics';
import { startMetricsServer, type MetricsServer } from '../../backend/src/adapters/metrics/metrics-server';
import type { TestCard } from '../../backend/src/test-support/test-card';

const jpyPan = (n: number) => {
  const body = `67999901000000${String(n).padStart(4, '0')}`;
  return body + luhnCheckDigit(body);
};
const JPY_CARD = {
  id: 'card-yuki',
  pan: jpyPan(7001),
  expiry: '2912',
  cardholderName: 'YUKI YAMADA',
  pin: '7777',
  creditLimitMinor: 500_000,
  currency: 'JPY',
};
const UNKNOWN_PAN = jpyPan(9901);
const eurPan = (n: number) => {
  const body = `67999901000000${String(n).padStart(4, '0')}`;
  return body + luhnCheckDigit(body);
};
/** Cards for the PIN budget with the counters a current card signs (the fixture's cards sign none, as older cards). */
const GUS_CARD = {
  id: 'card-gus',
  pan: eurPan(7101),
  expiry: '2912',
  cardholderName: 'GUS GRANT',
  pin: '5555',
  creditLimitMinor: 500_00,
  currency: 'EUR',
};
const HANA_CARD = {
  id: 'card-hana',
  pan: eurPan(7102),
  expiry: '2912',
  cardholderName: 'HANA HILL',
  pin: '6666',
  creditLimitMinor: 500_00,
  currency: 'EUR',
};
const items = (m: Money): Item[] => [{ sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: m.minor }];
const eur = (minor: number): Money => ({ minor, currency: 'EUR' });

/** What each attack got: approved must stay 0. */
const tried: { attack: string; outcome: string }[] = [];
const record = (attack: string, outcome: string) => tried.push({ attack, outcome });

let f: BackendFixture;
let metrics: BackendMetrics;
let http: MetricsServer;
let offsetMs = 0;
beforeAll(async () => {
  metrics = new BackendMetrics();
  f = await startBackendFixture({
    extraCards: [JPY_CARD, GUS_CARD, HANA_CARD],
    metrics,
    clock: { now: () => Date.now() + offsetMs },
    shopper: { codesPerPeerPerMinute: 12 },
  });
  http = await startMetricsServer(metrics);
}, 60_000);
afterAll(async () => {
  await http?.close();
  await f?.close();
  const approved = tried.filter((t) => t.outcome === 'approved').length;
  const outcomes: Record<string, number> = {};
  for (const t of tried) outcomes[t.outcome] = (outcomes[t.outcome] ?? 0) + 1;
  process.stdout.write(
    `${JSON.stringify({ bench: 'faults_trust_backend', value: tried.length, unit: 'attacks', approved, outcomes })}\n`,
  );
});

const db = () => f.backend.store.db;
const postings = () => (db().prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;

/** Challenge, Authorize (sealed online PIN) and Settle, as the till `client` (default T-0001) relays them. */
async function settleAfterAuthorize(
  card: TestCard,
  pin: string,
  o: {
    txn: string;
    amount: Money;
    terminalId?: string;
    client?: FixtureClients;
    merchantId?: string;
    cryptogram?: (un: Uint8Array) => SettleRequest['cryptogram'];
  },
): Promise<SettleResponse> {
  const terminalId = o.terminalId ?? 'T-0001';
  const till = o.client ?? f;
  const ch = await till.challenge(terminalId);
  const pinKey = verifyCertificate(
    ch.pinKeyCertificate,
    publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64')),
    { role: 'pin-key', now: Date.now() },
  );
  const un = ch.unpredictableNumber;
  const sealed = sealPin({
    pin,
    pan: card.p.pan,
    pinKey: pinKey.publicKey,
    pinKeyId: pinKey.subjectId,
    context: pinSealContext(un, terminalId),
  });
  const res = await till.authorize({
    terminalId,
    unpredictableNumber: un,
    sealedPinBlock: sealed,
    card: card.cardData(un),
  });
  expect(res.approved, res.declineReason).toBe(true);
  const req: SettleRequest = {
    terminalId,
    terminalTxnId: o.txn,
    merchantId: o.merchantId ?? 'M-0001',
    authorizationRef: res.authorizationRef,
    card: card.cardData(un),
    amount: o.amount,
    items: items(o.amount),
    cryptogram: o.cryptogram ? o.cryptogram(un) : card.arqc(o.amount, un),
  };
  return till.settle(req);
}

describe('1. no card-data oracle for a stranger with card numbers and no card', () => {
  /** What a stranger sends: a card's records (read or skimmed once) with a signature over some other UN, or edited fields. */
  const attempts = (): Array<[string, (un: Uint8Array) => ReturnType<TestCard['cardData']>]> => {
    const stale = Uint8Array.of(1, 2, 3, 4);
    return [
      ['unknown number', (_un) => ({ ...f.card('card-alice').cardData(stale), pan: UNKNOWN_PAN })],
      ['blocked card', () => f.card('card-eve').cardData(stale)],
      ['expired card', () => f.card('card-finn').cardData(stale)],
      ['known card, wrong expiry', () => ({ ...f.card('card-bob').cardData(stale), expiry: '3112' })],
      ['known card, right expiry', () => f.card('card-bob').cardData(stale)],
      [
        'known card, right expiry, no signature',
        () => ({ ...f.card('card-bob').cardData(stale), signedDynamicData: new Uint8Array() }),
      ],
    ];
  };

  it('Authorize answers every unproven card the same: one decline, no PIN tries, same status and shape', async () => {
    const answers: Array<{ name: string; res: AuthorizeResponse; code: number; details: string }> = [];
    for (const [name, data] of attempts()) {
      const ch = await f.challenge();
      const res = await f.authorize({
        terminalId: 'T-0001',
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: new Uint8Array(),
        card: data(ch.unpredictableNumber),
      });
      const w = f.wire.at(-1)!;
      answers.push({ name, res, code: w.code, details: w.details });
      record(`authorize: ${name}`, res.approved ? 'approved' : res.declineReason);
    }
    for (const a of answers) {
      expect(a.res, a.name).toEqual({
        approved: false,
        declineReason: 'card_authentication_failed',
        authorizationRef: '',
        expiresAtMs: 0,
        pinTriesLeft: 0,
      });
      expect({ code: a.code, details: a.details }, a.name).toEqual({
        code: answers[0]!.code,
        details: answers[0]!.details,
      });
    }
    // No PIN try was counted for any of them: Bob's right PIN still works with all three tries.
    expect((await f.authorizeCard(f.card('card-bob'), '2580')).res).toMatchObject({
      approved: true,
      pinTriesLeft: 3,
    });
  });

  it('a till walking card data is stopped: after 60 unproven cards in a minute its Authorize calls are refused, other tills are served', async () => {
    const t2 = f.clientFor(f.credentialsFor('T-0002'));
    const walk = async (i: number) => {
      const ch = await t2.challenge('T-0002');
      const card = { ...f.card('card-alice').cardData(Uint8Array.of(7, 7, 7, 7)), pan: jpyPan(6000 + i) };
      return t2.authorize({
        terminalId: 'T-0002',
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: new Uint8Array(),
        card,
      });
    };
    for (let i = 0; i < 60; i++) expect((await walk(i)).declineReason).toBe('card_authentication_failed');
    record('till walks 60 card numbers', 'card_authentication_failed');
    const refused = await walk(60).then(
      (r) => r.declineReason,
      (e: { code?: number }) =>
        e.code === status.RESOURCE_EXHAUSTED ? 'resource_exhausted' : String(e.code),
    );
    record('till walks a 61st card number', refused);
    expect(refused).toBe('resource_exhausted');
    expect((await f.authorizeCard(f.card('card-alice'), '1234')).res.approved).toBe(true);
  });

  it('Shopper.IssueCode answers every unproven card the same, and limits code requests per address, whatever the card number', async () => {
    const seen: IssueCodeResponse[] = [];
    for (const [name, data] of attempts()) {
      const ch = await f.shopper.challenge();
      const res = await f.shopper.issueCode({
        unpredictableNumber: ch.unpredictableNumber,
        card: data(ch.unpredictableNumber),
        sealedPinBlock: new Uint8Array(),
        amountLimit: eur(10_00),
      });
      seen.push(res);
      record(`issue code: ${name}`, res.approved ? 'approved' : res.declineReason);
    }
    for (const res of seen)
      expect({ ...res, maskedPan: '' }).toEqual({
        approved: false,
        declineReason: 'card_authentication_failed',
        code: '',
        expiresAtMs: 0,
        pinTriesLeft: 0,
        maskedPan: '',
      });
    // A stranger walking through card numbers from one address: each number is new to the per-card
    // limit, so only the per-address one (12 in this fixture, 6 used above) stops the walk.
    let refused = 0;
    for (let i = 0; i < 10; i++) {
      const ch = await f.shopper.challenge();
      const card = { ...f.card('card-alice').cardData(Uint8Array.of(9, 9, 9, 9)), pan: jpyPan(8000 + i) };
      await f.shopper
        .issueCode({
          unpredictableNumber: ch.unpredictableNumber,
          card,
          sealedPinBlock: new Uint8Array(),
          amountLimit: eur(10_00),
        })
        .then((r) => record('issue code: walk card numbers', r.approved ? 'approved' : r.declineReason))
        .catch((e: { code?: number }) => {
          expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
          refused++;
          record('issue code: walk card numbers', 'resource_exhausted');
        });
    }
    expect(refused).toBe(4);
    // The window passes (the backend's clock): later tests from this address are served again.
    offsetMs += 61_000;
  });
});

describe('2. currencies never mix', () => {
  it('a JPY card paying ¥100,000 at a EUR merchant is declined (currency_not_accepted), nothing is credited, the batch stays in EUR', async () => {
    const before = postings();
    const euroSale = await settleAfterAuthorize(f.card('card-alice'), '1234', {
      txn: 'cur-eur-1',
      amount: eur(12_50),
    });
    expect(euroSale.approved).toBe(true);
    const res = await settleAfterAuthorize(f.card(JPY_CARD.id), JPY_CARD.pin, {
      txn: 'cur-jpy-at-eur',
      amount: { minor: 100_000, currency: 'JPY' },
    });
    record('JPY card at a EUR merchant', res.approved ? 'approved' : res.declineReason);
    expect(res).toMatchObject({ approved: false, declineReason: 'currency_not_accepted' });
    expect(postings()).toBe(before + 2);
    expect(db().prepare("SELECT balance_minor AS b FROM accounts WHERE id = 'acct-M-0001'").get()).toEqual({
      b: 12_50,
    });
    const closed = await f.closeBatch({ terminalId: 'T-0001', closeRequestId: 'cur-close-1' });
    expect(closed.totals).toMatchObject({ currency: 'EUR', saleCount: 1, saleMinor: 12_50, netMinor: 12_50 });
    expect(f.backend.store.ledgerSumsByCurrency()).toEqual({ EUR: 0 });
  });

  it('a JPY card at a JPY merchant settles end to end in yen (exponent 0): postings, balances and batch totals in JPY', async () => {
    // The yen merchant's till: T-0003 moved to a merchant registered in JPY.
    const admin = new Database(f.seed.dbPath);
    admin.pragma('foreign_keys = ON');
    admin.pragma('busy_timeout = 5000');
    await new SqliteRegistryAdmin(admin).addMerchant({ id: 'M-JPY', name: 'Kissa Tokyo', currency: 'JPY' });
    admin.prepare("UPDATE terminals SET merchant_id = 'M-JPY' WHERE id = 'T-0003'").run();
    admin.close();
    const till = f.clientFor(f.credentialsFor('T-0003'));
    const yen = { minor: 1_200, currency: 'JPY' };
    const res = await settleAfterAuthorize(f.card(JPY_CARD.id), JPY_CARD.pin, {
      txn: 'cur-jpy-1',
      amount: yen,
      terminalId: 'T-0003',
      merchantId: 'M-JPY',
      client: till,
    });
    expect(res, res.declineReason).toMatchObject({ approved: true });
    expect(
      db()
        .prepare(
          "SELECT account_id AS a, amount_minor AS m, currency AS c FROM postings WHERE settlement_id = (SELECT id FROM settlements WHERE terminal_txn_id = 'cur-jpy-1') ORDER BY amount_minor",
        )
        .all(),
    ).toEqual([
      { a: `acct-${JPY_CARD.id}`, m: -1_200, c: 'JPY' },
      { a: 'acct-M-JPY', m: 1_200, c: 'JPY' },
    ]);
    const eurAtYen = await settleAfterAuthorize(f.card('card-alice'), '1234', {
      txn: 'cur-eur-at-jpy',
      amount: eur(5_00),
      terminalId: 'T-0003',
      merchantId: 'M-JPY',
      client: till,
    });
    record('EUR card at a JPY merchant', eurAtYen.approved ? 'approved' : eurAtYen.declineReason);
    expect(eurAtYen).toMatchObject({ approved: false, declineReason: 'currency_not_accepted' });
    const closed = await till.closeBatch({ terminalId: 'T-0003', closeRequestId: 'cur-close-jpy' });
    expect(closed.totals).toMatchObject({ currency: 'JPY', saleCount: 1, saleMinor: 1_200, netMinor: 1_200 });
    expect(f.backend.store.ledgerSumsByCurrency()).toMatchObject({ JPY: 0, EUR: 0 });
  });

  it('the database itself refuses a raw INSERT of unbalanced or cross-currency postings (a second connection, as any other code would)', () => {
    const raw = new Database(f.seed.dbPath);
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    const sale = raw
      .prepare("SELECT id, batch_id AS b FROM settlements WHERE approved = 1 AND currency = 'EUR' LIMIT 1")
      .get() as { id: number; b: number };
    const ins = raw.prepare(
      'INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id) VALUES (?, ?, ?, ?, 0, ?)',
    );
    const before = raw.prepare('SELECT COUNT(*) AS n, SUM(amount_minor) AS s FROM postings').get();
    const attempts: Array<[string, () => void]> = [
      [
        'one unbalanced credit to the merchant',
        () => ins.run(sale.id, 'acct-M-0001', 1_000_00, 'EUR', sale.b),
      ],
      [
        'a pair that does not balance',
        () =>
          raw.transaction(() => {
            ins.run(sale.id, 'acct-M-0001', 100, 'EUR', sale.b);
            ins.run(sale.id, 'acct-card-alice', -99, 'EUR', sale.b);
          })(),
      ],
      [
        'yen debited, "the same number" of euro cents credited',
        () =>
          raw.transaction(() => {
            ins.run(sale.id, `acct-${JPY_CARD.id}`, -100_000, 'JPY', sale.b);
            ins.run(sale.id, 'acct-M-0001', 100_000, 'EUR', sale.b);
          })(),
      ],
      [
        'yen posted to a EUR account, balanced',
        () =>
          raw.transaction(() => {
            ins.run(sale.id, `acct-${JPY_CARD.id}`, -100_000, 'JPY', sale.b);
            ins.run(sale.id, 'acct-M-0001', 100_000, 'JPY', sale.b);
          })(),
      ],
    ];
    for (const [name, run] of attempts) {
      expect(run, name).toThrow(/FOREIGN KEY constraint failed|currency differs/);
      record(`raw ledger insert: ${name}`, 'refused');
    }
    expect(raw.inTransaction).toBe(false);
    expect(raw.prepare('SELECT COUNT(*) AS n, SUM(amount_minor) AS s FROM postings').get()).toEqual(before);
    raw.close();
  });
});

describe('3. the cryptogram type is what the card MACed', () => {
  it('an AAC relabelled ARQC by the phone (CID 80) is declined (card_declined), nothing posted, the authorization stays unused', async () => {
    const before = postings();
    const card = f.card('card-chen');
    const res = await settleAfterAuthorize(card, '9876', {
      txn: 'ac-aac',
      amount: eur(3_00),
      cryptogram: (un) => ({ ...card.arqc(eur(3_00), un, undefined, { acType: 'aac' }), cid: 0x80 }),
    });
    record('AAC relabelled ARQC', res.approved ? 'approved' : res.declineReason);
    expect(res).toMatchObject({ approved: false, declineReason: 'card_declined' });
    expect(postings()).toBe(before);
  });

  it('a TC relabelled ARQC is not an online request either (card_declined); an honest ARQC afterwards is approved', async () => {
    const before = postings();
    const card = f.card('card-chen');
    const res = await settleAfterAuthorize(card, '9876', {
      txn: 'ac-tc',
      amount: eur(3_00),
      cryptogram: (un) => ({ ...card.arqc(eur(3_00), un, undefined, { acType: 'tc' }), cid: 0x80 }),
    });
    record('TC relabelled ARQC', res.approved ? 'approved' : res.declineReason);
    expect(res).toMatchObject({ approved: false, declineReason: 'card_declined' });
    expect(postings()).toBe(before);
    expect((await settleAfterAuthorize(card, '9876', { txn: 'ac-honest', amount: eur(3_00) })).approved).toBe(
      true,
    );
  });
});

describe('4. one budget of PIN guesses', () => {
  it("the card's signed 'PIN try limit exceeded' refuses an online-PIN sale with the right PIN, and locks online PIN at the server too", async () => {
    const before = postings();
    const card = f.card('card-dana');
    const locked = { pinTryLimitExceeded: true, pinTriesLeft: 0 };
    const res = await settleAfterAuthorize(card, '1111', {
      txn: 'pin-locked-card',
      amount: eur(2_00),
      cryptogram: (un) => card.arqc(eur(2_00), un, undefined, locked),
    });
    record('online PIN after the card locked its PIN', res.approved ? 'approved' : res.declineReason);
    expect(res).toMatchObject({ approved: false, declineReason: 'pin_tries_exceeded' });
    expect(postings()).toBe(before);
    // The next Authorize, right PIN, is refused: the guesses at the card and at the server are one budget.
    const again = (await f.authorizeCard(card, '1111')).res;
    record('online PIN after the lock', again.approved ? 'approved' : again.declineReason);
    expect(again).toMatchObject({ approved: false, declineReason: 'pin_tries_exceeded', pinTriesLeft: 0 });
  });

  it('the PIN Try Counter the card signed over the UN counts: after 2 wrong offline, one online guess at IssueCode, then locked for Authorize too', async () => {
    const card = f.card('card-gus');
    const issue = async (pin: string) => {
      const ch = await f.shopper.challenge();
      const pinKey = verifyCertificate(
        ch.pinKeyCertificate,
        publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64')),
        { role: 'pin-key', now: Date.now() },
      );
      const sealed = sealPin({
        pin,
        pan: card.p.pan,
        pinKey: pinKey.publicKey,
        pinKeyId: pinKey.subjectId,
        context: codePinContext(ch.unpredictableNumber),
      });
      return f.shopper.issueCode({
        unpredictableNumber: ch.unpredictableNumber,
        card: card.cardData(ch.unpredictableNumber, { pinTriesLeft: 1 }),
        sealedPinBlock: sealed,
        amountLimit: eur(5_00),
      });
    };
    const third = await issue('0000');
    record('IssueCode, 3rd guess after 2 wrong offline', third.code ? 'approved' : third.declineReason);
    expect(third).toMatchObject({ declineReason: 'pin_tries_exceeded', pinTriesLeft: 0 });
    const fourth = await issue('5555');
    record('IssueCode, 4th guess (right)', fourth.code ? 'approved' : fourth.declineReason);
    expect(fourth).toMatchObject({ declineReason: 'pin_tries_exceeded', pinTriesLeft: 0 });
    // The server's counter is locked: an Authorize from a card that signs "3 left" is refused too.
    const ch = await f.challenge('T-0001');
    const pinKey = verifyCertificate(
      ch.pinKeyCertificate,
      publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64')),
      { role: 'pin-key', now: Date.now() },
    );
    const sealed = sealPin({
      pin: '5555',
      pan: card.p.pan,
      pinKey: pinKey.publicKey,
      pinKeyId: pinKey.subjectId,
      context: pinSealContext(ch.unpredictableNumber, 'T-0001'),
    });
    const res = await f.authorize({
      terminalId: 'T-0001',
      unpredictableNumber: ch.unpredictableNumber,
      sealedPinBlock: sealed,
      card: card.cardData(ch.unpredictableNumber, { pinTriesLeft: 3 }),
    });
    record('Authorize, right PIN, after the budget was spent', res.approved ? 'approved' : res.declineReason);
    expect(res).toMatchObject({ approved: false, declineReason: 'pin_tries_exceeded', pinTriesLeft: 0 });
  });

  it('a card that signed its fingerprint or secret locked is refused online PIN at Authorize, no PIN checked; their tries are not PIN guesses', async () => {
    const card = f.card('card-hana');
    const authorize = async (pin: string, counters: Parameters<TestCard['cardData']>[1]) => {
      const ch = await f.challenge('T-0001');
      const pinKey = verifyCertificate(
        ch.pinKeyCertificate,
        publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64')),
        { role: 'pin-key', now: Date.now() },
      );
      const sealed = sealPin({
        pin,
        pan: card.p.pan,
        pinKey: pinKey.publicKey,
        pinKeyId: pinKey.subjectId,
        context: pinSealContext(ch.unpredictableNumber, 'T-0001'),
      });
      return f.authorize({
        terminalId: 'T-0001',
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: sealed,
        card: card.cardData(ch.unpredictableNumber, counters),
      });
    };
    const finger = await authorize('0000', { pinTriesLeft: 3, biometricTriesLeft: 0 });
    record('online PIN, fingerprint locked on the card', finger.approved ? 'approved' : finger.declineReason);
    expect(finger).toMatchObject({ approved: false, declineReason: 'cvm_tries_exceeded', pinTriesLeft: 3 });
    const secret = await authorize('6666', { pinTriesLeft: 3, knowledgeTriesLeft: 0 });
    record(
      'online PIN (right), secret locked on the card',
      secret.approved ? 'approved' : secret.declineReason,
    );
    expect(secret).toMatchObject({ approved: false, declineReason: 'cvm_tries_exceeded' });
    // Wrong fingerprint or secret tries (not locked) leave the PIN budget whole.
    expect(
      await authorize('6666', { pinTriesLeft: 3, biometricTriesLeft: 1, knowledgeTriesLeft: 1 }),
    ).toMatchObject({ approved: true, pinTriesLeft: 3 });
  });
});

describe('5. a decline is filed under the terminal’s own merchant', () => {
  const filedUnder = (txn: string) =>
    db()
      .prepare('SELECT merchant_id AS m FROM settlements WHERE terminal_id = ? AND terminal_txn_id = ?')
      .get('T-0001', txn);

  it('a Settle naming another merchant is declined and filed under the merchant the registry gives the till', async () => {
    const res = await settleAfterAuthorize(f.card('card-alice'), '1234', {
      txn: 'file-other-merchant',
      amount: eur(1_00),
      merchantId: 'M-0002',
    });
    record('Settle naming another merchant', res.approved ? 'approved' : res.declineReason);
    expect(res).toMatchObject({ approved: false, declineReason: 'terminal_unknown' });
    expect(filedUnder('file-other-merchant')).toEqual({ m: 'M-0001' });
    expect(db().prepare("SELECT COUNT(*) AS n FROM settlements WHERE merchant_id = 'M-0002'").get()).toEqual({
      n: 0,
    });
  });

  it('a SettleWithCode naming another merchant is filed under the till’s merchant as well', async () => {
    const res = await f.settleWithCode({
      terminalId: 'T-0001',
      terminalTxnId: 'file-code-other',
      merchantId: 'M-0002',
      code: '00000000',
      amount: eur(1_00),
      items: items(eur(1_00)),
    });
    record('SettleWithCode naming another merchant', res.approved ? 'approved' : res.declineReason);
    expect(res.approved).toBe(false);
    expect(filedUnder('file-code-other')).toEqual({ m: 'M-0001' });
    expect(db().prepare("SELECT COUNT(*) AS n FROM settlements WHERE merchant_id = 'M-0002'").get()).toEqual({
      n: 0,
    });
  });
});

describe('6. guessing payment codes does not pay', () => {
  async function issue(cardId: string, pin: string, limit: Money): Promise<IssueCodeResponse> {
    const card = f.card(cardId);
    const ch = await f.shopper.challenge();
    const pinKey = verifyCertificate(
      ch.pinKeyCertificate,
      publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64')),
      { role: 'pin-key', now: Date.now() },
    );
    const sealed = sealPin({
      pin,
      pan: card.p.pan,
      pinKey: pinKey.publicKey,
      pinKeyId: pinKey.subjectId,
      context: codePinContext(ch.unpredictableNumber),
    });
    return f.shopper.issueCode({
      unpredictableNumber: ch.unpredictableNumber,
      card: card.cardData(ch.unpredictableNumber),
      sealedPinBlock: sealed,
      amountLimit: limit,
    });
  }
  const codeSale = (terminalId: string, txn: string, code: string, minor: number) => ({
    terminalId,
    terminalTxnId: txn,
    merchantId: 'M-0001',
    code,
    amount: eur(minor),
    items: items(eur(minor)),
  });

  it('used and expired codes count as failed guesses, and one till is shut after 5 while the merchant’s other tills still take codes', async () => {
    const t2 = f.clientFor(f.credentialsFor('T-0002'));
    const used = await issue('card-chen', '9876', eur(5_00));
    expect((await t2.settleWithCode(codeSale('T-0002', 'g-pay', used.code, 1_00))).approved).toBe(true);
    const late = await issue('card-bob', '2580', eur(5_00));
    offsetMs += 6 * 60_000;
    try {
      const answers: string[] = [];
      for (let i = 0; i < 3; i++)
        answers.push(
          (await f.settleWithCode(codeSale('T-0001', `g-used-${i}`, used.code, 1_00))).declineReason,
        );
      for (let i = 0; i < 2; i++)
        answers.push(
          (await f.settleWithCode(codeSale('T-0001', `g-expired-${i}`, late.code, 1_00))).declineReason,
        );
      expect(answers).toEqual(['code_used', 'code_used', 'code_used', 'code_expired', 'code_expired']);
      for (const a of answers) record('code guess (used/expired)', a);
      const fresh = await issue('card-alice', '1234', eur(5_00));
      const locked = await f.settleWithCode(codeSale('T-0001', 'g-locked', fresh.code, 1_00));
      record(
        'right code at a till past its 5 failed guesses',
        locked.approved ? 'approved' : locked.declineReason,
      );
      expect(locked).toMatchObject({ approved: false, declineReason: 'code_attempts_exceeded' });
      // The merchant's other till is not shut by one till's guesses.
      expect((await t2.settleWithCode(codeSale('T-0002', 'g-other-till', fresh.code, 1_00))).approved).toBe(
        true,
      );
    } finally {
      offsetMs -= 6 * 60_000;
    }
  });

  it('lockouts show in the metrics (codes, PIN tries, rate limits), by method and reason', async () => {
    const body = await (await fetch(http.url)).text();
    const value = (line: string) =>
      Number(
        body
          .split('\n')
          .find((l) => l.startsWith(line))
          ?.slice(line.length)
          .trim(),
      );
    expect(
      value(
        'bluetill_backend_lockouts_total{method="Authorization.SettleWithCode",reason="code_attempts_exceeded"}',
      ),
    ).toBe(1);
    expect(
      value('bluetill_backend_lockouts_total{method="Shopper.IssueCode",reason="resource_exhausted"}'),
    ).toBe(4);
    // Section 4: the card's signed lock, then the budget spent by the card's counter and an IssueCode guess.
    expect(value('bluetill_backend_lockouts_total{method="Authorize",reason="pin_tries_exceeded"}')).toBe(2);
    expect(
      value('bluetill_backend_lockouts_total{method="Shopper.IssueCode",reason="pin_tries_exceeded"}'),
    ).toBe(2);
    expect(value('bluetill_backend_lockouts_total{method="Authorize",reason="cvm_tries_exceeded"}')).toBe(2);
  });
});

describe('3 and 4 with the simulated card and a modified phone (real till core, in-memory radio)', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({ radio: new InMemoryRadio() });
  }, 60_000);
  afterAll(async () => world?.close());
  const codeOf = (o: PaymentOutcome): string =>
    o.kind === 'declined' ? o.reason : o.kind === 'failed' ? o.code : o.kind;
  const tea: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 350 }];

  it('the card answers GENERATE AC with an AAC, the phone relabels it ARQC (CID 80): declined (card_declined), nothing charged', async () => {
    const sim = await phoneCardFromFile(join(world.seed.cardsDir, 'card-alice.json'));
    // The card declines the payment: here the phone's reader asks it for an AAC (P1 00) over the
    // sum (not the account verification over amount 0 that goes with the online PIN), as a card's
    // own risk management would answer; the phone then presents it as an ARQC.
    const process = sim.card.process.bind(sim.card);
    const payment = (command: Uint8Array): boolean =>
      command[1] === 0xae && command.subarray(5, 11).some((b) => b !== 0);
    sim.card.process = (command: Uint8Array) =>
      process(payment(command) ? Uint8Array.from(command, (b, i) => (i === 2 ? b & 0x3f : b)) : command);
    world.ringUp(tea);
    const run = await world.phonePays('card-alice', '1234', {
      card: sim.paymentCard,
      tamper: { payment: (p) => void (p.cryptogram = { ...p.cryptogram!, cid: 0x80 }) },
    });
    record('AAC relabelled ARQC (simulated card)', codeOf(run.outcome));
    expect(codeOf(run.outcome), JSON.stringify(run.outcome)).toBe('card_declined');
    expect(world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get()).toEqual({ n: 0 });
  });

  it('three wrong offline PINs at the card (a modified phone), then the right PIN online: declined, nothing charged, online PIN locked', async () => {
    const card = await world.cardOf('card-chen');
    // The thief's phone: reads the card, then spends the card's own three PIN tries.
    const guessing: PaymentCard = {
      read: async (un) => {
        const data = await card.read(un);
        for (const guess of ['0000', '1111', '2222'])
          await card.verifyCardholder!({ method: 'offline_pin', pin: guess });
        return data;
      },
      generateAc: (input) => card.generateAc(input),
      verifyCardholder: (v) => card.verifyCardholder!(v),
    };
    world.ringUp(tea);
    const first = await world.phonePays('card-chen', '1234', { card: guessing });
    record('offline PIN guesses at the card', codeOf(first.outcome));
    expect(first.outcome.kind).not.toBe('approved');
    // Next session: the card's counter is locked; the thief (who learned the PIN) pays by online PIN.
    world.ringUp(tea);
    const second = await world.phonePays('card-chen', '9876');
    record('online PIN after the card locked its PIN (simulated card)', codeOf(second.outcome));
    expect(codeOf(second.outcome), JSON.stringify(second.outcome)).toBe('pin_tries_exceeded');
    world.ringUp(tea);
    const third = await world.phonePays('card-chen', '9876');
    expect(codeOf(third.outcome)).toBe('pin_tries_exceeded');
    expect(world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get()).toEqual({ n: 0 });
  });
});
