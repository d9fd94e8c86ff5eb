import { describe, expect, it } from 'vitest';
import { checkIssuerAuthentication } from '@bluetill/protocol';
import { cardAnswerer, countersAtArqc, type AuthorizationArqc } from './issuer-authentication';

const arqc = (cardPinTriesLeft: number): AuthorizationArqc => ({
  iccMasterKey: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
  algorithm: 'aes',
  atc: Uint8Array.of(0x00, 0x2a),
  arqc: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
  cardPinTriesLeft,
});

describe('countersAtArqc: the PIN Try Counter a PIN is judged by', () => {
  it("takes the ARQC's counter when it is lower than the DDA's (an offline PIN tried in between), keeping the other counters", () => {
    expect(countersAtArqc({ pinTriesLeft: 3, biometricTriesLeft: 5 }, arqc(1))).toEqual({
      pinTriesLeft: 1,
      biometricTriesLeft: 5,
    });
  });

  it("keeps the DDA's counter when the ARQC's is higher (the lower value the card vouched for counts)", () => {
    expect(countersAtArqc({ pinTriesLeft: 2, knowledgeTriesLeft: 4 }, arqc(3))).toEqual({
      pinTriesLeft: 2,
      knowledgeTriesLeft: 4,
    });
  });

  it("without a DDA counter, the ARQC's; without an ARQC, the signed counters as they are", () => {
    expect(countersAtArqc(undefined, arqc(2))).toEqual({ pinTriesLeft: 2 });
    const signed = { pinTriesLeft: 3 };
    expect(countersAtArqc(signed, undefined)).toBe(signed);
    expect(countersAtArqc(undefined, undefined)).toBeUndefined();
  });
});

describe('cardAnswerer: what a request tells the card', () => {
  it('with a verified ARQC: Issuer Authentication Data the card authenticates, carrying the tries left and the outcome', () => {
    const a = arqc(3);
    const answer = cardAnswerer(a);
    expect(checkIssuerAuthentication(answer(2, false)!, a)).toMatchObject({
      pinTriesLeft: 2,
      approved: false,
      updatePinTryCounter: true,
    });
    expect(checkIssuerAuthentication(answer(3, true)!, a)).toMatchObject({ pinTriesLeft: 3, approved: true });
    // Under another card's key the answer does not authenticate.
    expect(
      checkIssuerAuthentication(answer(3, true)!, { ...a, iccMasterKey: new Uint8Array(16) }),
    ).toBeUndefined();
  });

  it('clamps the tries left to what the CSU can carry (0-15)', () => {
    const a = arqc(3);
    const answer = cardAnswerer(a);
    expect(checkIssuerAuthentication(answer(-1, false)!, a)?.pinTriesLeft).toBe(0);
    expect(checkIssuerAuthentication(answer(99, true)!, a)?.pinTriesLeft).toBe(15);
  });

  it('without an ARQC: nothing to send', () => {
    expect(cardAnswerer(undefined)(2, false)).toBeUndefined();
  });
});
