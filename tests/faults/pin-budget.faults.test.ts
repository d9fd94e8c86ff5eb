/**
 * One budget of three PIN guesses, card and server together, attacked through the real parts: the
 * simulated card, the phone flow, the till core and the backend (grpc-js, SQLite). A thief's
 * modified phone makes wrong offline PIN tries at the card (VERIFY P2 80) outside any payment, then
 * pays by online PIN: the card signs its PIN Try Counter (9F17) in its DDA over the till's UN, so
 * the authorization server counts those tries at Authorize. Also: the right PIN as the third guess
 * pays; a counter edited or replayed in the signed dynamic data fails card authentication.
 *
 * The other order: wrong online PINs at Authorize first (the server counts them), then offline
 * guesses at the card. Every online PIN comes with the card's account-verification ARQC, which
 * makes the card wait for its issuer's answer (ARPC ‖ CSU with the tries left in the one budget);
 * until that answer reaches it the card refuses offline PIN, and once it has it the card allows
 * no more offline guesses than the budget has left. A thief's phone that withholds the answer,
 * delivers it, or mixes the two, in any order, gets at most three guesses checked in total.
 *
 * The shopper listener (IssueCode: a temporary code asked for straight from the card company)
 * judges PINs too, and answers the card the same way: guesses there are part of the same budget.
 * Prints {"bench":"faults_pin_budget","value":<attempts>,"unit":"attempts","approved":<n>,…}.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, InMemoryRadio, type World } from '@bluetill/simulator';
import { GrpcShopperBackend, requestCode, type PaymentOutcome } from '@bluetill/phone-agent';
import { publicKeyFromRaw, type CardData, type Item } from '@bluetill/protocol';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 350 }];

let world: World;
beforeAll(async () => {
  world = await startWorld({ radio: new InMemoryRadio(), fleetCards: 7 });
}, 60_000);
afterAll(async () => {
  await world?.close();
  const approved = results.filter((r) => r.outcome === 'approved').length;
  const outcomes: Record<string, number> = {};
  for (const r of results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  process.stdout.write(
    `${JSON.stringify({ bench: 'faults_pin_budget', value: results.length, unit: 'attempts', approved, outcomes })}\n`,
  );
});

const results: { attempt: string; outcome: string }[] = [];
const codeOf = (o: PaymentOutcome): string =>
  o.kind === 'declined' ? o.reason : o.kind === 'failed' ? o.code : o.kind;
const approvedSales = () =>
  (
    world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM settlements WHERE approved = 1').get() as {
      n: number;
    }
  ).n;
const serverTries = (pan: string) =>
  (
    world.backend.store.db
      .prepare('SELECT pin_tries AS n FROM cards WHERE pan_masked = ?')
      .get(`${pan.slice(0, 6)}${'*'.repeat(pan.length - 10)}${pan.slice(-4)}`) as { n: number } | undefined
  )?.n;

/** A payment by the phone flow (online PIN unless told), recorded. */
async function pay(
  attempt: string,
  cardId: string,
  pin: string,
  o: Parameters<World['phonePays']>[2] = {},
): Promise<PaymentOutcome> {
  world.ringUp(TEA);
  const run = await world.phonePays(cardId, pin, o);
  results.push({ attempt, outcome: codeOf(run.outcome) });
  return run.outcome;
}

/** The thief's modified phone: wrong offline PINs straight at the card, in a card session of its own (no till). */
async function guessAtCard(cardId: string, pins: readonly string[]): Promise<string[]> {
  const card = await world.cardOf(cardId);
  await card.read(Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
  const answers: string[] = [];
  for (const pin of pins) {
    // A card that refuses to check a PIN at all (6985: waiting for its issuer) answers with an error.
    const r = await card.verifyCardholder!({ method: 'offline_pin', pin }).catch(
      (e: { code?: string; sw?: number }) => ({
        ok: false as const,
        reason: `refused_${(e.sw ?? 0).toString(16)}`,
      }),
    );
    const answer = r.ok ? 'ok' : 'lastTry' in r && r.lastTry ? 'incorrect_last' : r.reason;
    answers.push(answer);
    results.push({ attempt: 'offline PIN at the card', outcome: r.ok ? 'verified' : answer });
  }
  return answers;
}

/** One guess of a thief's plan: online (the phone gives the card the issuer's answer, or withholds it) or offline at the card. */
type Guess =
  | { readonly at: 'online'; readonly pin: string; readonly withhold?: boolean }
  | { readonly at: 'offline'; readonly pin: string };

/**
 * Runs a thief's guesses against one card and counts those that were checked: an online PIN the
 * server judged (approved, pin_incorrect, or pin_tries_exceeded while the budget was still open by
 * the last answer), an offline PIN the card judged (right, or wrong with its counter moved). A guess
 * refused unchecked (budget spent, card blocked, or the card waiting for its issuer) is not counted.
 */
async function thief(
  cardId: string,
  guesses: readonly Guess[],
): Promise<{ checked: number; approved: number; answers: string[] }> {
  let checked = 0;
  let approved = 0;
  let left = 3;
  const answers: string[] = [];
  for (const g of guesses) {
    if (g.at === 'online') {
      const o = await pay(
        `online PIN${g.withhold ? ', issuer answer withheld' : ''}`,
        cardId,
        g.pin,
        g.withhold ? { tamper: { issuerAuthentication: () => undefined } } : {},
      );
      if (o.kind === 'approved') {
        approved += 1;
        checked += 1;
      } else if (o.kind === 'declined' && o.reason === 'pin_incorrect') {
        checked += 1;
        left = o.pinTriesLeft ?? 0;
      } else if (o.kind === 'declined' && o.reason === 'pin_tries_exceeded') {
        if (left > 0) checked += 1;
        left = 0;
      }
      answers.push(`online:${codeOf(o)}`);
    } else {
      const [a] = await guessAtCard(cardId, [g.pin]);
      if (a === 'ok' || a === 'incorrect' || a === 'incorrect_last') checked += 1;
      if (a === 'incorrect') left = Math.max(0, left - 1);
      if (a === 'incorrect_last') left = 0;
      answers.push(`offline:${a}`);
    }
  }
  return { checked, approved, answers };
}

describe('one budget of three PIN guesses, card and server together', () => {
  it('two wrong offline PINs at the card, then online: one online guess is answered, the next is pin_tries_exceeded even with the right PIN', async () => {
    const before = approvedSales();
    expect(await guessAtCard('card-chen', ['0000', '1111'])).toEqual(['incorrect', 'incorrect']);
    // The third guess is checked: wrong, it spends the budget and locks the server's counter.
    const third = await pay('online PIN, 3rd guess, wrong', 'card-chen', '2222');
    expect(third).toMatchObject({ kind: 'declined', reason: 'pin_tries_exceeded' });
    expect(serverTries('6799990100000000035')).toBe(3);
    // The fourth is not looked at: the right PIN gets the same answer (no oracle).
    const fourth = await pay('online PIN, 4th guess, right', 'card-chen', '9876');
    expect(fourth).toMatchObject({ kind: 'declined', reason: 'pin_tries_exceeded' });
    // The card still answers its own last offline try, and it is right, but no payment follows.
    const offline = await pay('offline PIN right at the card after the lock', 'card-chen', '9876', {
      cvm: { method: 'offline_pin' },
    });
    expect(offline).toMatchObject({ kind: 'declined', reason: 'pin_tries_exceeded' });
    expect(approvedSales()).toBe(before);
  });

  it('two wrong offline PINs at the card, the right PIN online as the third guess pays', async () => {
    const before = approvedSales();
    expect(await guessAtCard('card-alice', ['0000', '1111'])).toEqual(['incorrect', 'incorrect']);
    const third = await pay('online PIN, 3rd guess, right', 'card-alice', '1234');
    expect(third, JSON.stringify(third)).toMatchObject({ kind: 'approved' });
    expect(approvedSales()).toBe(before + 1);
    expect(serverTries('6799990100000000019')).toBe(0);
  });

  it('one wrong offline PIN: two online guesses, the second wrong one locks', async () => {
    expect(await guessAtCard('card-bob', ['0000'])).toEqual(['incorrect']);
    expect(await pay('online PIN, 2nd guess, wrong', 'card-bob', '1111')).toMatchObject({
      kind: 'declined',
      reason: 'pin_incorrect',
      pinTriesLeft: 1,
    });
    expect(await pay('online PIN, 3rd guess, wrong', 'card-bob', '2222')).toMatchObject({
      kind: 'declined',
      reason: 'pin_tries_exceeded',
    });
    expect(await pay('online PIN, 4th guess, right', 'card-bob', '2580')).toMatchObject({
      kind: 'declined',
      reason: 'pin_tries_exceeded',
    });
  });

  it('a counter edited in the signed dynamic data, or a signature from before the wrong tries, fails card authentication', async () => {
    const before = approvedSales();
    // Dana's card: two wrong offline tries; its DDA now signs "1 left".
    const earlier: CardData = await (await world.cardOf('card-dana')).read(Uint8Array.of(1, 2, 3, 4));
    expect(await guessAtCard('card-dana', ['0000', '2222'])).toEqual(['incorrect', 'incorrect']);
    // The phone edits the signature block to make it say something else: it no longer verifies.
    const edited = await pay('signed dynamic data edited', 'card-dana', '1111', {
      tamper: {
        cardAuth: (c) =>
          void (c.card = {
            ...c.card!,
            signedDynamicData: Uint8Array.from(c.card!.signedDynamicData, (b, i) =>
              i === 20 ? b ^ 0x02 : b,
            ),
          }),
      },
    });
    expect(edited).toMatchObject({ kind: 'declined', reason: 'card_authentication_failed' });
    // The signature the card made before the wrong tries ("3 left") is over another UN.
    const replayed = await pay('signature from before the wrong tries replayed', 'card-dana', '1111', {
      tamper: {
        cardAuth: (c) => void (c.card = { ...c.card!, signedDynamicData: earlier.signedDynamicData }),
      },
    });
    expect(replayed).toMatchObject({ kind: 'declined', reason: 'card_authentication_failed' });
    expect(approvedSales()).toBe(before);
  });

  describe('wrong online PINs first, then offline guesses at the card: the card adopts the budget through issuer authentication', () => {
    // Fleet cards: card-fleet-00n has PIN 100n.
    const wrong = ['0000', '1111', '2222', '3333'];
    const plans: {
      name: string;
      cardId: string;
      right: string;
      guesses: (right: string) => Guess[];
      answers: string[];
    }[] = [
      {
        name: 'two wrong online PINs, the answers withheld: the card checks no offline PIN at all; the right PIN online is the third guess',
        cardId: 'card-fleet-001',
        right: '1001',
        guesses: (right) => [
          { at: 'online', pin: wrong[0]!, withhold: true },
          { at: 'online', pin: wrong[1]!, withhold: true },
          { at: 'offline', pin: wrong[2]! },
          { at: 'offline', pin: wrong[3]! },
          { at: 'offline', pin: right },
          { at: 'online', pin: right, withhold: true },
        ],
        answers: [
          'online:pin_incorrect',
          'online:pin_incorrect',
          'offline:refused_6985',
          'offline:refused_6985',
          'offline:refused_6985',
          'online:approved',
        ],
      },
      {
        name: 'two wrong online PINs, the answers delivered: one offline guess is left, then the right PIN is refused offline and online',
        cardId: 'card-fleet-002',
        right: '1002',
        guesses: (right) => [
          { at: 'online', pin: wrong[0]! },
          { at: 'online', pin: wrong[1]! },
          { at: 'offline', pin: wrong[2]! },
          { at: 'offline', pin: right },
          { at: 'online', pin: right },
        ],
        answers: [
          'online:pin_incorrect',
          'online:pin_incorrect',
          'offline:incorrect_last',
          'offline:blocked',
          'online:pin_tries_exceeded',
        ],
      },
      {
        name: 'three wrong online PINs (the budget spent), answers delivered: the right PIN at the card is blocked',
        cardId: 'card-fleet-003',
        right: '1003',
        guesses: (right) => [
          { at: 'online', pin: wrong[0]! },
          { at: 'online', pin: wrong[1]! },
          { at: 'online', pin: wrong[2]! },
          { at: 'offline', pin: right },
          { at: 'online', pin: right },
        ],
        answers: [
          'online:pin_incorrect',
          'online:pin_incorrect',
          'online:pin_tries_exceeded',
          'offline:blocked',
          'online:pin_tries_exceeded',
        ],
      },
      {
        name: 'mixed: online (delivered), offline, online (withheld), then the right PIN offline and online',
        cardId: 'card-fleet-004',
        right: '1004',
        guesses: (right) => [
          { at: 'online', pin: wrong[0]! },
          { at: 'offline', pin: wrong[1]! },
          { at: 'online', pin: wrong[2]!, withhold: true },
          { at: 'offline', pin: right },
          { at: 'online', pin: right },
        ],
        answers: [
          'online:pin_incorrect',
          'offline:incorrect',
          'online:pin_tries_exceeded',
          'offline:refused_6985',
          'online:pin_tries_exceeded',
        ],
      },
      {
        name: 'one wrong online PIN (delivered), two wrong offline: the budget is spent, the right PIN online is refused',
        cardId: 'card-fleet-005',
        right: '1005',
        guesses: (right) => [
          { at: 'online', pin: wrong[0]! },
          { at: 'offline', pin: wrong[1]! },
          { at: 'offline', pin: wrong[2]! },
          { at: 'offline', pin: right },
          { at: 'online', pin: right },
        ],
        answers: [
          'online:pin_incorrect',
          'offline:incorrect',
          'offline:incorrect_last',
          'offline:blocked',
          'online:pin_tries_exceeded',
        ],
      },
    ];
    for (const plan of plans) {
      it(plan.name, async () => {
        const before = approvedSales();
        const r = await thief(plan.cardId, plan.guesses(plan.right));
        expect(r.checked, r.answers.join(' ')).toBeLessThanOrEqual(3);
        expect(r.answers).toEqual(plan.answers);
        expect(approvedSales()).toBe(before + r.approved);
      });
    }

    it("a legitimate shopper: a payment by online PIN, then the next one by offline PIN pays (the card took the issuer's answer)", async () => {
      expect(await pay('online PIN, right', 'card-fleet-006', '1006')).toMatchObject({ kind: 'approved' });
      expect((await world.cardOf('card-fleet-006')).issuerAuthenticate).toBeDefined();
      expect(
        await pay('offline PIN after an online PIN payment', 'card-fleet-006', '1006', {
          cvm: { method: 'offline_pin' },
        }),
      ).toMatchObject({ kind: 'approved' });
      // And a mistyped online PIN costs one try, not two: the next offline payment still pays.
      expect(await pay('online PIN, mistyped', 'card-fleet-006', '0000')).toMatchObject({
        kind: 'declined',
        reason: 'pin_incorrect',
        pinTriesLeft: 2,
      });
      expect(
        await pay('offline PIN after a mistyped online PIN', 'card-fleet-006', '1006', {
          cvm: { method: 'offline_pin' },
        }),
      ).toMatchObject({ kind: 'approved' });
    });
  });
  describe("the shopper listener's PIN guesses are part of the budget", () => {
    /** A phone asks the card company for a temporary code with this PIN, through the real phone flow and card. */
    async function askForCode(cardId: string, pin: string, withhold = false): Promise<string> {
      const shopper = new GrpcShopperBackend({
        address: world.backend.shopperAddress!,
        backendCa: Buffer.from(world.seed.trust.backendTlsCa!),
      });
      const card = await world.cardOf(cardId);
      try {
        const got = await requestCode({
          backend: shopper,
          // The thief's phone may keep the issuer's answer from the card.
          card: withhold
            ? { read: (un, o) => card.read(un, o), generateAc: (i) => card.generateAc(i) }
            : card,
          prompt: { progress: () => undefined, pin: async () => pin },
          trust: {
            cardCompanyRoot: publicKeyFromRaw(Buffer.from(world.seed.trust.cardCompanyRoot, 'base64')),
          },
          limit: { minor: 10_00, currency: 'EUR' },
        });
        const outcome = got.kind === 'issued' ? 'code_issued' : got.reason;
        results.push({ attempt: `code request${withhold ? ', issuer answer withheld' : ''}`, outcome });
        return outcome;
      } finally {
        shopper.close();
      }
    }

    it('two wrong PINs asking for a code, then offline guesses at the card: one is checked, then the card is blocked, and the right PIN is refused there and online', async () => {
      const answers = [
        await askForCode('card-fleet-007', '0000'),
        await askForCode('card-fleet-007', '1111'),
        ...(await guessAtCard('card-fleet-007', ['2222', '1007'])),
      ];
      expect(answers).toEqual(['pin_incorrect', 'pin_incorrect', 'incorrect_last', 'blocked']);
      // The budget is spent everywhere: the right PIN asking for a code is refused too.
      expect(await askForCode('card-fleet-007', '1007')).toBe('pin_tries_exceeded');
    });

    it('a wrong PIN asking for a code with the answer withheld: the card checks no offline PIN until an answer reaches it', async () => {
      const card = 'card-fleet-006';
      expect(await askForCode(card, '0000', true)).toBe('pin_incorrect');
      expect(await guessAtCard(card, ['1006'])).toEqual(['refused_6985']);
      // The next answer that reaches the card (the right PIN) lets it check offline PINs again.
      expect(await askForCode(card, '1006')).toBe('code_issued');
      expect(await guessAtCard(card, ['1006'])).toEqual(['ok']);
    });
  });
});
