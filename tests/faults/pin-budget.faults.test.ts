/**
 * One budget of three PIN guesses, card and server together, attacked through the real parts: the
 * simulated card, the phone flow, the till core and the backend (grpc-js, SQLite). A thief's
 * modified phone makes wrong offline PIN tries at the card (VERIFY P2 80) outside any payment, then
 * pays by online PIN: the card signs its PIN Try Counter (9F17) in its DDA over the till's UN, so
 * the authorization server counts those tries at Authorize. Also: the right PIN as the third guess
 * pays; a counter edited or replayed in the signed dynamic data fails card authentication.
 * Prints {"bench":"faults_pin_budget","value":<attempts>,"unit":"attempts","approved":<n>,…}.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, InMemoryRadio, type World } from '@bluetill/simulator';
import type { PaymentOutcome } from '@bluetill/phone-agent';
import type { CardData, Item } from '@bluetill/protocol';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 350 }];

let world: World;
beforeAll(async () => {
  world = await startWorld({ radio: new InMemoryRadio() });
}, 60_000);
afterAll(async () => {
  await world?.close();
  const approved = results.filter((r) => r.outcome === 'approved').length;
  const outcomes: Record<string, number> = {};
  for (const r of results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  process.stdout.write(`${JSON.stringify({ bench: 'faults_pin_budget', value: results.length, unit: 'attempts', approved, outcomes })}\n`);
});

const results: { attempt: string; outcome: string }[] = [];
const codeOf = (o: PaymentOutcome): string => (o.kind === 'declined' ? o.reason : o.kind === 'failed' ? o.code : o.kind);
const approvedSales = () => (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM settlements WHERE approved = 1').get() as { n: number }).n;
const serverTries = (pan: string) => (world.backend.store.db.prepare('SELECT pin_tries AS n FROM cards WHERE pan_masked = ?').get(`${pan.slice(0, 6)}${'*'.repeat(pan.length - 10)}${pan.slice(-4)}`) as { n: number } | undefined)?.n;

/** A payment by the phone flow (online PIN unless told), recorded. */
async function pay(attempt: string, cardId: string, pin: string, o: Parameters<World['phonePays']>[2] = {}): Promise<PaymentOutcome> {
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
    const r = await card.verifyCardholder!({ method: 'offline_pin', pin });
    answers.push(r.ok ? 'ok' : r.reason);
    results.push({ attempt: 'offline PIN at the card', outcome: r.ok ? 'verified' : r.reason });
  }
  return answers;
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
    const offline = await pay('offline PIN right at the card after the lock', 'card-chen', '9876', { cvm: { method: 'offline_pin' } });
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
    expect(await pay('online PIN, 2nd guess, wrong', 'card-bob', '1111')).toMatchObject({ kind: 'declined', reason: 'pin_incorrect', pinTriesLeft: 1 });
    expect(await pay('online PIN, 3rd guess, wrong', 'card-bob', '2222')).toMatchObject({ kind: 'declined', reason: 'pin_tries_exceeded' });
    expect(await pay('online PIN, 4th guess, right', 'card-bob', '2580')).toMatchObject({ kind: 'declined', reason: 'pin_tries_exceeded' });
  });

  it('a counter edited in the signed dynamic data, or a signature from before the wrong tries, fails card authentication', async () => {
    const before = approvedSales();
    // Dana's card: two wrong offline tries; its DDA now signs "1 left".
    const earlier: CardData = await (await world.cardOf('card-dana')).read(Uint8Array.of(1, 2, 3, 4));
    expect(await guessAtCard('card-dana', ['0000', '2222'])).toEqual(['incorrect', 'incorrect']);
    // The phone edits the signature block to make it say something else: it no longer verifies.
    const edited = await pay('signed dynamic data edited', 'card-dana', '1111', {
      tamper: { cardAuth: (c) => void (c.card = { ...c.card!, signedDynamicData: Uint8Array.from(c.card!.signedDynamicData, (b, i) => (i === 20 ? b ^ 0x02 : b)) }) },
    });
    expect(edited).toMatchObject({ kind: 'declined', reason: 'card_authentication_failed' });
    // The signature the card made before the wrong tries ("3 left") is over another UN.
    const replayed = await pay('signature from before the wrong tries replayed', 'card-dana', '1111', {
      tamper: { cardAuth: (c) => void (c.card = { ...c.card!, signedDynamicData: earlier.signedDynamicData }) },
    });
    expect(replayed).toMatchObject({ kind: 'declined', reason: 'card_authentication_failed' });
    expect(approvedSales()).toBe(before);
  });
});
