/**
 * A stand-in payment card for the foundation's flow: it holds the card data and produces an
 * ARQC-shaped MAC (HMAC-SHA256 over amount ‖ currency ‖ UN ‖ ATC, first 8 bytes) with its ATC
 * moving forward. The EMV card in card/ (APDUs, DDA, ARQC under derived keys) replaces it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { CURRENCY_NUMERIC, type CardData, type Cryptogram, type Money } from '@bluetill/protocol';
import type { PaymentCard } from '@bluetill/phone-agent';

export interface DemoCardData {
  readonly pan: string;
  readonly expiry: string;
  readonly cardholderName: string;
  readonly panSequence?: number;
}

export class DemoCard implements PaymentCard {
  private atc = 0;
  private readonly key = randomBytes(16);

  constructor(private readonly data: DemoCardData) {}

  async read(_un: Uint8Array): Promise<CardData> {
    return { pan: this.data.pan, expiry: this.data.expiry, cardholderName: this.data.cardholderName, panSequence: this.data.panSequence ?? 1, records: new Uint8Array(), signedDynamicData: new Uint8Array() };
  }

  async generateAc(input: { amount: Money; unpredictableNumber: Uint8Array }): Promise<Cryptogram> {
    this.atc++;
    const cdol = Buffer.alloc(12);
    cdol.writeUIntBE(input.amount.minor, 0, 6);
    cdol.writeUInt16BE(CURRENCY_NUMERIC[input.amount.currency] ?? 0, 6);
    Buffer.from(input.unpredictableNumber).copy(cdol, 8);
    const mac = createHmac('sha256', this.key).update(cdol).update(Buffer.from([this.atc >> 8, this.atc & 0xff])).digest();
    return { arqc: new Uint8Array(mac.subarray(0, 8)), atc: this.atc, cdolData: new Uint8Array(cdol), iad: new Uint8Array(), cvmResults: Uint8Array.of(0x01, 0x00, 0x02), cid: 0x80 };
  }
}
