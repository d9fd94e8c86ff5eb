/**
 * The card's next transaction after the account-verification ARQC (SELECT AID, GPO) runs beside
 * CardAuth's round trip: EmvPaymentCard.read returns once the ARQC is there, and every later card
 * command waits for the restart. A real simulated card behind the timing model and the in-process
 * reader, whose waits are counted, so that two commands on the card at once would show.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { EmvPaymentCard, InProcessCardReader } from '@bluetill/phone-agent';
import { createDemoIssuer, type DemoIssuer } from '@bluetill/protocol';
import { issueSimulatedCard } from './issue-card';
import { TimedCard } from './card-timing';

let issuer: DemoIssuer;
beforeAll(() => {
  issuer = createDemoIssuer();
});

const UN = Uint8Array.from([0xa1, 0xb2, 0xc3, 0xd4]);

async function phoneCard() {
  const { card } = await issueSimulatedCard(issuer, {
    pan: '9990010000000017',
    psn: 1,
    expiry: '3012',
    cardholderName: 'TEST/CARDHOLDER',
    pin: '1234',
  });
  let inFlight = 0;
  let mostInFlight = 0;
  // Each command's time on a timer of 1 ms a modelled ms / 20: short, but every answer later than its command.
  const sleep = async (ms: number) => {
    mostInFlight = Math.max(mostInFlight, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, ms / 20));
    inFlight--;
  };
  const reader = new InProcessCardReader(new TimedCard(card, 'typical'), { sleep });
  const payment = new EmvPaymentCard(reader, { country: 276, currency: 'EUR', now: () => new Date() });
  const commands = () =>
    reader
      .transcript()
      .split('\n')
      .filter((l) => l.startsWith('=> '))
      .map((l) => l.slice(5, 7).toLowerCase());
  return { reader, payment, commands, mostInFlight: () => mostInFlight };
}

describe('the restart after the account verification, beside the round trip', () => {
  it('read returns with the ARQC while the restart runs; GENERATE AC waits for it; one command at a time', async () => {
    const { payment, commands, mostInFlight } = await phoneCard();
    const data = await payment.read(UN, { authorizationCryptogram: true });
    expect(data.authorizationCryptogram?.arqc).toHaveLength(8);
    // GPO, records, INTERNAL AUTHENTICATE, the ARQC; the restart's SELECT is on the card, its GPO not yet.
    expect(commands().slice(-3)).toEqual(['88', 'ae', 'a4']);
    const ac = await payment.generateAc({
      amount: { minor: 1250, currency: 'EUR' },
      unpredictableNumber: UN,
    });
    expect(ac.arqc).toHaveLength(8);
    expect(commands().slice(-4)).toEqual(['ae', 'a4', 'a8', 'ae']);
    expect(mostInFlight()).toBe(1);
  });

  it('EXTERNAL AUTHENTICATE waits for the restart too', async () => {
    const { payment, commands } = await phoneCard();
    await payment.read(UN, { authorizationCryptogram: true });
    // Any issuer answer will do here: the card checks it after the restart, never during it.
    await payment.issuerAuthenticate(new Uint8Array(10)).catch(() => undefined);
    expect(commands().slice(-4)).toEqual(['ae', 'a4', 'a8', '82']);
  });

  it('a card taken away during the restart: the next command says so', async () => {
    const { reader, payment } = await phoneCard();
    await payment.read(UN, { authorizationCryptogram: true });
    reader.removeCard(); // while the restart's SELECT is on the card
    await expect(
      payment.generateAc({ amount: { minor: 1250, currency: 'EUR' }, unpredictableNumber: UN }),
    ).rejects.toMatchObject({ code: 'card_removed' });
  });
});
