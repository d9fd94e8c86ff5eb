import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../bytes';
import {
  cardRecords,
  cardStaticData,
  certificateExpiry,
  expiryDate,
  odaRecord,
  parseAfl,
  track2Equivalent,
  CARD_AFL,
  CARD_AIP,
} from './card-layout';
import { cardAcInput, computeCardAc, decodeIad, EMPTY_CVR, encodeIad, type Cvr } from './card-cryptogram';
import { createDemoIssuer, prepareDemoCard } from './demo-issuer';
import { OdaError, PersonalizationError } from './errors';
import { recoverIccPublicKey, recoverIssuerPublicKey, staticDataToAuthenticate } from './oda';
import {
  buildPersonalizationCommands,
  decodePersonalizationData,
  encodePersonalizationData,
  personalizationMac,
} from './personalization';
import { encodePlaintextPinBlock, parsePlaintextPinBlock, PlaintextPinError } from './plaintext-pin';
import { decodeTlv, findTag } from './tlv';
import { createIccCertificate, createIssuerCertificate, verifyDda } from './oda';
import { rsaPublicKeyOf } from './rsa';

const CARD = {
  pan: '9990010000000017',
  psn: 1,
  expiry: '3012',
  cardholderName: 'TEST/CARDHOLDER',
  pin: '1234',
};

describe('plaintext offline PIN block (VERIFY P2 80)', () => {
  // EMV Book 3 section 6.5.12 / ISO 9564-1 format 2: C=2, N=PIN length, PIN digits, F filler.
  it.each([
    ['1234', '241234FFFFFFFFFF'],
    ['123456', '26123456FFFFFFFF'],
    ['123456789012', '2C123456789012FF'],
  ])('%s → %s and back', (pin, hex) => {
    expect(toHex(encodePlaintextPinBlock(pin))).toBe(hex);
    expect(parsePlaintextPinBlock(fromHex(hex))).toBe(pin);
  });
  it.each([
    '141234FFFFFFFFFF',
    '231234FFFFFFFFFF',
    '2D12345678901234',
    '24123AFFFFFFFFFF',
    '241234FFFFFFFF0F',
    '241234FFFFFFFF',
  ])('rejects %s', (hex) => {
    expect(parsePlaintextPinBlock(fromHex(hex))).toBeUndefined();
  });
  it('refuses PINs that are not 4-12 digits, without echoing them', () => {
    expect(() => encodePlaintextPinBlock('123')).toThrow(PlaintextPinError);
    try {
      encodePlaintextPinBlock('12a45');
    } catch (e) {
      expect((e as Error).message).not.toContain('12a45');
    }
  });
});

describe('card layout', () => {
  it('expiry, certificate expiry, track 2, AFL', () => {
    expect(toHex(expiryDate('3002'))).toBe('300228');
    expect(toHex(expiryDate('2802'))).toBe('280229');
    expect(toHex(certificateExpiry('3012'))).toBe('1230');
    expect(toHex(track2Equivalent('9990010000000017', '3012'))).toBe('9990010000000017D30122010000' + '0F');
    expect(parseAfl(CARD_AFL)).toEqual([
      { sfi: 1, first: 1, last: 2, odaCount: 1 },
      { sfi: 2, first: 1, last: 4, odaCount: 0 },
    ]);
    expect(parseAfl(fromHex('080102'))).toBeUndefined();
    expect(parseAfl(fromHex('08020101'))).toBeUndefined();
    expect(parseAfl(fromHex('09010101'))).toBeUndefined();
  });
  it('the ODA record holds PAN, expiry, PSN, CDOL1, CVM list; static data = its value ‖ AIP', () => {
    const nodes = decodeTlv(odaRecord(CARD));
    expect(toHex(findTag(nodes, '5A') ?? new Uint8Array())).toBe(CARD.pan);
    expect(toHex(findTag(nodes, '5F34') ?? new Uint8Array())).toBe('01');
    expect(toHex(cardStaticData(CARD))).toBe(toHex(nodes[0]?.value ?? new Uint8Array()) + '3900');
    // cardStaticData builds the template's value directly: the same bytes as decoding the record (with a merchant id too).
    for (const d of [CARD, { ...CARD, merchantId: 'M-0001' }])
      expect(toHex(cardStaticData(d))).toBe(
        toHex(staticDataToAuthenticate([{ sfi: 1, record: 1, data: odaRecord(d) }], CARD_AIP)),
      );
  });
});

describe('merchant card (claims 2, 7, 8)', () => {
  it('carries the merchant id in 9F16 inside the ODA record: it round-trips through personalization and the ICC certificate covers it', () => {
    const issuer = createDemoIssuer({ identifier: '999001' });
    const { personalization } = prepareDemoCard(issuer, { ...CARD, merchantId: 'M-0001' });
    const decoded = decodePersonalizationData(encodePersonalizationData(personalization));
    expect(decoded.merchantId).toBe('M-0001');
    expect(
      Buffer.from(findTag(decodeTlv(cardRecords(decoded).get('1:1')!), '9F16')!).toString('latin1'),
    ).toBe('M-0001');
    const issuerKey = recoverIssuerPublicKey({
      caPublicKey: issuer.ca.publicKey,
      ...issuer.issuer.certificate,
      pan: CARD.pan,
    });
    const cert = { issuerPublicKey: issuerKey.publicKey, ...personalization.iccCertificate, pan: CARD.pan };
    expect(() =>
      recoverIccPublicKey({ ...cert, staticData: cardStaticData({ ...CARD, merchantId: 'M-0001' }) }),
    ).not.toThrow();
    // Another merchant id (or none) is not what the issuer signed.
    expect(() =>
      recoverIccPublicKey({ ...cert, staticData: cardStaticData({ ...CARD, merchantId: 'M-0002' }) }),
    ).toThrow(OdaError);
    expect(() => recoverIccPublicKey({ ...cert, staticData: cardStaticData(CARD) })).toThrow(OdaError);
    // A payment card has no 9F16; a bad id is refused at personalization.
    expect(
      decodePersonalizationData(encodePersonalizationData(prepareDemoCard(issuer, CARD).personalization))
        .merchantId,
    ).toBeUndefined();
    expect(() => encodePersonalizationData({ ...personalization, merchantId: 'M 0001' })).toThrow(
      PersonalizationError,
    );
  });
});

describe('IAD / CVR', () => {
  const cvr: Cvr = {
    ...EMPTY_CVR,
    acType: 'arqc',
    offlinePinPerformed: true,
    ddaPerformed: true,
    pinTriesLeft: 3,
  };
  it('round trips and is byte-exact', () => {
    const iad = encodeIad('aes', cvr);
    expect(toHex(iad)).toBe('06010280880300');
    expect(decodeIad(iad)).toEqual({ keyIndex: 1, algorithm: 'aes', cvr });
    expect(decodeIad(fromHex('0601038088030000'))).toBeUndefined();
    // byte 4: biometric (80 performed, 40 failed, 20 locked), knowledge (08, 04, 02)
    const both: Cvr = {
      ...cvr,
      offlinePinPerformed: false,
      biometricPerformed: true,
      biometricFailed: true,
      knowledgePerformed: true,
      knowledgeTryLimitExceeded: true,
    };
    expect(toHex(encodeIad('aes', both))).toBe('060102800803CA');
    expect(decodeIad(encodeIad('aes', both))?.cvr).toEqual(both);
  });
  it('card AC changes with every input byte', () => {
    const mk = fromHex('00112233445566778899AABBCCDDEEFF');
    const base = {
      iccMasterKey: mk,
      algorithm: 'aes' as const,
      atc: fromHex('0001'),
      data: cardAcInput(fromHex('000000001250'), fromHex('3900'), fromHex('0001'), encodeIad('aes', cvr)),
    };
    const ac = toHex(computeCardAc(base));
    expect(toHex(computeCardAc({ ...base, atc: fromHex('0002') }))).not.toBe(ac);
    expect(toHex(computeCardAc({ ...base, algorithm: 'tdes' }))).not.toBe(ac);
  });
});

describe('personalization', () => {
  const issuer = createDemoIssuer();
  const { personalization, personalizationKey } = prepareDemoCard(issuer, CARD);

  it('demo card: issuer and ICC certificates verify over the layout static data', () => {
    const issuerKey = recoverIssuerPublicKey({
      caPublicKey: issuer.ca.publicKey,
      ...personalization.issuerCertificate,
      pan: CARD.pan,
      now: new Date('2035-12-01'),
    });
    expect(issuerKey.issuerIdentifier).toBe('999001');
    const icc = recoverIccPublicKey({
      issuerPublicKey: issuerKey.publicKey,
      ...personalization.iccCertificate,
      pan: CARD.pan,
      staticData: cardStaticData(CARD),
      now: new Date('2030-12-31'),
    });
    expect(icc.publicKey.modulus.length).toBe(96);
    expect(() =>
      recoverIccPublicKey({
        issuerPublicKey: issuerKey.publicKey,
        ...personalization.iccCertificate,
        pan: CARD.pan,
        staticData: cardStaticData(CARD),
        now: new Date('2031-01-01'),
      }),
    ).toThrow(OdaError);
    expect(cardRecords(personalization).size).toBe(6);
  });

  it('data round trips through encode/decode', () => {
    const back = decodePersonalizationData(encodePersonalizationData(personalization));
    expect(back.pan).toBe(CARD.pan);
    expect(back.pin).toBe(CARD.pin);
    expect(back.acAlgorithm).toBe('aes');
    expect(toHex(back.acMasterKey)).toBe(toHex(personalization.acMasterKey));
    expect(toHex(back.iccCertificate.remainder)).toBe(toHex(personalization.iccCertificate.remainder));
  });

  it('commands: STORE DATA chain, sequence numbers, last flag, chained 8-byte MACs', () => {
    const cmds = buildPersonalizationCommands(personalization, personalizationKey);
    let prev: Uint8Array = new Uint8Array(8);
    cmds.forEach((c, i) => {
      const last = i === cmds.length - 1;
      expect(toHex(c.subarray(0, 4))).toBe(
        `80E2${last ? '80' : '00'}${i.toString(16).padStart(2, '0').toUpperCase()}`,
      );
      const lc = c[4] as number;
      const data = c.subarray(5, 5 + lc);
      expect(c.length).toBe(5 + lc);
      const mac = data.subarray(data.length - 8);
      expect(toHex(mac)).toBe(
        toHex(
          personalizationMac(personalizationKey, prev, c.subarray(0, 4), data.subarray(0, data.length - 8)),
        ),
      );
      prev = mac;
    });
  });

  it('bad data is refused with PersonalizationError, never leaking the PIN', () => {
    for (const bad of [
      { pin: '12' },
      { pan: '12AB' },
      { expiry: '3013' },
      { pinTryLimit: 0 },
      { acMasterKey: new Uint8Array(8) },
      { cardholderName: 'é' },
    ]) {
      let err: unknown;
      try {
        encodePersonalizationData({ ...personalization, ...bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PersonalizationError);
      expect((err as Error).message).not.toContain(CARD.pin);
    }
    expect(() => decodePersonalizationData(fromHex('5A08'))).toThrow(PersonalizationError);
    expect(() => decodePersonalizationData(fromHex('5A0899900100000000175F340101'))).toThrow(
      PersonalizationError,
    );
  });
});

describe('ODA on garbage', () => {
  const key = generateKeyPairSync('rsa', { modulusLength: 512, publicExponent: 3 });
  const pub = rsaPublicKeyOf(key.publicKey);
  it('random signatures and certificates give only OdaError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 60, maxLength: 70 }),
        fc.uint8Array({ maxLength: 40 }),
        (sig, rem) => {
          for (const f of [
            () =>
              recoverIssuerPublicKey({
                caPublicKey: pub,
                certificate: sig,
                remainder: rem,
                exponent: fromHex('03'),
                pan: '9990010000000017',
              }),
            () =>
              recoverIccPublicKey({
                issuerPublicKey: pub,
                certificate: sig,
                remainder: rem,
                exponent: fromHex('03'),
                pan: '9990010000000017',
                staticData: rem,
              }),
            () => verifyDda({ iccPublicKey: pub, signedDynamicData: sig, terminalData: rem }),
          ]) {
            try {
              f();
            } catch (e) {
              expect(e).toBeInstanceOf(OdaError);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
  it('signing refuses data that does not fit the key', () => {
    expect(() =>
      createIssuerCertificate({
        caPrivateKey: key.privateKey,
        issuerPublicKey: pub,
        issuerIdentifier: '999001',
        expiry: fromHex('1230'),
        serial: fromHex('01'),
      }),
    ).toThrow(OdaError);
    expect(() =>
      createIccCertificate({
        issuerPrivateKey: key.privateKey,
        iccPublicKey: pub,
        pan: '99900100000000179999',
        expiry: fromHex('1230'),
        serial: fromHex('000001'),
        staticData: new Uint8Array(),
      }),
    ).toThrow(OdaError);
  });
});
