/**
 * The phone host process (see phone-host.ts): real noble stacks on the ptys the parent hands
 * over, the phones' cards and the phone agent's payment flow. Exits when the parent goes away.
 */
import { NobleCentral, type PaymentCard } from '@bluetill/phone-agent';
import { publicKeyFromRaw } from '@bluetill/protocol';
import { phoneCardFromFile } from '../card/phone-card';
import type { CardProfileName } from '../card/card-timing';
import { runPhone } from './phone-run';
import type { PhoneHostReply, PhoneHostRequest } from './phone-host';

// Every noble stack adds its own SIGINT handler; many phones in one process have many.
process.setMaxListeners(1024);

let trust: {
  acquirerCa: ReturnType<typeof publicKeyFromRaw>;
  cardCompanyRoot: ReturnType<typeof publicKeyFromRaw>;
} | null = null;
let counterName = '';
let cardProfile: CardProfileName = 'instant';
/** One card object per card: a card is in one phone at a time and its ATC only moves forward. */
const cards = new Map<string, Promise<PaymentCard>>();
/** Phones made ready by 'phones', by device: the next payment on that device uses it. */
const poweredOn = new Map<string, NobleCentral>();

const reply = (m: PhoneHostReply): void => void process.send?.(m);

function cardOf(cardId: string, cardFile: string): Promise<PaymentCard> {
  let card = cards.get(cardId);
  if (!card)
    cards.set(cardId, (card = phoneCardFromFile(cardFile, { cardProfile }).then((c) => c.paymentCard)));
  return card;
}

async function handle(req: PhoneHostRequest): Promise<void> {
  switch (req.op) {
    case 'init':
      trust = {
        acquirerCa: publicKeyFromRaw(Buffer.from(req.trust.acquirerCa, 'base64')),
        cardCompanyRoot: publicKeyFromRaw(Buffer.from(req.trust.cardCompanyRoot, 'base64')),
      };
      counterName = req.counterName;
      cardProfile = req.cardProfile;
      return reply({ id: req.id, ok: true });
    case 'phones':
      await Promise.all(
        req.phones.map(async (p) => {
          await cardOf(p.cardId, p.cardFile);
          const central = new NobleCentral({ hci: { transport: 'uart', path: p.ttyPath } });
          await central.powerOn();
          poweredOn.set(p.ttyPath, central);
        }),
      );
      return reply({ id: req.id, ok: true });
    case 'pay': {
      if (!trust) throw new Error('phone host not initialised');
      const card = cardOf(req.cardId, req.cardFile);
      const central =
        poweredOn.get(req.ttyPath) ?? new NobleCentral({ hci: { transport: 'uart', path: req.ttyPath } });
      poweredOn.delete(req.ttyPath);
      const run = await runPhone({
        central,
        card: await card,
        pin: req.pin,
        trust,
        counterName,
        ...(req.expectTotalMinor !== undefined ? { expectTotalMinor: req.expectTotalMinor } : {}),
        ...(req.shopper ? { shopper: req.shopper } : {}),
      });
      return reply({
        id: req.id,
        ok: true,
        run: {
          ...run,
          prompt: {
            merchantName: run.prompt.merchantName,
            shownBasket: run.prompt.shownBasket,
            steps: [...run.prompt.steps],
          },
        },
      });
    }
  }
}

process.on('message', (req: PhoneHostRequest) => {
  handle(req).catch((e: unknown) => reply({ id: req.id, ok: false, message: (e as Error).message }));
});
process.on('disconnect', () => process.exit(0));
