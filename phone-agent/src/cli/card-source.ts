/**
 * Where the shopper's card is read: a PC/SC reader (nfc-pcsc; `--reader` picks one by a part of
 * its name) or, for testers, `--card-file`: a simulated EMV card personalized in process from an
 * issuer's personalization file (cards/<id>.json of the backend's seed).
 *
 * A real card keeps its transaction counter (ATC) in its own memory; the simulated one keeps it in
 * `<card file>.state.json` between runs, so a second payment with the same file is not declined
 * as a replayed ATC.
 *
 * The simulated card lives in @bluetill/simulator (the test peers), which depends on this app,
 * not the reverse: the simulator's `bluetill-phone-sim` passes it in as a SimulatedCardMaker
 * (see runPhoneCli); the plain `bluetill-phone` reads real cards only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  decodePersonalizationData,
  maskPan,
  type CardPersonalization,
  type CardData,
  type Cryptogram,
  type Money,
} from '@bluetill/protocol';
import { InProcessCardReader, type InProcessCard } from '../adapters/card-reader.in-process';
import { NfcPcscCardReader } from '../adapters/card-reader.nfc-pcsc';
import { EmvPaymentCard } from '../core/card/emv-payment-card';
import type {
  CardVerification,
  CardVerificationResult,
  IssuerAuthenticationResult,
} from '../core/card/card-exchange';
import type { CardReader } from '../ports/card-reader';
import type { PaymentCard } from '../ports/payment-card';
import { CliError } from './cli-error';

export type CardChoice =
  | { readonly kind: 'reader'; readonly readerName?: string }
  | { readonly kind: 'file'; readonly path: string };

/** A card as the CLI uses it: the PaymentCard, the masked number once read, and its reader to close. */
export interface OpenCard {
  readonly card: PaymentCard;
  /** First 6 / last 4, once the card was read. */
  maskedPan(): string | undefined;
  /** The last error the card or its reader raised (the payment flow reports only its text). */
  failure(): unknown;
  close(): Promise<void>;
}

/** Reports the reader's steps (waiting, card found) to the shopper. */
class ProgressCardReader implements CardReader {
  constructor(
    private readonly inner: CardReader,
    private readonly progress: (step: string) => void,
  ) {}

  async waitForCard(options: { timeoutMs: number }): Promise<{ atr: Uint8Array }> {
    this.progress('Waiting for the card (hold it to the reader)');
    const found = await this.inner.waitForCard(options);
    this.progress('Card found, reading it; keep it on the reader');
    return found;
  }

  transmit(command: Uint8Array): Promise<Uint8Array> {
    return this.inner.transmit(command);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Keeps the masked card number (never the number itself) once the card was read. */
class MaskingPaymentCard implements PaymentCard {
  masked: string | undefined;
  failure: unknown;
  constructor(
    private readonly inner: PaymentCard,
    private readonly progress: (step: string) => void,
  ) {}

  /** The card's part that needs no UN, begun while the phone finds and connects to the till (read reports its errors). */
  prepare(): Promise<void> {
    return this.inner.prepare ? this.inner.prepare() : Promise.resolve();
  }

  async read(
    unpredictableNumber: Uint8Array,
    options?: { authorizationCryptogram?: boolean },
  ): Promise<CardData> {
    let data: CardData;
    try {
      data = await this.inner.read(unpredictableNumber, options);
    } catch (e) {
      this.failure = e;
      throw e;
    }
    this.masked = maskPan(data.pan);
    this.progress(`Card read: ${this.masked}`);
    return data;
  }

  async issuerAuthenticate(issuerAuthenticationData: Uint8Array): Promise<IssuerAuthenticationResult> {
    // A card that makes no account-verification ARQC gets no issuer answer to take.
    if (!this.inner.issuerAuthenticate) return 'not_waiting';
    return this.inner.issuerAuthenticate(issuerAuthenticationData);
  }

  async generateAc(input: { amount: Money; unpredictableNumber: Uint8Array }): Promise<Cryptogram> {
    try {
      return await this.inner.generateAc(input);
    } catch (e) {
      this.failure = e;
      throw e;
    }
  }

  async verifyCardholder(v: CardVerification): Promise<CardVerificationResult> {
    if (!this.inner.verifyCardholder) return { ok: false, reason: 'not_supported' };
    try {
      return await this.inner.verifyCardholder(v);
    } catch (e) {
      this.failure = e;
      throw e;
    }
  }
}

type SimulatedCard = InProcessCard & { readonly atc: number | undefined };

/** Makes a blank simulated card and personalizes it (supplied by the simulator's CLI entry). */
export interface SimulatedCardMaker {
  blank(personalizationKey: Uint8Array): SimulatedCard;
  personalize(
    card: SimulatedCard,
    personalization: CardPersonalization,
    personalizationKey: Uint8Array,
  ): Promise<unknown>;
}

/** The simulated card's counter from earlier runs, if any. */
function savedAtc(statePath: string): number | undefined {
  try {
    const { atc } = JSON.parse(readFileSync(statePath, 'utf8')) as { atc?: unknown };
    return typeof atc === 'number' && Number.isInteger(atc) && atc >= 0 && atc <= 0xffff ? atc : undefined;
  } catch {
    return undefined; // first use of this card file
  }
}

async function simulatedCard(
  path: string,
  warn: (line: string) => void,
  maker: SimulatedCardMaker,
): Promise<{ card: SimulatedCard; save(): void }> {
  let file: { personalization?: unknown; personalizationKey?: unknown };
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as typeof file;
  } catch (cause) {
    throw CliError.usage('card_file', `cannot read the card file ${path}`, { cause });
  }
  if (typeof file.personalization !== 'string' || typeof file.personalizationKey !== 'string') {
    throw CliError.usage(
      'card_file',
      `${path} is not a personalization file (from bluetill-backend card issue or the demo seed)`,
    );
  }
  const key = new Uint8Array(Buffer.from(file.personalizationKey, 'base64'));
  const statePath = `${path}.state.json`;
  const atc = savedAtc(statePath);
  const perso = {
    ...decodePersonalizationData(Buffer.from(file.personalization, 'base64')),
    ...(atc !== undefined ? { initialAtc: atc } : {}),
  };
  const card = maker.blank(key);
  await maker.personalize(card, perso, key);
  const save = () => {
    if (card.atc === undefined || card.atc === atc) return;
    try {
      writeFileSync(statePath, `${JSON.stringify({ atc: card.atc })}\n`);
    } catch {
      warn(
        `could not save the simulated card's counter to ${statePath}: its next payment may be declined (atc_replayed)`,
      );
    }
  };
  return { card, save };
}

export async function openCard(
  choice: CardChoice,
  o: {
    progress: (step: string) => void;
    waitTimeoutMs: number;
    currency?: string;
    country?: number;
    simulatedCards?: SimulatedCardMaker;
  },
): Promise<OpenCard> {
  if (choice.kind === 'file' && !o.simulatedCards)
    throw CliError.usage(
      'card_file',
      "--card-file is for testers: use bluetill-phone-sim (the simulator's build of this tool)",
    );
  const sim =
    choice.kind === 'file' ? await simulatedCard(choice.path, o.progress, o.simulatedCards!) : undefined;
  const reader: CardReader = sim
    ? new InProcessCardReader(sim.card)
    : new NfcPcscCardReader(
        choice.kind === 'reader' && choice.readerName ? { readerName: choice.readerName } : {},
      );
  const emv = new EmvPaymentCard(new ProgressCardReader(reader, o.progress), {
    country: o.country ?? 276,
    currency: o.currency ?? 'EUR',
    now: () => new Date(),
    waitTimeoutMs: o.waitTimeoutMs,
  });
  const card = new MaskingPaymentCard(emv, o.progress);
  return {
    card,
    maskedPan: () => card.masked,
    failure: () => card.failure,
    close: async () => {
      await reader.close();
      sim?.save();
    },
  };
}
