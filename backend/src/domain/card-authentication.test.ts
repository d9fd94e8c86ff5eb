/** verifyCryptogram with the key store's cache of cards' ICC master keys: the same answers as deriving each time, and the cache used. */
import { describe, expect, it } from 'vitest';
import {
  CARD_AIP,
  CARD_CDOL1_ENTRIES,
  CardKeyCache,
  Cryptogram,
  EMPTY_CVR,
  buildDolData,
  cardAcInput,
  computeCardAc,
  deriveCardAcMasterKey,
  encodeIad,
  type AcAlgorithm,
} from '@bluetill/protocol';
import { SoftwareKeyStore } from '../adapters/key-store.file';
import { createKeyMaterial } from '../admin/key-material';
import { verifyCryptogram } from './card-authentication';

const keys = new SoftwareKeyStore(createKeyMaterial());
const PAN = '6799990100000000019';
const UN = Uint8Array.of(1, 2, 3, 4);

/** An ARQC as a card with this PAN/PSN under the key store's issuer master key makes it. */
function arqc(algorithm: AcAlgorithm, atc: number, minor: number, acType: 'arqc' | 'tc' | 'aac' = 'arqc') {
  const cdolData = buildDolData(CARD_CDOL1_ENTRIES, {
    '9F02': Buffer.from(String(minor).padStart(12, '0'), 'hex'),
    '5F2A': Uint8Array.of(0x09, 0x78),
    '9F37': UN,
  });
  const iad = encodeIad(algorithm, { ...EMPTY_CVR, acType, ddaPerformed: true });
  const atcBytes = Uint8Array.of(atc >> 8, atc & 0xff);
  const mk = deriveCardAcMasterKey(keys.acMasterKeys[algorithm], PAN, 1, algorithm);
  return Cryptogram.fromPartial({
    arqc: computeCardAc({
      iccMasterKey: mk,
      algorithm,
      atc: atcBytes,
      data: cardAcInput(cdolData, CARD_AIP, atcBytes, iad),
    }),
    atc,
    cdolData,
    iad,
    cid: 0x80,
  });
}

describe('verifyCryptogram with the card key cache', () => {
  it('accepts genuine ARQCs and refuses forged ones exactly as without it, and takes the card key from the cache after the first', () => {
    expect(keys.cardKeys).toBeInstanceOf(CardKeyCache);
    const cache = new CardKeyCache();
    for (const algorithm of ['aes', 'tdes'] as const)
      for (let atc = 1; atc <= 3; atc++) {
        const good = arqc(algorithm, atc, 250);
        const forged = { ...good, arqc: Uint8Array.from(good.arqc, (b, i) => (i === 0 ? b ^ 1 : b)) };
        for (const cryptogram of [good, forged]) {
          const input = {
            cryptogram,
            pan: PAN,
            panSequence: 1,
            amount: { minor: 250, currency: 'EUR' },
            unpredictableNumber: UN,
            acMasterKeys: keys.acMasterKeys,
          };
          const expected = cryptogram === good ? null : 'cryptogram_invalid';
          expect(verifyCryptogram(input)).toBe(expected);
          expect(verifyCryptogram({ ...input, cardKeys: cache })).toBe(expected);
        }
      }
    expect(cache.stats).toEqual({ hits: 10, misses: 2 }); // one derivation per algorithm, then the cache
  });
});

describe('verifyCryptogram: the type is the one the card MACed', () => {
  it('declines an AAC or TC whose unsigned CID says ARQC (card_declined), and one whose CVR is edited to ARQC (cryptogram_invalid)', () => {
    const input = (cryptogram: Cryptogram) => ({
      cryptogram,
      pan: PAN,
      panSequence: 1,
      amount: { minor: 250, currency: 'EUR' },
      unpredictableNumber: UN,
      acMasterKeys: keys.acMasterKeys,
    });
    for (const algorithm of ['aes', 'tdes'] as const) {
      expect(verifyCryptogram(input(arqc(algorithm, 7, 250, 'aac')))).toBe('card_declined');
      expect(verifyCryptogram(input(arqc(algorithm, 8, 250, 'tc')))).toBe('card_declined');
      const aac = arqc(algorithm, 9, 250, 'aac');
      const relabelled = { ...aac, iad: Uint8Array.from(aac.iad, (b, i) => (i === 3 ? b | 0x80 : b)) }; // CVR byte 1: AC type bits to ARQC
      expect(verifyCryptogram(input(relabelled))).toBe('cryptogram_invalid');
      expect(verifyCryptogram(input({ ...aac, cid: 0x00 }))).toBe('cryptogram_invalid');
    }
  });
});
