import {
  buildDolData,
  cardPdol,
  decodeTlv,
  encodeTlv,
  iso4217,
  type CardData,
  type Cryptogram as CryptogramMessage,
  type Money,
  type OfflineTc,
} from '@bluetill/protocol';
import { transactionValues } from './transaction-values';
import { CardReaderError, type CardReader } from '../../ports/card-reader';
import type { PaymentCard } from '../../ports/payment-card';
import { CardReadError } from './card-read-error';
import type { CardPrefix, CardRead, TransactionData } from './card-read-types';
import {
  externalAuthenticate,
  generateCryptogram,
  readCard,
  readCardPrefix,
  restartTransaction,
  verifyCardholder,
  type CardVerification,
  type CardVerificationResult,
  type IssuerAuthenticationResult,
} from './card-exchange';

/** ISO 4217 alphabetic → numeric (protocol's table), for the card's 5F2A. */
export function currencyNumeric(alpha: string): number {
  const n = iso4217(alpha)?.numeric;
  if (n === undefined) throw new CardReadError('bad_input', 'currency not supported by the card reader');
  return n;
}

/**
 * The PaymentCard port over a CardReader: `read(un)` waits for the card, runs the EMV reading
 * flow (PDOL amount 0: the basket is not known yet) and returns the CardData the till forwards,
 * for online PIN with the card's account-verification ARQC (amount 0, the same UN);
 * `issuerAuthenticate` hands the card its issuer's answer to that ARQC (EXTERNAL AUTHENTICATE);
 * `generateAc` asks the same card session for an ARQC over the confirmed total. The account
 * verification ends the card's first transaction, so `read` starts the next one at once (SELECT
 * AID, GPO): whatever the card checks from then on (VERIFY) is in the CVR of the payment's ARQC.
 * Throws CardReadError.
 *
 * `prepare()` reads ahead what needs no UN (readCardPrefix, with a zero placeholder UN in its
 * GPO); the next `read(un)` then sends only GPO and INTERNAL AUTHENTICATE with the till's UN. A
 * prefix is used once; a failed one, or a card that refuses the GPO after it, makes `read` read the
 * whole card again.
 *
 * After the account-verification ARQC, the card's next transaction (SELECT AID, GPO) is started by
 * `read` and left running while the phone takes the PIN and CardAuth makes its round trip: nothing
 * the phone sends needs it. Every later card command waits for it first, and its failure is theirs.
 */
export class EmvPaymentCard implements PaymentCard {
  private last: CardRead | undefined;
  private prefix: Promise<CardPrefix> | undefined;
  /** The restart after the account verification, while it runs or once it failed. */
  private restarting: Promise<void> | undefined;

  constructor(
    private readonly reader: CardReader,
    private readonly options: {
      country: number;
      currency: string;
      now: () => Date;
      waitTimeoutMs?: number;
      preferredAid?: Uint8Array;
    },
  ) {}

  private tx(amountMinor: bigint, currency: string, unpredictableNumber: Uint8Array): TransactionData {
    return {
      amount: amountMinor,
      currency: currencyNumeric(currency),
      country: this.options.country,
      unpredictableNumber,
      date: this.options.now(),
    };
  }

  private async waitForCard(): Promise<void> {
    try {
      await this.reader.waitForCard({ timeoutMs: this.options.waitTimeoutMs ?? 30_000 });
    } catch (cause) {
      if (cause instanceof CardReaderError && cause.code === 'no_card')
        throw new CardReadError('no_card', 'no card was presented', { cause });
      throw new CardReadError('transmit_failed', 'the card reader is not available', { cause });
    }
  }

  /** The card is free for the next command: the restart after the account verification has ended well. */
  private async restarted(): Promise<void> {
    if (this.restarting) await this.restarting;
  }

  prepare(): Promise<void> {
    this.prefix ??= (async () => {
      await this.waitForCard();
      return readCardPrefix(
        this.reader,
        this.tx(0n, this.options.currency, new Uint8Array(4)),
        this.options.preferredAid ? { preferredAid: this.options.preferredAid } : {},
      );
    })();
    return this.prefix.then(() => undefined);
  }

  async read(
    unpredictableNumber: Uint8Array,
    options: { authorizationCryptogram?: boolean } = {},
  ): Promise<CardData> {
    // A new read starts the card afresh: an earlier restart only has to be over, not to have worked.
    await this.restarted().catch(() => undefined);
    this.restarting = undefined;
    const pending = this.prefix;
    this.prefix = undefined;
    const prefix = pending ? await pending.catch(() => undefined) : undefined;
    const tx = this.tx(0n, this.options.currency, unpredictableNumber);
    const aid = this.options.preferredAid ? { preferredAid: this.options.preferredAid } : {};
    let read: CardRead | undefined;
    if (prefix) {
      // A card that refuses the GPO has lost the application selected for it (reset, or touched in
      // between): read it whole, as without a prefix. Other failures are the card's answer.
      read = await readCard(this.reader, tx, { prefix }).catch((e: unknown) => {
        if (e instanceof CardReadError && e.code === 'card_status') return undefined;
        throw e;
      });
    }
    if (!read) {
      await this.waitForCard();
      read = await readCard(this.reader, tx, aid);
    }
    if (!read.signedDynamicData)
      throw new CardReadError('missing_data', 'the card did not sign the unpredictable number (no DDA)');
    this.last = read;
    let authorizationCryptogram: CryptogramMessage | undefined;
    if (options.authorizationCryptogram) {
      authorizationCryptogram = await this.cryptogram(
        read,
        { minor: 0, currency: this.options.currency },
        unpredictableNumber,
      );
      const restarting: Promise<void> = restartTransaction(this.reader, read).then(() => {
        if (this.restarting === restarting) this.restarting = undefined;
      });
      restarting.catch(() => undefined); // its failure is reported to the next command, which waits for it
      this.restarting = restarting;
    }
    return {
      pan: read.pan,
      expiry: read.expiry.slice(0, 4),
      cardholderName: read.cardholderName,
      panSequence: read.psn ?? 0,
      records: Buffer.concat(read.records.map((r) => r.data)),
      signedDynamicData: read.signedDynamicData,
      ...(authorizationCryptogram ? { authorizationCryptogram } : {}),
    };
  }

  /**
   * The issuer's answer to the account-verification ARQC, to the card: in this card session, or —
   * the card gone in between — a new one (the card keeps waiting across sessions).
   */
  async issuerAuthenticate(issuerAuthenticationData: Uint8Array): Promise<IssuerAuthenticationResult> {
    const read = this.last;
    if (!read) throw new CardReadError('bad_input', 'EXTERNAL AUTHENTICATE before the card was read');
    try {
      await this.restarted();
      return await externalAuthenticate(this.reader, issuerAuthenticationData);
    } catch (e) {
      if (!(e instanceof CardReadError) || (e.code !== 'card_removed' && e.code !== 'transmit_failed'))
        throw e;
    }
    try {
      await this.reader.waitForCard({ timeoutMs: this.options.waitTimeoutMs ?? 30_000 });
    } catch (cause) {
      throw new CardReadError('no_card', 'the card was not presented again', { cause });
    }
    await restartTransaction(this.reader, read);
    this.restarting = undefined;
    return externalAuthenticate(this.reader, issuerAuthenticationData);
  }

  async verifyCardholder(v: CardVerification): Promise<CardVerificationResult> {
    if (!this.last) throw new CardReadError('bad_input', 'VERIFY before the card was read');
    await this.restarted();
    return verifyCardholder(this.reader, v);
  }

  /**
   * Offline: the card's transaction started again (SELECT, GET PROCESSING OPTIONS) with the sale's
   * amount and the till's UN, so that the GPO data the card's CDA signature covers names the same
   * amount as its TC. The cardholder is verified after this (VERIFY), then generateOfflineTc.
   */
  async startOfflineSale(input: { amount: Money; unpredictableNumber: Uint8Array }): Promise<void> {
    const read = this.last;
    if (!read) throw new CardReadError('bad_input', 'GET PROCESSING OPTIONS before the card was read');
    const tx = this.tx(BigInt(input.amount.minor), input.amount.currency, input.unpredictableNumber);
    const pdolData = buildDolData(cardPdol(), transactionValues(tx));
    await this.restarted().catch(() => undefined); // started again here in any case
    this.restarting = undefined;
    await restartTransaction(this.reader, { aid: read.aid, pdolData });
    this.offlinePdolData = pdolData;
  }

  /**
   * Offline: GENERATE AC asking for a TC with CDA over the sale; the card decides within its own
   * offline limits (a TC, or an ARQC or AAC the till will not approve). The card's own bytes.
   */
  async generateOfflineTc(input: { amount: Money; unpredictableNumber: Uint8Array }): Promise<OfflineTc> {
    const read = this.last;
    const pdolData = this.offlinePdolData;
    if (!read || !pdolData)
      throw new CardReadError('bad_input', 'GENERATE AC before the offline sale started');
    const tx = this.tx(BigInt(input.amount.minor), input.amount.currency, input.unpredictableNumber);
    const c = await generateCryptogram(this.reader, read, tx, { type: 'tc', cda: true });
    if (!c.cdaSignature) throw new CardReadError('missing_data', 'GENERATE AC: no CDA signature');
    const objects = [...decodeTlv(c.responseObjects), { tag: '9F4B', value: c.cdaSignature }];
    return {
      records: new Uint8Array(Buffer.concat(read.records.map((r) => r.data))),
      pdolData,
      cdol1Data: c.cdolData,
      response: encodeTlv([{ tag: '77', value: new Uint8Array(), children: objects }]),
    };
  }

  private offlinePdolData: Uint8Array | undefined;

  async generateAc(input: { amount: Money; unpredictableNumber: Uint8Array }): Promise<CryptogramMessage> {
    const read = this.last;
    if (!read) throw new CardReadError('bad_input', 'GENERATE AC before the card was read');
    if (!Number.isSafeInteger(input.amount.minor) || input.amount.minor < 0)
      throw new CardReadError('bad_input', 'amount must be a non-negative integer');
    await this.restarted();
    return this.cryptogram(read, input.amount, input.unpredictableNumber);
  }

  private async cryptogram(
    read: CardRead,
    amount: Money,
    unpredictableNumber: Uint8Array,
  ): Promise<CryptogramMessage> {
    const c = await generateCryptogram(
      this.reader,
      read,
      this.tx(BigInt(amount.minor), amount.currency, unpredictableNumber),
      { type: 'arqc' },
    );
    if (!c.arqc) throw new CardReadError('missing_data', 'GENERATE AC: no cryptogram in the answer');
    return {
      arqc: c.arqc,
      atc: ((c.atc[0] ?? 0) << 8) | (c.atc[1] ?? 0),
      cdolData: c.cdolData,
      iad: c.iad,
      cvmResults: c.cvmResults ?? new Uint8Array(0),
      cid: c.cid,
    };
  }
}
