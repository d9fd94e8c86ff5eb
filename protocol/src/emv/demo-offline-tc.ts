import { createPrivateKey, randomBytes } from 'node:crypto';
import { concatBytes } from '../bytes';
import { CURRENCY_NUMERIC } from '../money';
import type { Money } from '../gen/bluetill/v1/common';
import { CARD_AIP, CARD_CDOL1_ENTRIES, cardPdol, cardRecords } from './card-layout';
import { cardAcInput, computeCardAc, EMPTY_CVR, encodeIad, type Cvr } from './card-cryptogram';
import { buildDolData } from './dol';
import { cdaTransactionDataHash, signCda } from './oda';
import type { OfflineTcEvidence } from './offline-tc';
import type { CardPersonalization } from './personalization';
import { encodeTlv, type Tlv } from './tlv';

const n = (value: number, digits: number): Uint8Array =>
  new Uint8Array(Buffer.from(String(value).padStart(digits, '0'), 'hex'));

/**
 * For tests and demos only: the offline approval a bluetill card with this personalization gives
 * (first GENERATE AC answered with a TC and CDA, as the simulator's card does), computed with the
 * card's own keys, without a card. `cvr` overrides what the card reports (default: offline PIN
 * verified); `cid` the CID byte it signs.
 */
export function demoOfflineTc(
  p: CardPersonalization,
  tx: {
    amount: Money;
    unpredictableNumber: Uint8Array;
    atc: number;
    date?: string;
    cvr?: Partial<Cvr>;
    cid?: number;
  },
): OfflineTcEvidence {
  const currency = n(CURRENCY_NUMERIC[tx.amount.currency] ?? 0, 4);
  const amount = n(tx.amount.minor, 12);
  const pdolData = buildDolData(cardPdol(), {
    '9F02': amount,
    '5F2A': currency,
    '9F37': tx.unpredictableNumber,
    '9F1A': n(276, 4),
  });
  const cdol1Data = buildDolData([...CARD_CDOL1_ENTRIES], {
    '9F02': amount,
    '9F03': n(0, 12),
    '9F1A': n(276, 4),
    '95': new Uint8Array(5),
    '5F2A': currency,
    '9A': new Uint8Array(Buffer.from(tx.date ?? '261207', 'hex')),
    '9C': Uint8Array.of(0),
    '9F37': tx.unpredictableNumber,
    '9F34': Uint8Array.of(0x01, 0x00, 0x02),
  });
  const atc = Uint8Array.of((tx.atc >> 8) & 0xff, tx.atc & 0xff);
  const cvr: Cvr = {
    ...EMPTY_CVR,
    acType: 'tc',
    offlinePinPerformed: true,
    cdaPerformed: true,
    pinTriesLeft: p.pinTryLimit,
    ...tx.cvr,
  };
  const iad = encodeIad(p.acAlgorithm, cvr);
  const ac = computeCardAc({
    iccMasterKey: p.acMasterKey,
    algorithm: p.acAlgorithm,
    atc,
    data: cardAcInput(cdol1Data, CARD_AIP, atc, iad),
  });
  const cid = tx.cid ?? (cvr.acType === 'tc' ? 0x40 : cvr.acType === 'arqc' ? 0x80 : 0x00);
  const objects: Tlv[] = [
    { tag: '9F27', value: Uint8Array.of(cid) },
    { tag: '9F36', value: atc },
    { tag: '9F10', value: iad },
    { tag: '9F34', value: Uint8Array.of(0x01, 0x00, 0x02) },
  ];
  const signature = signCda({
    iccPrivateKey: createPrivateKey({ key: Buffer.from(p.iccPrivateKey), format: 'der', type: 'pkcs8' }),
    iccDynamicNumber: new Uint8Array(randomBytes(8)),
    cid,
    ac,
    transactionDataHash: cdaTransactionDataHash(pdolData, cdol1Data, encodeTlv(objects)),
    unpredictableNumber: tx.unpredictableNumber,
    counters: { pinTriesLeft: p.pinTryLimit },
  });
  return {
    records: concatBytes(...cardRecords(p).values()),
    pdolData,
    cdol1Data,
    response: encodeTlv([
      { tag: '77', value: new Uint8Array(), children: [...objects, { tag: '9F4B', value: signature }] },
    ]),
  };
}
