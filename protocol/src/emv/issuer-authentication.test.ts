import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../bytes';
import { generateArpc2 } from './cryptogram';
import {
  checkIssuerAuthentication,
  computeArpc,
  decodeCsu,
  encodeCsu,
  externalAuthenticateCommand,
  issuerAuthenticationData,
  splitIssuerAuthenticationData,
} from './issuer-authentication';
import { deriveSessionKey } from './keys';

const tdesKey = fromHex('0123456789ABCDEFFEDCBA9876543210');
const aesKey = fromHex('000102030405060708090A0B0C0D0E0F');
const atc = fromHex('0042');
const arqc = fromHex('1122334455667788');

describe('Card Status Update', () => {
  it('encodes the PIN Try Counter in byte 1 b4-b1, approve in byte 2 b8, update PIN Try Counter in byte 2 b5', () => {
    expect(toHex(encodeCsu({ pinTriesLeft: 2, approved: false, updatePinTryCounter: true }))).toBe(
      '02100000',
    );
    expect(toHex(encodeCsu({ pinTriesLeft: 0, approved: true, updatePinTryCounter: true }))).toBe('00900000');
    expect(toHex(encodeCsu({ pinTriesLeft: 15, approved: false, updatePinTryCounter: false }))).toBe(
      '0F000000',
    );
    expect(() => encodeCsu({ pinTriesLeft: 16, approved: false, updatePinTryCounter: true })).toThrow();
  });

  it('decodes what it encodes and refuses what a bluetill card does not act on', () => {
    for (const c of [
      { pinTriesLeft: 3, approved: true, updatePinTryCounter: true },
      { pinTriesLeft: 0, approved: false, updatePinTryCounter: false },
    ])
      expect(decodeCsu(encodeCsu(c))).toEqual(c);
    expect(decodeCsu(fromHex('02100000FF'))).toBeUndefined(); // 5 bytes
    expect(decodeCsu(fromHex('82100000'))).toBeUndefined(); // proprietary authentication data announced
    expect(decodeCsu(fromHex('02500000'))).toBeUndefined(); // card/application block
    expect(decodeCsu(fromHex('02180000'))).toBeUndefined(); // go online on next transaction
    expect(decodeCsu(fromHex('02100100'))).toBeUndefined(); // byte 3 RFU
    expect(decodeCsu(fromHex('021000AB'))).toEqual({
      pinTriesLeft: 2,
      approved: false,
      updatePinTryCounter: true,
    }); // byte 4 issuer-discretionary
  });
});

describe('ARPC method 2 and Issuer Authentication Data', () => {
  it("TDES: generateArpc2 under the AC session key of the ARQC's ATC, over ARQC ‖ CSU", () => {
    const csu = encodeCsu({ pinTriesLeft: 1, approved: false, updatePinTryCounter: true });
    expect(toHex(computeArpc({ iccMasterKey: tdesKey, algorithm: 'tdes', atc, arqc, csu }))).toBe(
      toHex(generateArpc2(deriveSessionKey(tdesKey, atc), arqc, csu)),
    );
  });

  it("a card accepts its issuer's data for its ARQC only: another ARQC, ATC, key or CSU fails", () => {
    for (const [key, algorithm] of [
      [tdesKey, 'tdes'],
      [aesKey, 'aes'],
    ] as const) {
      const data = issuerAuthenticationData({
        iccMasterKey: key,
        algorithm,
        atc,
        arqc,
        csu: { pinTriesLeft: 1, approved: true, updatePinTryCounter: true },
      });
      expect(data.length).toBe(8);
      expect(toHex(splitIssuerAuthenticationData(data)!.csu)).toBe('01900000');
      const card = { iccMasterKey: key, algorithm, atc, arqc };
      expect(checkIssuerAuthentication(data, card)).toEqual({
        pinTriesLeft: 1,
        approved: true,
        updatePinTryCounter: true,
      });
      expect(checkIssuerAuthentication(data, { ...card, arqc: fromHex('1122334455667789') })).toBeUndefined();
      expect(checkIssuerAuthentication(data, { ...card, atc: fromHex('0043') })).toBeUndefined();
      expect(
        checkIssuerAuthentication(data, {
          ...card,
          iccMasterKey: Uint8Array.from(key, (b, i) => (i === 0 ? b ^ 0x02 : b)),
        }),
      ).toBeUndefined();
      // A CSU raised from 1 to 3 tries left: the ARPC covers it.
      const raised = Uint8Array.from(data, (b, i) => (i === 4 ? 0x03 : b));
      expect(checkIssuerAuthentication(raised, card)).toBeUndefined();
      expect(checkIssuerAuthentication(data.subarray(0, 7), card)).toBeUndefined();
    }
  });

  it('EXTERNAL AUTHENTICATE carries the data: 00 82 00 00 08 ‖ data', () => {
    expect(toHex(externalAuthenticateCommand(fromHex('AABBCCDD02100000')))).toBe(
      '0082000008AABBCCDD02100000',
    );
  });
});
