/**
 * Attacks by a modified phone (and a few by a till that replays what it saw), against the real
 * backend (grpc-js over mutual TLS, SQLite), the real till core and the phone's payment flow
 * over the in-memory radio, with the simulated EMV cards. Each attack must be declined with its
 * normalized reason, move no money, and is counted in the `faults_attacks` line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import {
  CARD_CDOL1,
  decodeTlv,
  encodeTlv,
  issueCertificate,
  parseDol,
  pinSealContext,
  privateKeyFromPem,
  sealPin,
  splitDolData,
  verifyCertificate,
  rawFromPublicKey,
  type CardData,
  type Item,
  type Payment,
  type SettleResponse,
} from '@bluetill/protocol';
import { Till, SqliteJournal, BackendError, type BackendClient } from '@bluetill/pos-terminal';
import { SoftwareKeyStore, issueTerminalIdentity } from '@bluetill/backend';
import fc from 'fast-check';
import { authenticateCard } from '../../backend/src/domain/card-authentication';
import { InMemoryRadio } from '@bluetill/simulator';
import type { PaymentCard, PaymentOutcome } from '@bluetill/phone-agent';
import { TestCard } from '../../backend/src/test-support/test-card';
import { SEED, SOAK, Tally, bytes, cases, params, timeout } from './support';
import { cardSecrets, filesAtRest, scanAtRest, type ScanResult } from '../support/data-at-rest';
import { ledgerFacts, override, startRig, type PhoneRun, type Rig } from './rig';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const ALICE = { id: 'card-alice', pin: '1234' };
const BOB = { id: 'card-bob', pin: '2580' };

type Count = { tried: number; declined: number; approved: number; reasons: Record<string, number> };
const counts = new Map<string, Count>();
const t0 = performance.now();

/** What a run ended with: the decline code, 'approved', or failed:<code> (never a decline). */
const resultOf = (o: PaymentOutcome): string =>
  o.kind === 'declined'
    ? o.reason
    : o.kind === 'approved'
      ? 'approved'
      : o.kind === 'failed'
        ? `failed:${o.code}`
        : o.kind;

function record(attack: string, result: string): string {
  const c = counts.get(attack) ?? { tried: 0, declined: 0, approved: 0, reasons: {} };
  c.tried++;
  if (result === 'approved') c.approved++;
  else c.declined++;
  c.reasons[result] = (c.reasons[result] ?? 0) + 1;
  counts.set(attack, c);
  return result;
}

let rig: Rig;
/** Approved settlements and postings the honest runs made; an attack must not add any. */
let honest = { approved: 0, postings: 0 };

function expectNothingMoved(): void {
  const f = ledgerFacts(rig);
  expect(f.sum).toBe(0);
  expect(f.approved).toBe(honest.approved);
  expect(f.postings).toBe(honest.postings);
}

/** A basket waits at the till (one is rung up when none is open). */
function basketAt(till: number): void {
  if (!rig.tills[till]!.till.baskets.list().some((b) => b.state === 'open')) rig.ringUp(till, TEA);
}

/** An honest payment (the attacker's own, to have something to replay); returns what was sent. */
async function honestPayment(till: number, card = ALICE) {
  basketAt(till);
  let cardAuth: { card: CardData; sealedPinBlock: Uint8Array } | undefined;
  let payment: Payment | undefined;
  const run = await rig.phonePays(till, card.id, card.pin, {
    tamper: {
      cardAuth: (a) => void (cardAuth = structuredClone({ card: a.card!, sealedPinBlock: a.sealedPinBlock })),
      payment: (p) => void (payment = structuredClone(p)),
    },
  });
  expect(run.outcome.kind, JSON.stringify(run.outcome)).toBe('approved');
  honest = { approved: honest.approved + 1, postings: honest.postings + 2 };
  return { cardAuth: cardAuth!, payment: payment! };
}

/** One attack: a phone run at a till, which must end declined with `reason`. */
async function attack(
  name: string,
  reason: string,
  till: number,
  run: () => Promise<PhoneRun>,
): Promise<void> {
  basketAt(till);
  const r = await run();
  const result = record(name, resultOf(r.outcome));
  expect(result, `${name}: ${JSON.stringify(r.outcome)}`).toBe(reason);
  expectNothingMoved();
}

const unOf = (cdolData: Uint8Array): Uint8Array => splitDolData(parseDol(CARD_CDOL1), cdolData)!.get('9F37')!;
const records = (card: CardData) => decodeTlv(card.records);

/** Till 3 (index 2) can be made to answer a Payment with the last settlement it saw (a compromised till). */
let lastSettle: SettleResponse | undefined;
let replayOldReceipt = false;

beforeAll(async () => {
  rig = await startRig({
    tills: 3,
    wrap: (i, parts) =>
      i !== 2
        ? parts
        : {
            journal: parts.journal,
            backend: override<BackendClient>(parts.backend, {
              settle: async (req) => {
                if (replayOldReceipt && lastSettle) return lastSettle;
                return (lastSettle = await parts.backend.settle(req));
              },
            }),
          },
  });
}, 60_000);

/** Data at rest of every rig here, scanned before it closes (databases, WAL files, logs). */
const scans: ScanResult[] = [];
const scanRig = (r: Rig) => scans.push(scanAtRest(filesAtRest(r.dir), cardSecrets(r.seed.cardsDir)));

afterAll(async () => {
  if (rig) scanRig(rig);
  const hits = scans.flatMap((s) => s.hits);
  process.stdout.write(
    `${JSON.stringify({ bench: 'faults_data_at_rest', value: hits.length, unit: 'hits', files: scans.reduce((n, s) => n + s.files, 0), bytesScanned: scans.reduce((n, s) => n + s.bytes, 0), needles: scans[0]?.needles ?? 0, scope: 'attacks', seed: SEED, soak: SOAK, hits: hits.map((h) => h.label) })}\n`,
  );
  const all = [...counts.values()];
  const line = {
    bench: 'faults_attacks',
    value: all.reduce((n, c) => n + c.tried, 0),
    unit: 'attacks',
    declined: all.reduce((n, c) => n + c.declined, 0),
    approved: all.reduce((n, c) => n + c.approved, 0),
    ms: Math.round(performance.now() - t0),
    seed: SEED,
    soak: SOAK,
    attacks: Object.fromEntries(counts),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  await rig?.close();
});

describe('card data that is not what the card signed', () => {
  it("brand/AID mix-up: another brand's AID and label in the records were approved, now card_authentication_failed — was a bug", async () => {
    const otherBrand = encodeTlv([
      {
        tag: '70',
        value: new Uint8Array(),
        children: [
          { tag: '4F', value: Uint8Array.from(Buffer.from('A0000000041010', 'hex')) },
          { tag: '50', value: Uint8Array.from(Buffer.from('MASTERCARD', 'latin1')) },
        ],
      },
    ]);
    await attack('brand_aid_mixup', 'card_authentication_failed', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        tamper: {
          cardAuth: (a) =>
            void (a.card = { ...a.card!, records: Uint8Array.from([...otherBrand, ...a.card!.records]) }),
        },
      }),
    );
    await attack('brand_aid_mixup', 'card_authentication_failed', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        tamper: {
          cardAuth: (a) =>
            void (a.card = { ...a.card!, records: Uint8Array.from([...a.card!.records, ...otherBrand]) }),
        },
      }),
    );
  });

  it("brand/AID mix-up: another scheme's CA index, a number of another brand or of another card", async () => {
    // The CA public key index (8F) names another scheme's key.
    await attack('brand_aid_mixup', 'card_authentication_failed', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        tamper: {
          cardAuth: (a) => {
            const nodes = records(a.card!).map((n) => ({
              ...n,
              children: n.children?.map((c) => (c.tag === '8F' ? { ...c, value: Uint8Array.of(0x05) } : c)),
            }));
            a.card = { ...a.card!, records: encodeTlv(nodes) };
          },
        },
      }),
    );
    // The phone claims a card number of another brand (a Visa test number) over Alice's records:
    // the records do not prove that number, so the answer is the one every unproven card gets.
    await attack('brand_aid_mixup', 'card_authentication_failed', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        tamper: { cardAuth: (a) => void (a.card = { ...a.card!, pan: '4111111111111111' }) },
      }),
    );
    // … or the number, expiry and sequence of another card of ours over Alice's records and signature.
    const bob = await (await rig.card(BOB.id)).read(Uint8Array.of(1, 2, 3, 4));
    await attack('brand_aid_mixup', 'card_authentication_failed', 0, () =>
      rig.phonePays(0, ALICE.id, BOB.pin, {
        tamper: {
          cardAuth: (a) =>
            void (a.card = {
              ...a.card!,
              pan: bob.pan,
              expiry: bob.expiry,
              panSequence: bob.panSequence,
              cardholderName: bob.cardholderName,
            }),
        },
      }),
    );
    expect(
      rig
        .query<{ n: number }>("SELECT pin_tries AS n FROM cards WHERE id IN ('card-alice', 'card-bob')")
        .map((r) => r.n),
    ).toEqual([0, 0]);
  });

  it('certificates from another card, and a valid DDA signature over another unpredictable number', async () => {
    const bobCard = await rig.card(BOB.id);
    // Alice's signed record and signature, Bob's issuer and ICC certificates.
    await attack('foreign_certificates', 'card_authentication_failed', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        tamper: {
          cardAuth: async (a) => {
            const bob = await bobCard.read(Uint8Array.of(9, 9, 9, 9));
            a.card = {
              ...a.card!,
              records: encodeTlv([...records(a.card!).slice(0, 2), ...records(bob).slice(2)]),
            };
          },
        },
      }),
    );
    // Bob's certificates and Bob's genuine signature over this session's UN, with Alice's number and signed record.
    const alice = await rig.card(ALICE.id);
    let sessionUn: Uint8Array = new Uint8Array();
    const seeingUn: PaymentCard = {
      read: (un) => ((sessionUn = un), alice.read(un)),
      generateAc: (i) => alice.generateAc(i),
    };
    await attack('foreign_certificates', 'card_authentication_failed', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        card: seeingUn,
        tamper: {
          cardAuth: async (a) => {
            const bob = await bobCard.read(sessionUn);
            a.card = {
              ...a.card!,
              records: encodeTlv([...records(a.card!).slice(0, 2), ...records(bob).slice(2)]),
              signedDynamicData: bob.signedDynamicData,
            };
          },
        },
      }),
    );
    // A genuine signature by Alice's card, over a number the server never issued to this session.
    const otherUn: PaymentCard = {
      read: () => alice.read(new Uint8Array(randomBytes(4))),
      generateAc: (i) => alice.generateAc(i),
    };
    await attack('dda_other_un', 'card_authentication_failed', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, { card: otherUn }),
    );
    // … over the UN of an earlier session (a pre-played signature).
    const earlier = await honestPayment(0);
    await attack('dda_other_un', 'card_authentication_failed', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        tamper: {
          cardAuth: (a) =>
            void (a.card = { ...a.card!, signedDynamicData: earlier.cardAuth.card.signedDynamicData }),
        },
      }),
    );
  });
});

describe('the card-records rule, property-tested (authorization server, in process)', () => {
  const tally = new Tally('card_records');
  const seen = { declined: 0, harmlessAccepted: 0 };
  afterAll(() => tally.print({ ...seen }));

  it(
    'an extra data object whose tag the card already has, or naming another application, is declined; random records are declined; nothing throws',
    { timeout: timeout() },
    () => {
      const keys = new SoftwareKeyStore(rig.material);
      const card = TestCard.fromFile(rig.cardFile(ALICE.id));
      const un = Uint8Array.of(0x12, 0x34, 0x56, 0x78);
      const genuine = card.cardData(un);
      const check = (records: Uint8Array) =>
        authenticateCard({
          card: { ...genuine, records },
          unpredictableNumber: un,
          caKeys: keys.caPublicKeys,
          now: new Date(),
        });
      expect(check(genuine.records)).toBeNull(); // the genuine records pass
      const nodes = decodeTlv(genuine.records);
      const present = [...new Set(nodes.flatMap((n) => (n.children ?? []).map((c) => c.tag)))];
      const names = ['4F', '84', '9F06', '50', '9F12'];
      const own: Record<string, string> = {
        '4F': 'A0000009990101',
        '84': 'A0000009990101',
        '9F06': 'A0000009990101',
        '50': Buffer.from('BLUETILL').toString('hex').toUpperCase(),
        '9F12': Buffer.from('BLUETILL').toString('hex').toUpperCase(),
      };
      const extra = fc.record({
        tag: fc.oneof(
          fc.constantFrom(...present),
          fc.constantFrom(...names),
          fc.constantFrom('9F4D', '9F4E', 'DF01', '5F2D'),
        ),
        value: fc.oneof(
          fc.uint8Array({ maxLength: 24 }),
          fc.constantFrom(...Object.values(own)).map((h) => Uint8Array.from(Buffer.from(h, 'hex'))),
        ),
        at: fc.nat(nodes.length),
        inside: fc.boolean(),
      });
      fc.assert(
        fc.property(extra, ({ tag, value, at, inside }) => {
          tally.cases++;
          const added = { tag, value };
          const mutated = inside
            ? nodes.map((n, i) =>
                i === Math.min(at, nodes.length - 1) ? { ...n, children: [...(n.children ?? []), added] } : n,
              )
            : [
                ...nodes.slice(0, at),
                { tag: '70', value: new Uint8Array(), children: [added] },
                ...nodes.slice(at),
              ];
          let result: string | null;
          try {
            result = check(encodeTlv(mutated));
          } catch (e) {
            tally.typed(e, []);
            return false;
          }
          const mustFail =
            present.includes(tag) ||
            (names.includes(tag) && Buffer.from(value).toString('hex').toUpperCase() !== own[tag]);
          if (result === 'card_authentication_failed') seen.declined++;
          else if (result === null) seen.harmlessAccepted++; // a new tag, not a name: not signed, not used
          return mustFail ? result === 'card_authentication_failed' : result === null;
        }),
        params(cases(300, 20_000)),
      );
      fc.assert(
        fc.property(bytes(600), (random) => {
          tally.cases++;
          try {
            const declined = check(random) === 'card_authentication_failed';
            if (declined) seen.declined++;
            return declined;
          } catch (e) {
            tally.typed(e, []);
            return false;
          }
        }),
        params(cases(300, 200_000)),
      );
      expect(tally.crashes).toBe(0);
    },
  );
});

describe('replays and changes after the cryptogram', () => {
  it('a CardAuth or a Payment of an earlier session, at the same till and at another till', async () => {
    const earlier = await honestPayment(0);
    for (const till of [0, 1]) {
      await attack('replayed_card_auth', 'card_authentication_failed', till, () =>
        rig.phonePays(till, ALICE.id, ALICE.pin, {
          tamper: { cardAuth: (a) => void Object.assign(a, structuredClone(earlier.cardAuth)) },
        }),
      );
      // The whole Payment of the earlier session (its transaction id, card, sum, items, ARQC).
      await attack('replayed_payment', 'authorization_invalid', till, () =>
        rig.phonePays(till, ALICE.id, ALICE.pin, {
          tamper: { payment: (p) => void Object.assign(p, structuredClone(earlier.payment)) },
        }),
      );
      // The earlier ARQC inside this session's Payment (same basket contents and sum).
      await attack('replayed_arqc', 'cryptogram_invalid', till, () =>
        rig.phonePays(till, ALICE.id, ALICE.pin, {
          tamper: { payment: (p) => void (p.cryptogram = structuredClone(earlier.payment.cryptogram)) },
        }),
      );
    }
  });

  it('a genuine ARQC over this session with an ATC the card already used, the last one or an earlier one', async () => {
    const first = await honestPayment(0, BOB);
    const earlier = await honestPayment(0, BOB);
    const clone = TestCard.fromFile(rig.cardFile(BOB.id));
    for (const atc of [earlier.payment.cryptogram!.atc, first.payment.cryptogram!.atc]) {
      await attack('used_atc', 'atc_replayed', 0, () =>
        rig.phonePays(0, BOB.id, BOB.pin, {
          tamper: {
            payment: (p) => void (p.cryptogram = clone.arqc(p.total!, unOf(p.cryptogram!.cdolData), atc)),
          },
        }),
      );
    }
    // The refused attempts use up nothing of the card's: its next genuine payment still goes through.
    await honestPayment(0, BOB);
  });

  it('the amount or the items changed after the ARQC, or an ARQC over a smaller amount', async () => {
    await attack('changed_after_arqc', 'amount_mismatch', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        tamper: { payment: (p) => void (p.total = { minor: 1, currency: 'EUR' }) },
      }),
    );
    await attack('changed_after_arqc', 'items_mismatch', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        tamper: { payment: (p) => void (p.items = [{ ...p.items[0]!, sku: 'caviar', name: 'Caviar' }]) },
      }),
    );
    // A genuine ARQC by Alice's card keys (a second GENERATE AC in one session is refused by the card,
    // so computed from its personalization) over 0.01 EUR, sent with the basket's sum and items.
    const clone = TestCard.fromFile(rig.cardFile(ALICE.id));
    await attack('changed_after_arqc', 'cryptogram_invalid', 0, () =>
      rig.phonePays(0, ALICE.id, ALICE.pin, {
        tamper: {
          payment: (p) =>
            void (p.cryptogram = clone.arqc(
              { minor: 1, currency: 'EUR' },
              unOf(p.cryptogram!.cdolData),
              500,
            )),
        },
      }),
    );
  });
});

describe('a till that answers with the signed receipt of another payment', () => {
  it('the phone showed that receipt as its own payment approved; now the outcome is unknown (receipt_mismatch) — was a bug', async () => {
    await honestPayment(2, BOB);
    replayOldReceipt = true;
    try {
      await attack('foreign_receipt', 'failed:receipt_mismatch', 2, () =>
        rig.phonePays(2, ALICE.id, ALICE.pin, { resume: false }),
      );
    } finally {
      replayOldReceipt = false;
    }
  });
});

describe('unpredictable numbers (a till relaying what it saw)', () => {
  /** Challenge (at `issuedTo`) and Authorize (as `till`) Alice's card over `un`, card data signed over it. */
  async function authorizeWith(till: number, un: Uint8Array, pinKeyCertificate: Uint8Array) {
    const t = rig.tills[till]!;
    const card = TestCard.fromFile(rig.cardFile(ALICE.id));
    const pinKey = verifyCertificate(pinKeyCertificate, rig.trust.cardCompanyRoot, {
      role: 'pin-key',
      now: Date.now(),
    });
    const sealed = sealPin({
      pin: ALICE.pin,
      pan: card.p.pan,
      pinKey: pinKey.publicKey,
      pinKeyId: pinKey.subjectId,
      context: pinSealContext(un, t.terminalId),
    });
    return t.client.authorize({
      terminalId: t.terminalId,
      unpredictableNumber: un,
      card: card.cardData(un),
      sealedPinBlock: sealed,
    });
  }
  const count = (name: string, res: { approved: boolean; declineReason: string }) =>
    record(name, res.approved ? 'approved' : res.declineReason);

  it('never issued, already used, expired, or issued to another till: unpredictable_number_invalid, no PIN try counted', async () => {
    const client = rig.tills[0]!.client;
    const { pinKeyCertificate } = await client.challenge();
    expect(
      count('un_never_issued', await authorizeWith(0, new Uint8Array(randomBytes(4)), pinKeyCertificate)),
    ).toBe('unpredictable_number_invalid');
    const used = await client.challenge();
    expect(count('un_control', await authorizeWith(0, used.unpredictableNumber, pinKeyCertificate))).toBe(
      'approved',
    ); // the honest use
    expect(
      count('un_already_used', await authorizeWith(0, used.unpredictableNumber, pinKeyCertificate)),
    ).toBe('unpredictable_number_invalid');
    const other = await rig.tills[1]!.client.challenge();
    expect(count('un_other_till', await authorizeWith(0, other.unpredictableNumber, pinKeyCertificate))).toBe(
      'unpredictable_number_invalid',
    );
    const old = await client.challenge();
    rig.clock.advance(61_000); // the backend's clock: the UN lives 60 s
    try {
      expect(count('un_expired', await authorizeWith(0, old.unpredictableNumber, pinKeyCertificate))).toBe(
        'unpredictable_number_invalid',
      );
    } finally {
      rig.clock.advance(-61_000);
    }
    // The same through a phone that holds its session (and its card's signature over the UN) past the UN's life.
    await attack('un_expired', 'unpredictable_number_invalid', 0, () =>
      rig
        .phonePays(0, ALICE.id, ALICE.pin, { tamper: { cardAuth: () => rig.clock.advance(61_000) } })
        .finally(() => rig.clock.advance(-61_000)),
    );
    expect(rig.query<{ n: number }>("SELECT pin_tries AS n FROM cards WHERE id = 'card-alice'")[0]!.n).toBe(
      0,
    );
    // the honest control approved an authorization but settled nothing
    expectNothingMoved();
    counts.delete('un_control');
  });
});

describe('a fake till', () => {
  /** A till with this identity on its own radio; its "backend" only hands out UNs and the real PIN-key certificate. */
  async function fakeTill(identity: {
    terminalKey: KeyObject;
    terminalCertificate: Uint8Array;
    merchantName: string;
  }) {
    const { pinKeyCertificate } = await rig.tills[0]!.client.challenge();
    const refuse = () => Promise.reject(new BackendError('unavailable', 'a fake till has no backend'));
    const backend: BackendClient = {
      challenge: async () => ({
        unpredictableNumber: new Uint8Array(randomBytes(4)),
        expiresAtMs: Date.now() + 60_000,
        pinKeyCertificate,
        terminalStatement: new Uint8Array(),
      }),
      authorize: refuse,
      settle: refuse,
      cancel: refuse,
      settleWithCode: refuse,
      getSettlement: refuse,
      refund: refuse,
      voidSale: refuse,
      closeBatch: refuse,
      listTransactions: refuse,
      close: () => undefined,
    };
    const radio = new InMemoryRadio();
    const journal = new SqliteJournal(`${rig.dir}/fake-till-${counts.size}-${Date.now()}.sqlite`, {
      key: new Uint8Array(randomBytes(32)),
    });
    const till = new Till({
      terminalId: 'T-0001',
      merchantId: 'M-0001',
      counterName: 'Counter 1',
      currency: 'EUR',
      identity,
      peripheral: radio.peripheral(),
      backend,
      journal,
      resolveEveryMs: 0,
    });
    await till.start();
    till.baskets.add(TEA);
    return { radio, close: async () => (await till.stop(), journal.close()) };
  }

  async function phoneAtFakeTill(name: string, identity: Parameters<typeof fakeTill>[0]): Promise<void> {
    const fake = await fakeTill(identity);
    let reads = 0;
    let notified = false;
    let writesAfterAck = 0;
    const alice = await rig.card(ALICE.id);
    const counting: PaymentCard = {
      read: (un, o) => (reads++, alice.read(un, o)),
      generateAc: (i) => alice.generateAc(i),
      issuerAuthenticate: (d) => alice.issuerAuthenticate!(d),
    };
    try {
      const run = await rig.phonePaysOn(fake.radio, ALICE.id, ALICE.pin, {
        card: counting,
        spy: { onNotify: () => void (notified = true), onWrite: () => void (notified && writesAfterAck++) },
      });
      const result = record(name, resultOf(run.outcome));
      expect(result, JSON.stringify(run.outcome)).toBe('failed:till_untrusted');
      expect(run.outcome).toMatchObject({ charged: 'no' });
      expect(notified).toBe(true); // the HelloAck came
      expect(reads).toBe(0); // the card was never read
      expect(writesAfterAck).toBe(0); // and nothing left the phone after the HelloAck
      expectNothingMoved();
    } finally {
      await fake.close();
    }
  }

  it('refuses a terminal certificate not issued by the acquirer CA, before any card data leaves the phone', async () => {
    const rogueCa = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const certificate = issueCertificate(
      {
        subjectId: 'T-0001',
        role: 'terminal',
        merchantId: 'M-0001',
        merchantName: 'Corner Shop',
        publicKey: rawFromPublicKey(key.publicKey),
        notAfterMs: Date.now() + 86_400_000,
        issuer: 'bluetill acquirer',
      },
      rogueCa.privateKey,
    );
    await phoneAtFakeTill('fake_till_foreign_ca', {
      terminalKey: key.privateKey,
      terminalCertificate: certificate,
      merchantName: 'Corner Shop',
    });
  });

  it("refuses a valid certificate of another merchant (claiming this one), and this merchant's certificate without its key", async () => {
    const evil = issueTerminalIdentity(rig.material, {
      terminalId: 'T-0666',
      merchantId: 'M-0666',
      merchantName: 'Evil Shop',
    });
    await phoneAtFakeTill('fake_till_other_merchant', {
      terminalKey: privateKeyFromPem(evil.privatePem).privateKey,
      terminalCertificate: Buffer.from(evil.certificate, 'base64'),
      merchantName: 'Corner Shop',
    });
    // Corner Shop's real certificate (public: every HelloAck carries it), signed with the impostor's key.
    await phoneAtFakeTill('fake_till_other_merchant', {
      terminalKey: privateKeyFromPem(evil.privatePem).privateKey,
      terminalCertificate: Buffer.from(rig.seed.terminal.certificate, 'base64'),
      merchantName: 'Corner Shop',
    });
  });
});

describe('wrong PIN at three tills, then the right one', () => {
  it(
    'is declined (locked), and the lock survives a kill -9 of the authorization server',
    { timeout: 90_000 },
    async () => {
      const lockRig = await startRig({ tills: 3, backend: 'process' });
      try {
        const CHEN = { id: 'card-chen', pin: '9876' };
        const tryPin = async (till: number, pin: string) => {
          if (!lockRig.tills[till]!.till.baskets.list().some((b) => b.state === 'open'))
            lockRig.ringUp(till, TEA);
          return resultOf((await lockRig.phonePays(till, CHEN.id, pin)).outcome);
        };
        expect(record('pin_guessing', await tryPin(0, '0000'))).toBe('pin_incorrect');
        expect(record('pin_guessing', await tryPin(1, '0001'))).toBe('pin_incorrect');
        expect(record('pin_guessing', await tryPin(2, '0002'))).toBe('pin_tries_exceeded');
        expect(record('pin_guessing', await tryPin(0, CHEN.pin))).toBe('pin_tries_exceeded');
        await lockRig.killBackend(); // SIGKILL: no shutdown, no flush beyond what was committed
        await lockRig.startBackend(); // same SQLite file, same port
        for (const t of lockRig.tills) await t.client.waitForReady(10_000);
        expect(record('pin_guessing', await tryPin(1, CHEN.pin))).toBe('pin_tries_exceeded');
        expect(record('pin_guessing', await tryPin(2, CHEN.pin))).toBe('pin_tries_exceeded');
        expect(
          lockRig.query<{ n: number }>("SELECT pin_tries AS n FROM cards WHERE id = 'card-chen'")[0]!.n,
        ).toBe(3);
        const f = ledgerFacts(lockRig);
        expect(f.postings).toBe(0);
        expect(f.sum).toBe(0);
        scanRig(lockRig);
      } finally {
        await lockRig.close();
      }
    },
  );
});

describe('data at rest after the attacks', () => {
  it("no card number, PIN, clear PIN block or card key in the backend's or the tills' databases, WAL files or logs", () => {
    const now = scanAtRest(filesAtRest(rig.dir), cardSecrets(rig.seed.cardsDir));
    expect(now.files).toBeGreaterThanOrEqual(4); // backend.sqlite (+ -wal), three till journals, backend.log
    expect(now.bytes).toBeGreaterThan(0);
    expect(now.hits).toEqual([]);
    expect(scans.flatMap((s) => s.hits)).toEqual([]);
  });
});
