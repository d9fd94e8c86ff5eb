/**
 * A modified phone attacks cardholder verification (claims 10, 16, 17) against the real
 * till core and the real backend (grpc-js, SQLite), with simulated cards. The phone is the
 * attacker's: it edits the unsigned CardAuth (declared method, PIN block), lies to itself about
 * what the card answered to VERIFY, falls back to another method after a failed one, forges the
 * unsigned card CVM results (9F34), or edits the CVR inside the IAD. None is ever approved; no
 * money moves; the backend keeps serving (an honest payment after the attacks is approved).
 * Prints {"bench":"faults_cvm_tampering","value":<attempts>,"unit":"attempts","approved":0,…}.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, InMemoryRadio, SimulatedFingerprintSensor, type World } from '@bluetill/simulator';
import type { CardholderVerification, PaymentCard, PaymentOutcome, PayOptions } from '@bluetill/phone-agent';
import { CvmMethod, demoFingerprint, type Item } from '@bluetill/protocol';
import { SEED } from './support';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const sensor = (name: string) => new SimulatedFingerprintSensor(demoFingerprint(name), { noise: 5 });

let world: World;
beforeAll(async () => {
  world = await startWorld({ radio: new InMemoryRadio() });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** The attacker's card wrapper: tells the phone flow every VERIFY passed, whatever the card said. */
function lyingCard(inner: PaymentCard, afterRead?: (card: PaymentCard) => Promise<unknown>): PaymentCard {
  return {
    read: async (un, options) => {
      const data = await inner.read(un, options);
      await afterRead?.(inner);
      return data;
    },
    generateAc: (input) => inner.generateAc(input),
    ...(inner.issuerAuthenticate
      ? { issuerAuthenticate: (d: Uint8Array) => inner.issuerAuthenticate!(d) }
      : {}),
    verifyCardholder: async (v) => {
      await inner.verifyCardholder!(v);
      return { ok: true };
    },
  };
}

interface Attack {
  readonly name: string;
  readonly cardId: string;
  readonly pin?: string;
  readonly cvm?: CardholderVerification;
  readonly tamper?: PayOptions['tamper'];
  /** Wraps the world's card for this card id (the card keeps its counters across attacks). */
  readonly card?: (card: PaymentCard) => PaymentCard;
  /** What the system answers: a decline code, or a failure code (the till refused the message). */
  readonly expect: string;
}

const declare = (method: CvmMethod, keepPinBlock = false): PayOptions['tamper'] => ({
  cardAuth: (c) => {
    c.cvmMethod = method;
    if (!keepPinBlock) c.sealedPinBlock = new Uint8Array();
  },
});

const ATTACKS: readonly Attack[] = [
  {
    name: 'drops the PIN block (downgrade from online PIN to no CVM)',
    cardId: 'card-alice',
    pin: '1234',
    tamper: { cardAuth: (c) => void (c.sealedPinBlock = new Uint8Array()) },
    expect: 'pin_missing',
  },
  {
    name: 'drops the PIN block and declares an offline PIN the card never checked',
    cardId: 'card-alice',
    pin: '1234',
    tamper: declare(CvmMethod.CVM_METHOD_OFFLINE_PIN),
    expect: 'cvm_failed',
  },
  {
    name: 'claims biometric success without the card having matched anything',
    cardId: 'card-alice',
    pin: '1234',
    tamper: declare(CvmMethod.CVM_METHOD_BIOMETRIC),
    expect: 'cvm_failed',
  },
  {
    name: 'claims the knowledge secret without the card having checked it',
    cardId: 'card-alice',
    pin: '1234',
    tamper: declare(CvmMethod.CVM_METHOD_KNOWLEDGE),
    expect: 'cvm_failed',
  },
  {
    name: 'claims biometric and forges the unsigned card CVM results (9F34 "biometric passed")',
    cardId: 'card-alice',
    pin: '1234',
    tamper: {
      ...declare(CvmMethod.CVM_METHOD_BIOMETRIC),
      payment: (p) => void (p.cryptogram = { ...p.cryptogram!, cvmResults: Uint8Array.of(0x20, 0x00, 0x02) }),
    },
    expect: 'cvm_failed',
  },
  {
    name: 'claims biometric and flips the CVR bits in the IAD to "biometric performed"',
    cardId: 'card-alice',
    pin: '1234',
    tamper: {
      ...declare(CvmMethod.CVM_METHOD_BIOMETRIC),
      payment: (p) =>
        void (p.cryptogram = {
          ...p.cryptogram!,
          iad: Uint8Array.from(p.cryptogram!.iad, (b, i) => (i === 6 ? b | 0x80 : b)),
        }),
    },
    expect: 'cryptogram_invalid',
  },
  {
    name: "a wrong finger, the phone ignores the card's refusal and declares biometric",
    cardId: 'card-bob',
    cvm: { method: 'biometric', sensor: sensor('mallory') },
    card: (c) => lyingCard(c),
    expect: 'cvm_failed',
  },
  {
    name: "a wrong offline PIN, the phone ignores the card's refusal",
    cardId: 'card-chen',
    pin: '0000',
    cvm: { method: 'offline_pin' },
    card: (c) => lyingCard(c),
    expect: 'pin_incorrect',
  },
  {
    name: "a wrong knowledge secret, the phone ignores the card's refusal",
    cardId: 'card-alice',
    cvm: { method: 'knowledge', secret: async () => 'grey heron' },
    card: (c) => lyingCard(c),
    expect: 'cvm_failed',
  },
  {
    name: 'falls back to the online PIN (right PIN) after the card refused the knowledge secret',
    cardId: 'card-bob',
    pin: '2580',
    card: (c) =>
      lyingCard(c, (inner) => inner.verifyCardholder!({ method: 'knowledge', secret: 'wrong secret' })),
    expect: 'cvm_failed',
  },
  {
    name: 'falls back to the offline PIN (right PIN) after the card refused the fingerprint',
    cardId: 'card-bob',
    pin: '2580',
    cvm: { method: 'offline_pin' },
    card: (c) =>
      lyingCard(c, (inner) =>
        inner.verifyCardholder!({ method: 'biometric', template: demoFingerprint('mallory') }),
      ),
    expect: 'cvm_failed',
  },
  {
    name: 'the card matched the fingerprint, the phone declares the knowledge secret instead',
    cardId: 'card-alice',
    cvm: { method: 'biometric', sensor: sensor('alice') },
    tamper: declare(CvmMethod.CVM_METHOD_KNOWLEDGE),
    expect: 'cvm_failed',
  },
  {
    name: 'an unknown method number',
    cardId: 'card-alice',
    pin: '1234',
    tamper: declare(77 as CvmMethod),
    expect: 'till_error',
  },
  {
    name: 'a PIN block with a method the card verifies (have both judged)',
    cardId: 'card-alice',
    pin: '1234',
    tamper: declare(CvmMethod.CVM_METHOD_OFFLINE_PIN, true),
    expect: 'till_error',
  },
];

const codeOf = (o: PaymentOutcome): string =>
  o.kind === 'declined' ? o.reason : o.kind === 'failed' ? o.code : o.kind;

describe('CVM tampering by a modified phone', () => {
  const results: { name: string; outcome: string }[] = [];
  afterAll(() => {
    const byOutcome: Record<string, number> = {};
    for (const r of results) byOutcome[r.outcome] = (byOutcome[r.outcome] ?? 0) + 1;
    const approved = results.filter((r) => r.outcome === 'approved').length;
    process.stdout.write(
      `${JSON.stringify({ bench: 'faults_cvm_tampering', value: results.length, unit: 'attempts', approved, seed: SEED, outcomes: byOutcome })}\n`,
    );
  });

  it.each(ATTACKS.map((a) => [a.name, a] as const))(
    '%s: never approved, nothing charged',
    async (_name, a) => {
      world.ringUp(TEA);
      const card = a.card ? a.card(await world.cardOf(a.cardId)) : undefined;
      const run = await world.phonePays(a.cardId, a.pin ?? '', {
        ...(a.cvm ? { cvm: a.cvm } : {}),
        ...(a.tamper ? { tamper: a.tamper } : {}),
        ...(card ? { card } : {}),
      });
      results.push({ name: a.name, outcome: codeOf(run.outcome) });
      expect(run.outcome.kind).not.toBe('approved');
      expect(codeOf(run.outcome), JSON.stringify(run.outcome)).toBe(a.expect);
      expect(world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get()).toEqual({ n: 0 });
      expect(
        world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM settlements WHERE approved = 1').get(),
      ).toEqual({ n: 0 });
    },
  );

  it('after every attack the system keeps serving: an honest offline-PIN payment is approved, one posting pair, ledger at zero', async () => {
    world.ringUp(TEA);
    const run = await world.phonePays('card-dana', '1111', { cvm: { method: 'offline_pin' } });
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({ kind: 'approved' });
    expect(world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get()).toEqual({ n: 2 });
    expect(world.backend.store.ledgerSum()).toBe(0);
  });
});
