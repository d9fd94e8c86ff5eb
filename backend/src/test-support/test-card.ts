/**
 * The card side of a payment for backend tests, computed with the protocol's EMV functions from
 * an issuer's personalization file: the records the phone forwards, DDA over the UN, and an ARQC
 * over CDOL1 data. (Whole-system tests use the simulator's EmvCard through a reader instead.)
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  CARD_AIP,
  CARD_CDOL1,
  CURRENCY_NUMERIC,
  buildDolData,
  cardAcInput,
  cardRecords,
  computeCardAc,
  decodePersonalizationData,
  encodeIad,
  parseDol,
  signDynamicData,
  type CardCounters,
  type CardData,
  type CardPersonalization,
  type Cryptogram,
  type Cvr,
  type Money,
} from '@bluetill/protocol';

const bcd = (digits: string) => new Uint8Array(Buffer.from(digits, 'hex'));

export class TestCard {
  private atc: number;
  constructor(
    readonly p: CardPersonalization,
    firstAtc = 0,
  ) {
    this.atc = firstAtc;
  }

  static fromFile(path: string): TestCard {
    const f = JSON.parse(readFileSync(path, 'utf8')) as { personalization: string };
    return new TestCard(decodePersonalizationData(Buffer.from(f.personalization, 'base64')));
  }

  /**
   * CardData with the DDA over `un`; `counters`: the try counters a current card signs in it (none:
   * an older card). With the account-verification ARQC over amount 0 and `un` that online PIN needs.
   */
  cardData(un: Uint8Array, counters?: CardCounters): CardData {
    const records = Buffer.concat([...cardRecords(this.p).values()]);
    const key = createPrivateKey({ key: Buffer.from(this.p.iccPrivateKey), format: 'der', type: 'pkcs8' });
    return {
      pan: this.p.pan,
      expiry: this.p.expiry,
      cardholderName: this.p.cardholderName,
      panSequence: this.p.psn,
      records,
      signedDynamicData: signDynamicData({
        iccPrivateKey: key,
        iccDynamicNumber: new Uint8Array(randomBytes(8)),
        terminalData: un,
        ...(counters ? { counters } : {}),
      }),
      authorizationCryptogram: this.arqc({ minor: 0, currency: 'EUR' }, un, ++this.atc, {
        pinTriesLeft: counters?.pinTriesLeft ?? 3,
      }),
    };
  }

  /** GENERATE AC (ARQC) over amount, currency and UN; `atc` overrides the counter (to replay one); `cvr` what the card verified. */
  arqc(amount: Money, un: Uint8Array, atc = ++this.atc, cvr: Partial<Cvr> = {}): Cryptogram {
    const cdolData = buildDolData(parseDol(CARD_CDOL1), {
      '9F02': bcd(String(amount.minor).padStart(12, '0')),
      '5F2A': bcd(String(CURRENCY_NUMERIC[amount.currency] ?? 0).padStart(4, '0')),
      '9F37': un,
    });
    const atcBytes = Uint8Array.of(atc >> 8, atc & 0xff);
    const iad = encodeIad(this.p.acAlgorithm, {
      acType: 'arqc',
      offlinePinPerformed: false,
      offlinePinFailed: false,
      pinTryLimitExceeded: false,
      ddaPerformed: true,
      cdaPerformed: false,
      pinTriesLeft: 3,
      ...cvr,
    });
    const arqc = computeCardAc({
      iccMasterKey: this.p.acMasterKey,
      algorithm: this.p.acAlgorithm,
      atc: atcBytes,
      data: cardAcInput(cdolData, CARD_AIP, atcBytes, iad),
    });
    return { arqc, atc, cdolData, iad, cvmResults: Uint8Array.of(0x02, 0x00, 0x00), cid: 0x80 };
  }
}
