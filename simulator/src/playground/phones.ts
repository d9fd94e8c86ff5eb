/**
 * `npm run phones -- --count N [--ring-up]`: N simulated phones, each with a demo card, pay at the
 * running playground's till (`make till`) over its virtual radio. The phones run here, in another
 * process than the radio: each gets its own controller on the radio (through the control file's
 * radio address) and a real noble stack on that controller's pty. Each pays the next basket
 * waiting at the till — the cashier's, or with `--ring-up` one rung up per phone through the
 * till's API with its token. `--card ID` picks the cards (a blocked or expired one, README's demo
 * cards), `--pin` types another PIN. Prints each phone's outcome; exit 0 when every phone was approved.
 *
 *   npx tsx simulator/src/playground/phones.ts --count 3 [--card ID ...] [--pin PIN] [--ring-up] [--dir .data/playground]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_CARDS, fleetCards } from '@bluetill/backend';
import { decodePersonalizationData, encodePersonalizationData, formatReceiptText } from '@bluetill/protocol';
import { PhoneHost, type PhoneDevice } from '../phone/phone-host';
import {
  playgroundDir,
  readControl,
  PLAYGROUND_FLEET_CARDS,
  type PlaygroundControl,
} from './playground-files';
import { TillApiClient } from './till-api-client';
import { cardProfileFromEnv } from '../card/card-timing';

type PhoneCardChoice = { readonly id: string; readonly pin: string; readonly holder: string };
const choice = (c: { id: string; pin: string; cardholderName: string }): PhoneCardChoice => ({
  id: c.id,
  pin: c.pin,
  holder: c.cardholderName,
});
/** The cards the phones carry by default, in order: the demo's three shoppers, then the playground's fleet cards. */
const PHONE_CARDS: readonly PhoneCardChoice[] = [
  ...DEMO_CARDS.filter((c) => ['card-alice', 'card-bob', 'card-chen'].includes(c.id)),
  ...fleetCards(PLAYGROUND_FLEET_CARDS),
].map(choice);
/** Any card the playground issued, for --card (README: the demo cards). */
const ALL_CARDS: readonly PhoneCardChoice[] = [...DEMO_CARDS, ...fleetCards(PLAYGROUND_FLEET_CARDS)].map(
  choice,
);

/** What a phone rings up with --ring-up (the till's seeded catalog). */
const RING_UP = [[{ sku: 'tea-green', quantity: 2 }], [{ sku: 'tea-black', quantity: 1 }]];

/** GENERATE ACs a card may make in one payment (a resume after a lost link adds one): the next run's cards start above. */
const ATC_STEP = 8;

/**
 * The card a phone holds, as its personalization file with the initial ATC past every earlier run's
 * (a card's ATC only moves forward, and the backend refuses a replayed one); the counters are kept in DIR/phones/atc.json.
 */
function phoneCardFile(dir: string, control: PlaygroundControl, cardId: string): string {
  const phonesDir = join(dir, 'phones');
  mkdirSync(phonesDir, { recursive: true, mode: 0o700 });
  const atcFile = join(phonesDir, 'atc.json');
  const atcs = existsSync(atcFile)
    ? (JSON.parse(readFileSync(atcFile, 'utf8')) as Record<string, number>)
    : {};
  const file = JSON.parse(readFileSync(join(control.cardsDir, `${cardId}.json`), 'utf8')) as {
    personalization: string;
    personalizationKey: string;
  };
  const perso = decodePersonalizationData(Buffer.from(file.personalization, 'base64'));
  const initialAtc = Math.max(perso.initialAtc ?? 0, atcs[cardId] ?? 0);
  atcs[cardId] = initialAtc + ATC_STEP;
  writeFileSync(atcFile, JSON.stringify(atcs, null, 2) + '\n');
  const out = join(phonesDir, `${cardId}.json`);
  writeFileSync(
    out,
    JSON.stringify({
      ...file,
      personalization: Buffer.from(encodePersonalizationData({ ...perso, initialAtc })).toString('base64'),
    }),
    { mode: 0o600 },
  );
  return out;
}

async function radioDevice(control: PlaygroundControl): Promise<PhoneDevice> {
  const res = await fetch(`${control.radio}/phone-devices`, { method: 'POST' });
  const body = (await res.json()) as { name: string; ttyPath: string; error?: string };
  if (!res.ok) throw new Error(`the radio gave no phone device: ${body.error}`);
  return {
    ttyPath: body.ttyPath,
    release: async () =>
      void (await fetch(`${control.radio}/phone-devices/${body.name}`, { method: 'DELETE' }).catch(
        () => undefined,
      )),
  };
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => '    ' + l)
    .join('\n');

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string' },
      card: { type: 'string', multiple: true },
      pin: { type: 'string' },
      'ring-up': { type: 'boolean', default: false },
      dir: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const picked = (values.card ?? []).map((id) => ALL_CARDS.find((c) => c.id === id));
  const count = Number(values.count ?? (picked.length || 1));
  if (
    values.help ||
    !Number.isInteger(count) ||
    count < 1 ||
    count > PHONE_CARDS.length ||
    picked.includes(undefined) ||
    (picked.length > 0 && picked.length !== count) ||
    (values.pin !== undefined && !/^\d{4,12}$/.test(values.pin))
  ) {
    console.error(
      `usage: phones [--count 1..${PHONE_CARDS.length}] [--card ID ...] [--pin PIN (typed on every phone instead of its card's)] [--ring-up] [--dir .data/playground]`,
    );
    return values.help ? 0 : 2;
  }
  const phones = (picked.length > 0 ? (picked as PhoneCardChoice[]) : PHONE_CARDS.slice(0, count)).map(
    (c) => ({ ...c, pin: values.pin ?? c.pin }),
  );
  const dir = values.dir ? resolve(process.env.INIT_CWD ?? process.cwd(), values.dir) : playgroundDir();
  const control = readControl(dir);
  if (values['ring-up']) {
    const api = await TillApiClient.connect(control.till, readFileSync(control.tokenFile, 'utf8').trim());
    try {
      for (let i = 0; i < count; i++)
        console.log(
          `till: basket ${await api.ringUp(RING_UP[i % RING_UP.length]!)} rung up through the till's API`,
        );
    } finally {
      api.close();
    }
  } else
    console.log(
      `each phone pays the next basket waiting at the till (charge one on ${control.till}, or add --ring-up)`,
    );

  const trust = JSON.parse(readFileSync(control.trustFile, 'utf8')) as {
    acquirerCa: string;
    cardCompanyRoot: string;
  };
  const host = await PhoneHost.start({
    devices: { phoneDevice: () => radioDevice(control) },
    trust,
    counterName: control.counterName,
    cardProfile: cardProfileFromEnv(),
  });
  let approved = 0;
  try {
    console.log(`${count} phone(s) on the radio, paying at "${control.counterName}"...`);
    await Promise.all(
      phones.map(async (card, i) => {
        const device = await host.device();
        try {
          const run = await host.pay({
            cardId: card.id,
            cardFile: phoneCardFile(dir, control, card.id),
            pin: card.pin,
            ttyPath: device.ttyPath,
          });
          const o = run.outcome;
          console.log(`PHONE ${i + 1} (${card.holder}, ${card.id}) — ${o.kind} in ${run.ms.toFixed(0)} ms`);
          if (o.kind === 'approved') {
            approved++;
            console.log(indent(formatReceiptText(o.receipt)));
          } else console.log(indent(JSON.stringify(o)));
        } catch (e) {
          console.log(`PHONE ${i + 1} (${card.holder}, ${card.id}) — failed: ${(e as Error).message}`);
        } finally {
          await device.release();
        }
      }),
    );
  } finally {
    await host.close();
  }
  console.log(`${approved} of ${count} phone(s) approved; the till's receipts: ${control.till} (History)`);
  return approved === count ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`phones: ${(error as Error).message}`);
    process.exit(1);
  },
);
