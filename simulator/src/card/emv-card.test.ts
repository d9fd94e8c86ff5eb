import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { EmvCard } from './emv-card';
import {
  BLUETILL_AID,
  buildDolData,
  buildPersonalizationCommands,
  cardAcInput,
  CARD_AIP,
  CARD_CDOL1,
  cardCdol1,
  cardCdol2,
  cardPdol,
  cardStaticData,
  cdaTransactionDataHash,
  computeCardAc,
  createDemoIssuer,
  decodeIad,
  decodeResponseApdu,
  decodeTlv,
  deriveCardAcMasterKey,
  encodePlaintextPinBlock,
  encodeTlv,
  findTag,
  generateAcCommand,
  getDataCommand,
  getProcessingOptionsCommand,
  internalAuthenticateCommand,
  prepareDemoCard,
  readRecordCommand,
  recoverIccPublicKey,
  recoverIssuerPublicKey,
  selectCommand,
  selectPpseCommand,
  storeDataCommand,
  SW,
  verifyCda,
  verifyCommand,
  verifyDda,
  type DemoIssuer,
  type Tlv,
  demoFingerprint,
  encodeBiometricVerifyData,
  encodeKnowledgeSecret,
  VERIFY_P2,
  externalAuthenticateCommand,
  issuerAuthenticationData,
  type AcAlgorithm,
  type CardStatusUpdate,
} from '@bluetill/protocol';
import { issueSimulatedCard, personalizeCard } from './issue-card';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

let issuer: DemoIssuer;
beforeAll(() => {
  issuer = createDemoIssuer();
});

const CARD = {
  pan: '9990010000000017',
  psn: 1,
  expiry: '3012',
  cardholderName: 'TEST/CARDHOLDER',
  pin: '1234',
};
const UN = h('A1B2C3D4');
const pdolData = (): Uint8Array =>
  buildDolData(cardPdol(), { '9F02': h('000000001250'), '5F2A': h('0978'), '9F37': UN, '9F1A': h('0276') });
const cdolData = (un = UN): Uint8Array =>
  buildDolData(cardCdol1(), {
    '9F02': h('000000001250'),
    '9F1A': h('0276'),
    '5F2A': h('0978'),
    '9A': h('261124'),
    '9C': h('00'),
    '9F37': un,
    '9F34': h('3F0000'),
  });

function send(card: EmvCard, command: Uint8Array): { data: Uint8Array; sw: number; nodes: Tlv[] } {
  const r = decodeResponseApdu(card.process(command));
  return { ...r, nodes: r.sw === SW.OK ? decodeTlv(r.data) : [] };
}

async function ready(options: Partial<Parameters<typeof issueSimulatedCard>[1]> = {}): Promise<EmvCard> {
  const { card } = await issueSimulatedCard(issuer, { ...CARD, ...options });
  card.powerOn();
  expect(send(card, selectPpseCommand()).sw).toBe(SW.OK);
  expect(send(card, selectCommand(BLUETILL_AID)).sw).toBe(SW.OK);
  expect(send(card, getProcessingOptionsCommand(pdolData())).sw).toBe(SW.OK);
  return card;
}

describe('EmvCard: reading', () => {
  it('SELECT PPSE lists the bluetill AID; SELECT AID returns label and PDOL', async () => {
    const { card } = await issueSimulatedCard(issuer, CARD);
    card.powerOn();
    const ppse = send(card, selectPpseCommand());
    expect(ppse.sw).toBe(SW.OK);
    expect(hex(findTag(ppse.nodes, '4F') ?? h(''))).toBe(hex(BLUETILL_AID));
    const app = send(card, selectCommand(BLUETILL_AID));
    expect(Buffer.from(findTag(app.nodes, '50') ?? h('')).toString()).toBe('BLUETILL');
    expect(hex(findTag(app.nodes, '9F38') ?? h(''))).toBe('9F02065F2A029F37049F1A02');
    expect(send(card, selectCommand(h('A000000003101001'))).sw).toBe(SW.FILE_NOT_FOUND);
  });

  it('GPO gives AIP + AFL; records read per AFL; the certificate chain and DDA verify', async () => {
    const card = await ready();
    card.powerOn();
    send(card, selectCommand(BLUETILL_AID));
    const gpo = send(card, getProcessingOptionsCommand(pdolData()));
    expect(hex(findTag(gpo.nodes, '82') ?? h(''))).toBe('3900');
    expect(hex(findTag(gpo.nodes, '94') ?? h(''))).toBe('0801020110010400');
    const records = ['1:1', '1:2', '2:1', '2:2', '2:3', '2:4'].map((k) => {
      const [sfi, rec] = k.split(':').map(Number) as [number, number];
      const r = send(card, readRecordCommand(sfi, rec));
      expect(r.sw).toBe(SW.OK);
      return r.nodes;
    });
    const all = records.flat();
    const get = (t: string): Uint8Array => findTag(all, t) ?? h('');
    expect(hex(get('5A'))).toBe(CARD.pan);
    expect(hex(get('5F24'))).toBe('301231');
    expect(hex(get('5F34'))).toBe('01');
    expect(Buffer.from(get('5F20')).toString()).toBe(CARD.cardholderName);
    expect(hex(get('57')).startsWith(`${CARD.pan}D3012201`)).toBe(true);
    expect(send(card, readRecordCommand(1, 3)).sw).toBe(SW.RECORD_NOT_FOUND);
    expect(send(card, readRecordCommand(3, 1)).sw).toBe(SW.FILE_NOT_FOUND);
    expect(hex(get('8C'))).toBe(hex(CARD_CDOL1));
    expect(hex(get('8D'))).toBe('8A0295059F3704');

    const issuerKey = recoverIssuerPublicKey({
      caPublicKey: issuer.ca.publicKey,
      certificate: get('90'),
      remainder: get('92'),
      exponent: get('9F32'),
      pan: CARD.pan,
      now: new Date(),
    });
    const staticData = cardStaticData(CARD);
    const iccKey = recoverIccPublicKey({
      issuerPublicKey: issuerKey.publicKey,
      certificate: get('9F46'),
      remainder: get('9F48'),
      exponent: get('9F47'),
      pan: CARD.pan,
      staticData,
      now: new Date(),
    });
    const ia = send(card, internalAuthenticateCommand(UN));
    expect(ia.sw).toBe(SW.OK);
    expect(() =>
      verifyDda({
        iccPublicKey: iccKey.publicKey,
        signedDynamicData: findTag(ia.nodes, '9F4B') ?? h(''),
        terminalData: UN,
      }),
    ).not.toThrow();
    expect(send(card, internalAuthenticateCommand(h('A1B2C3'))).sw).toBe(SW.WRONG_LENGTH);
  });
});

describe('EmvCard: GENERATE AC', () => {
  it.each(['aes', 'tdes'] as const)(
    'ARQC (%s) verifies at the issuer; ATC increments; one AC per session',
    async (acAlgorithm) => {
      const card = await ready({ acAlgorithm });
      const atcBefore = card.atc ?? -1;
      const r = send(card, generateAcCommand('arqc', cdolData()));
      expect(r.sw).toBe(SW.OK);
      const atc = findTag(r.nodes, '9F36') ?? h('');
      expect(((atc[0] ?? 0) << 8) | (atc[1] ?? 0)).toBe(atcBefore + 1);
      expect(hex(findTag(r.nodes, '9F27') ?? h(''))).toBe('80');
      const iad = findTag(r.nodes, '9F10') ?? h('');
      expect(decodeIad(iad)?.algorithm).toBe(acAlgorithm);
      expect(decodeIad(iad)?.cvr.acType).toBe('arqc');
      expect(hex(findTag(r.nodes, '9F34') ?? h(''))).toBe('3F0000');
      const mk = deriveCardAcMasterKey(issuer.acMasterKeys[acAlgorithm], CARD.pan, CARD.psn, acAlgorithm);
      const expected = computeCardAc({
        iccMasterKey: mk,
        algorithm: acAlgorithm,
        atc,
        data: cardAcInput(cdolData(), CARD_AIP, atc, iad),
      });
      expect(hex(findTag(r.nodes, '9F26') ?? h(''))).toBe(hex(expected));
      // Any change to the amount changes the cryptogram.
      const other = cdolData();
      other[5] = 0x51;
      expect(
        hex(
          computeCardAc({
            iccMasterKey: mk,
            algorithm: acAlgorithm,
            atc,
            data: cardAcInput(other, CARD_AIP, atc, iad),
          }),
        ),
      ).not.toBe(hex(expected));
      expect(send(card, generateAcCommand('arqc', cdolData())).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
      expect(hex(send(card, getDataCommand(0x9f36)).data)).toBe(`9F3602${hex(atc)}`);
    },
  );

  it('CDA: AC only inside the signature, which binds the UN and the transaction data', async () => {
    const card = await ready();
    const r = send(card, generateAcCommand('arqc', cdolData(), { cda: true }));
    expect(r.sw).toBe(SW.OK);
    expect(findTag(r.nodes, '9F26')).toBeUndefined();
    const objects = (r.nodes[0]?.children ?? []).filter((n) => n.tag !== '9F4B');
    const tdh = cdaTransactionDataHash(pdolData(), cdolData(), encodeTlv(objects));
    // Recover the ICC key from the card's records.
    const rec = (sfi: number, n: number): Tlv[] => send(card, readRecordCommand(sfi, n)).nodes;
    const all = [...rec(2, 1), ...rec(2, 2), ...rec(2, 3), ...rec(2, 4)];
    const g = (t: string): Uint8Array => findTag(all, t) ?? h('');
    const issuerKey = recoverIssuerPublicKey({
      caPublicKey: issuer.ca.publicKey,
      certificate: g('90'),
      remainder: g('92'),
      exponent: g('9F32'),
      pan: CARD.pan,
    });
    const iccKey = recoverIccPublicKey({
      issuerPublicKey: issuerKey.publicKey,
      certificate: g('9F46'),
      remainder: g('9F48'),
      exponent: g('9F47'),
      pan: CARD.pan,
      staticData: cardStaticData(CARD),
    });
    const { ac } = verifyCda({
      iccPublicKey: iccKey.publicKey,
      signedDynamicData: findTag(r.nodes, '9F4B') ?? h(''),
      unpredictableNumber: UN,
      cid: 0x80,
      transactionDataHash: tdh,
    });
    const atc = findTag(r.nodes, '9F36') ?? h('');
    const mk = deriveCardAcMasterKey(issuer.acMasterKeys.aes, CARD.pan, CARD.psn, 'aes');
    expect(hex(ac)).toBe(
      hex(
        computeCardAc({
          iccMasterKey: mk,
          algorithm: 'aes',
          atc,
          data: cardAcInput(cdolData(), CARD_AIP, atc, findTag(r.nodes, '9F10') ?? h('')),
        }),
      ),
    );
  });

  it('a card without offline limits answers a TC request with an ARQC, AAC with an AAC; bad P1 and lengths get status words', async () => {
    const card = await ready();
    expect(send(card, generateAcCommand('arqc', cdolData().subarray(1))).sw).toBe(SW.WRONG_LENGTH);
    expect(decodeResponseApdu(card.process(h('80AEC0002000'.padEnd(12, '0') + '00'.repeat(32)))).sw).not.toBe(
      SW.OK,
    );
    expect(hex(findTag(send(card, generateAcCommand('tc', cdolData())).nodes, '9F27') ?? h(''))).toBe('80');
    const card2 = await ready();
    expect(hex(findTag(send(card2, generateAcCommand('aac', cdolData())).nodes, '9F27') ?? h(''))).toBe('00');
  });

  it('GENERATE AC before GPO is refused', async () => {
    const { card } = await issueSimulatedCard(issuer, CARD);
    card.powerOn();
    send(card, selectCommand(BLUETILL_AID));
    expect(send(card, generateAcCommand('arqc', cdolData())).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    expect(send(card, internalAuthenticateCommand(UN)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
  });
});

describe('EmvCard: second GENERATE AC (CDOL2)', () => {
  const cdol2Data = (arc: string, un = UN): Uint8Array =>
    buildDolData(cardCdol2(), { '8A': h(arc), '95': h('0000000000'), '9F37': un });
  const mkOf = (alg: 'aes' | 'tdes'): Uint8Array =>
    deriveCardAcMasterKey(issuer.acMasterKeys[alg], CARD.pan, CARD.psn, alg);

  it.each(['aes', 'tdes'] as const)(
    'after an ARQC, TC with ARC 3030 (%s): same ATC, AC over CDOL2 data verifies; then the transaction is over',
    async (alg) => {
      const card = await ready({ acAlgorithm: alg });
      const first = send(card, generateAcCommand('arqc', cdolData()));
      const atc = findTag(first.nodes, '9F36') ?? h('');
      expect(hex(cdol2Data('3030'))).toBe('30300000000000A1B2C3D4');
      const r = send(card, generateAcCommand('tc', cdol2Data('3030')));
      expect(r.sw).toBe(SW.OK);
      expect(hex(findTag(r.nodes, '9F27') ?? h(''))).toBe('40');
      expect(hex(findTag(r.nodes, '9F36') ?? h(''))).toBe(hex(atc));
      const iad = findTag(r.nodes, '9F10') ?? h('');
      expect(decodeIad(iad)?.cvr.acType).toBe('tc');
      expect(hex(findTag(r.nodes, '9F26') ?? h(''))).toBe(
        hex(
          computeCardAc({
            iccMasterKey: mkOf(alg),
            algorithm: alg,
            atc,
            data: cardAcInput(cdol2Data('3030'), CARD_AIP, atc, iad),
          }),
        ),
      );
      expect(send(card, generateAcCommand('tc', cdol2Data('3030'))).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
      expect(card.atc).toBe(((atc[0] ?? 0) << 8) | (atc[1] ?? 0));
    },
  );

  it('a declined online answer (ARC 3035) or an AAC request gives an AAC; ARQC in the second is 6985; wrong CDOL2 length 6700', async () => {
    const card = await ready();
    send(card, generateAcCommand('arqc', cdolData()));
    expect(send(card, generateAcCommand('arqc', cdol2Data('3030'))).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    expect(send(card, generateAcCommand('tc', cdol2Data('3030').subarray(1))).sw).toBe(SW.WRONG_LENGTH);
    expect(hex(findTag(send(card, generateAcCommand('tc', cdol2Data('3035'))).nodes, '9F27') ?? h(''))).toBe(
      '00',
    );
    const card2 = await ready();
    send(card2, generateAcCommand('arqc', cdolData()));
    expect(
      hex(findTag(send(card2, generateAcCommand('aac', cdol2Data('3030'))).nodes, '9F27') ?? h('')),
    ).toBe('00');
    // After a first AAC there is no second GENERATE AC.
    const card3 = await ready();
    send(card3, generateAcCommand('aac', cdolData()));
    expect(send(card3, generateAcCommand('tc', cdol2Data('3030'))).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
  });

  it('CDA on the second: the signature binds the TC and PDOL ‖ CDOL1 ‖ CDOL2 data', async () => {
    const card = await ready();
    send(card, generateAcCommand('arqc', cdolData()));
    const un2 = h('0BADCAFE');
    const r = send(card, generateAcCommand('tc', cdol2Data('3030', un2), { cda: true }));
    expect(r.sw).toBe(SW.OK);
    expect(findTag(r.nodes, '9F26')).toBeUndefined();
    const objects = (r.nodes[0]?.children ?? []).filter((n) => n.tag !== '9F4B');
    const tdh = cdaTransactionDataHash(
      pdolData(),
      new Uint8Array([...cdolData(), ...cdol2Data('3030', un2)]),
      encodeTlv(objects),
    );
    const rec = (sfi: number, n: number): Tlv[] => send(card, readRecordCommand(sfi, n)).nodes;
    const all = [...rec(2, 1), ...rec(2, 2), ...rec(2, 3), ...rec(2, 4)];
    const g = (t: string): Uint8Array => findTag(all, t) ?? h('');
    const issuerKey = recoverIssuerPublicKey({
      caPublicKey: issuer.ca.publicKey,
      certificate: g('90'),
      remainder: g('92'),
      exponent: g('9F32'),
      pan: CARD.pan,
    });
    const iccKey = recoverIccPublicKey({
      issuerPublicKey: issuerKey.publicKey,
      certificate: g('9F46'),
      remainder: g('9F48'),
      exponent: g('9F47'),
      pan: CARD.pan,
      staticData: cardStaticData(CARD),
    });
    const { ac } = verifyCda({
      iccPublicKey: iccKey.publicKey,
      signedDynamicData: findTag(r.nodes, '9F4B') ?? h(''),
      unpredictableNumber: un2,
      cid: 0x40,
      transactionDataHash: tdh,
    });
    const atc = findTag(r.nodes, '9F36') ?? h('');
    expect(hex(ac)).toBe(
      hex(
        computeCardAc({
          iccMasterKey: mkOf('aes'),
          algorithm: 'aes',
          atc,
          data: cardAcInput(cdol2Data('3030', un2), CARD_AIP, atc, findTag(r.nodes, '9F10') ?? h('')),
        }),
      ),
    );
  });
});

describe('EmvCard: VERIFY and GET DATA', () => {
  it('try counter: 63Cx, then blocked 6983; correct PIN resets; CVM results follow', async () => {
    const card = await ready({ pinTryLimit: 3 });
    expect(send(card, verifyCommand(encodePlaintextPinBlock('0000'))).sw).toBe(0x63c2);
    expect(hex(send(card, getDataCommand(0x9f17)).data)).toBe('9F170102');
    expect(send(card, verifyCommand(encodePlaintextPinBlock('1234'))).sw).toBe(SW.OK);
    expect(hex(send(card, getDataCommand(0x9f17)).data)).toBe('9F170103');
    const ac = send(card, generateAcCommand('arqc', cdolData()));
    expect(hex(findTag(ac.nodes, '9F34') ?? h(''))).toBe('010002');
    expect(decodeIad(findTag(ac.nodes, '9F10') ?? h(''))?.cvr.offlinePinPerformed).toBe(true);
    expect(send(card, verifyCommand(encodePlaintextPinBlock('1111'))).sw).toBe(0x63c2);
    expect(send(card, verifyCommand(encodePlaintextPinBlock('1111'))).sw).toBe(0x63c1);
    expect(send(card, verifyCommand(encodePlaintextPinBlock('1111'))).sw).toBe(0x63c0);
    expect(send(card, verifyCommand(encodePlaintextPinBlock('1234'))).sw).toBe(
      SW.AUTHENTICATION_METHOD_BLOCKED,
    );
    card.powerOn(); // the try counter is persistent
    expect(hex(send(card, getDataCommand(0x9f17)).data)).toBe('9F170100');
  });
  it('malformed PIN block 6A80 (no try used), wrong P2 6A86, wrong length 6700, unknown GET DATA 6A88', async () => {
    const card = await ready();
    expect(send(card, verifyCommand(h('2F12FFFFFFFFFFFF'))).sw).toBe(SW.WRONG_DATA);
    expect(send(card, verifyCommand(encodePlaintextPinBlock('1234'), 0x88)).sw).toBe(SW.INCORRECT_P1P2);
    expect(send(card, verifyCommand(h('241234FFFFFFFF'))).sw).toBe(SW.WRONG_LENGTH);
    expect(hex(send(card, getDataCommand(0x9f17)).data)).toBe('9F170103');
    expect(send(card, getDataCommand(0x9f13)).sw).toBe(SW.REFERENCED_DATA_NOT_FOUND);
  });
});

describe('EmvCard: issuer authentication (account-verification ARQC, EXTERNAL AUTHENTICATE)', () => {
  const zeroAmount = (un = UN): Uint8Array =>
    buildDolData(cardCdol1(), {
      '9F02': h('000000000000'),
      '9F1A': h('0276'),
      '5F2A': h('0978'),
      '9A': h('261124'),
      '9C': h('00'),
      '9F37': un,
      '9F34': h('3F0000'),
    });
  /** The account-verification ARQC (amount 0): its ATC and AC. */
  const verificationArqc = (card: EmvCard): { atc: Uint8Array; arqc: Uint8Array } => {
    const r = send(card, generateAcCommand('arqc', zeroAmount()));
    expect(r.sw).toBe(SW.OK);
    return { atc: findTag(r.nodes, '9F36') ?? h(''), arqc: findTag(r.nodes, '9F26') ?? h('') };
  };
  /** What the issuer answers: ARPC method 2 under the card's key, over that ARQC and the CSU. */
  const issuerAnswer = (
    algorithm: AcAlgorithm,
    ac: { atc: Uint8Array; arqc: Uint8Array },
    csu: CardStatusUpdate,
  ): Uint8Array =>
    issuerAuthenticationData({
      iccMasterKey: deriveCardAcMasterKey(issuer.acMasterKeys[algorithm], CARD.pan, CARD.psn, algorithm),
      algorithm,
      ...ac,
      csu,
    });
  const freshSession = (card: EmvCard): void => {
    card.powerOn();
    expect(send(card, selectCommand(BLUETILL_AID)).sw).toBe(SW.OK);
  };

  it('an ARQC over amount 0 makes the card wait; offline PIN VERIFY is 6985 (no try used), in this session and the next', async () => {
    const card = await ready();
    expect(card.issuerWaitAtc).toBeUndefined();
    const ac = verificationArqc(card);
    expect(card.issuerWaitAtc).toBe(((ac.atc[0] ?? 0) << 8) | (ac.atc[1] ?? 0));
    expect(send(card, verifyCommand(encodePlaintextPinBlock('0000'))).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    freshSession(card);
    expect(send(card, verifyCommand(encodePlaintextPinBlock('1234'))).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    expect(card.pinTriesLeft).toBe(3);
    // A payment's ARQC (amount not 0) neither sets nor clears the wait.
    expect(send(card, getProcessingOptionsCommand(pdolData())).sw).toBe(SW.OK);
    expect(send(card, generateAcCommand('arqc', cdolData())).sw).toBe(SW.OK);
    expect(card.issuerWaitAtc).toBe(((ac.atc[0] ?? 0) << 8) | (ac.atc[1] ?? 0));
    const fresh = await ready();
    expect(send(fresh, generateAcCommand('arqc', cdolData())).sw).toBe(SW.OK);
    expect(fresh.issuerWaitAtc).toBeUndefined();
    expect(send(fresh, verifyCommand(encodePlaintextPinBlock('1234'))).sw).toBe(SW.OK);
  });

  it.each(['aes', 'tdes'] as const)(
    "a valid ARPC (%s), in a later session, clears the wait and lowers the offline PIN tries to the CSU's; the card's own counter stays its own",
    async (acAlgorithm) => {
      const card = await ready({ acAlgorithm });
      const ac = verificationArqc(card);
      freshSession(card);
      expect(
        send(
          card,
          externalAuthenticateCommand(
            issuerAnswer(acAlgorithm, ac, { pinTriesLeft: 1, approved: false, updatePinTryCounter: true }),
          ),
        ).sw,
      ).toBe(SW.OK);
      expect(card.issuerWaitAtc).toBeUndefined();
      expect(card.offlinePinTriesLeft).toBe(1);
      expect(hex(send(card, getDataCommand(0x9f17)).data)).toBe('9F170103'); // the card's own wrong tries: none
      // One offline guess is left: wrong, then blocked even for the right PIN.
      expect(send(card, verifyCommand(encodePlaintextPinBlock('0000'))).sw).toBe(0x63c0);
      expect(send(card, verifyCommand(encodePlaintextPinBlock('1234'))).sw).toBe(
        SW.AUTHENTICATION_METHOD_BLOCKED,
      );
      // Nothing left to wait on: a second EXTERNAL AUTHENTICATE is 6985.
      expect(
        send(
          card,
          externalAuthenticateCommand(
            issuerAnswer(acAlgorithm, ac, { pinTriesLeft: 3, approved: true, updatePinTryCounter: true }),
          ),
        ).sw,
      ).toBe(SW.CONDITIONS_NOT_SATISFIED);
    },
  );

  it("the CSU never raises the tries: 3 told to a card with 2 of its own leaves 2; the issuer's approval with all 3 left keeps offline PIN as it was", async () => {
    const card = await ready();
    expect(send(card, verifyCommand(encodePlaintextPinBlock('0000'))).sw).toBe(0x63c2);
    const ac = verificationArqc(card);
    expect(
      send(
        card,
        externalAuthenticateCommand(
          issuerAnswer('aes', ac, { pinTriesLeft: 3, approved: true, updatePinTryCounter: true }),
        ),
      ).sw,
    ).toBe(SW.OK);
    expect(card.offlinePinTriesLeft).toBe(2);
    freshSession(card);
    expect(send(card, verifyCommand(encodePlaintextPinBlock('1234'))).sw).toBe(SW.OK);
    expect(card.offlinePinTriesLeft).toBe(3);
  });

  it('a bad ARPC, an ARPC for another ARQC or ATC, or an edited CSU: 6300, counted, still waiting, nothing else changes', async () => {
    const card = await ready();
    const first = verificationArqc(card);
    const okFirst = issuerAnswer('aes', first, {
      pinTriesLeft: 2,
      approved: false,
      updatePinTryCounter: true,
    });
    freshSession(card);
    expect(send(card, getProcessingOptionsCommand(pdolData())).sw).toBe(SW.OK);
    const second = verificationArqc(card); // the card now waits on this one
    const tries = (): number | undefined => card.offlinePinTriesLeft;
    const flipped = Uint8Array.from(
      issuerAnswer('aes', second, { pinTriesLeft: 2, approved: false, updatePinTryCounter: true }),
      (b, i) => (i === 0 ? b ^ 0x01 : b),
    );
    const raised = Uint8Array.from(
      issuerAnswer('aes', second, { pinTriesLeft: 0, approved: false, updatePinTryCounter: true }),
      (b, i) => (i === 4 ? 0x03 : b),
    );
    const otherAtc = issuerAnswer(
      'aes',
      { ...second, atc: first.atc },
      { pinTriesLeft: 2, approved: false, updatePinTryCounter: true },
    );
    for (const [n, bad] of [
      okFirst,
      flipped,
      raised,
      otherAtc,
      new Uint8Array(8),
      new Uint8Array(16),
    ].entries()) {
      expect(send(card, externalAuthenticateCommand(bad)).sw).toBe(0x6300);
      expect(card.issuerAuthenticationFailures).toBe(n + 1);
      expect(card.issuerWaitAtc).toBe(((second.atc[0] ?? 0) << 8) | (second.atc[1] ?? 0));
      expect(tries()).toBe(3);
    }
    expect(send(card, verifyCommand(encodePlaintextPinBlock('1234'))).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    // The failure is in the CVR of the card's next cryptogram (byte 1 b1), until an issuer authentication succeeds.
    freshSession(card);
    expect(send(card, getProcessingOptionsCommand(pdolData())).sw).toBe(SW.OK);
    const next = send(card, generateAcCommand('arqc', cdolData()));
    expect(decodeIad(findTag(next.nodes, '9F10') ?? h(''))?.cvr.issuerAuthenticationFailed).toBe(true);
    expect(
      send(
        card,
        externalAuthenticateCommand(
          issuerAnswer('aes', second, { pinTriesLeft: 2, approved: false, updatePinTryCounter: true }),
        ),
      ).sw,
    ).toBe(SW.OK);
    expect(tries()).toBe(2);
  });

  it('bad EXTERNAL AUTHENTICATE input: P1-P2 6A86, length 6700, before SELECT 6985, nothing to wait on 6985; no failure counted', async () => {
    const card = await ready();
    const ac = verificationArqc(card);
    const good = issuerAnswer('aes', ac, { pinTriesLeft: 3, approved: true, updatePinTryCounter: true });
    expect(send(card, Uint8Array.of(0x00, 0x82, 0x01, 0x00, 0x08, ...good)).sw).toBe(SW.INCORRECT_P1P2);
    expect(send(card, externalAuthenticateCommand(new Uint8Array(7))).sw).toBe(SW.WRONG_LENGTH);
    expect(send(card, externalAuthenticateCommand(new Uint8Array(17))).sw).toBe(SW.WRONG_LENGTH);
    expect(send(card, Uint8Array.of(0x80, 0x82, 0x00, 0x00, 0x08, ...good)).sw).toBe(SW.CLA_NOT_SUPPORTED);
    card.powerOn();
    expect(send(card, externalAuthenticateCommand(good)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    expect(card.issuerAuthenticationFailures).toBe(0);
    const other = await ready();
    expect(send(other, externalAuthenticateCommand(good)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
  });
});

describe('EmvCard: try counters signed with the UN (INTERNAL AUTHENTICATE, CDA)', () => {
  const iccKeyOf = (card: EmvCard, data: typeof CARD = CARD) => {
    const all = [
      [2, 1],
      [2, 2],
      [2, 3],
      [2, 4],
    ].flatMap(([sfi, n]) => send(card, readRecordCommand(sfi as number, n as number)).nodes);
    const g = (t: string): Uint8Array => findTag(all, t) ?? h('');
    const issuerKey = recoverIssuerPublicKey({
      caPublicKey: issuer.ca.publicKey,
      certificate: g('90'),
      remainder: g('92'),
      exponent: g('9F32'),
      pan: data.pan,
    });
    return recoverIccPublicKey({
      issuerPublicKey: issuerKey.publicKey,
      certificate: g('9F46'),
      remainder: g('9F48'),
      exponent: g('9F47'),
      pan: data.pan,
      staticData: cardStaticData(data),
    }).publicKey;
  };
  const ddaCounters = (card: EmvCard, un = UN) => {
    const ia = send(card, internalAuthenticateCommand(un));
    return verifyDda({
      iccPublicKey: iccKeyOf(card),
      signedDynamicData: findTag(ia.nodes, '9F4B') ?? h(''),
      terminalData: un,
    }).counters;
  };

  it('the PIN Try Counter as it is when signed: 3, then 1 after two wrong offline PINs (a later session), then 0', async () => {
    const card = await ready({ pinTryLimit: 3 });
    expect(ddaCounters(card)).toEqual({ pinTriesLeft: 3 });
    expect(send(card, verifyCommand(encodePlaintextPinBlock('0000'))).sw).toBe(0x63c2);
    expect(send(card, verifyCommand(encodePlaintextPinBlock('0000'))).sw).toBe(0x63c1);
    card.powerOn();
    send(card, selectCommand(BLUETILL_AID));
    send(card, getProcessingOptionsCommand(pdolData()));
    expect(ddaCounters(card, h('0A0B0C0D'))).toEqual({ pinTriesLeft: 1 });
    expect(send(card, verifyCommand(encodePlaintextPinBlock('0000'))).sw).toBe(0x63c0);
    expect(ddaCounters(card)).toEqual({ pinTriesLeft: 0 });
  });

  it('a card with a fingerprint and a secret signs their counters too; CDA carries the same', async () => {
    const card = await ready({
      biometricTemplate: demoFingerprint('c'),
      biometricTryLimit: 4,
      knowledgeSecret: encodeKnowledgeSecret('open sesame'),
      knowledgeTryLimit: 2,
    });
    expect(
      send(card, verifyCommand(new Uint8Array(Buffer.from('open sesam', 'utf8')), VERIFY_P2.knowledge)).sw,
    ).toBe(0x63c1);
    expect(ddaCounters(card)).toEqual({ pinTriesLeft: 3, biometricTriesLeft: 4, knowledgeTriesLeft: 1 });
    const r = send(card, generateAcCommand('arqc', cdolData(), { cda: true }));
    const tdh = cdaTransactionDataHash(
      pdolData(),
      cdolData(),
      encodeTlv((r.nodes[0]?.children ?? []).filter((n) => n.tag !== '9F4B')),
    );
    const cda = verifyCda({
      iccPublicKey: iccKeyOf(card),
      signedDynamicData: findTag(r.nodes, '9F4B') ?? h(''),
      unpredictableNumber: UN,
      cid: 0x80,
      transactionDataHash: tdh,
    });
    expect(cda.counters).toEqual({ pinTriesLeft: 3, biometricTriesLeft: 4, knowledgeTriesLeft: 1 });
  });
});

describe('EmvCard: match-on-card (VERIFY P2 90) and knowledge secret (VERIFY P2 91)', () => {
  const finger = demoFingerprint('card-test');
  const other = demoFingerprint('someone else');
  const cvm = {
    biometricTemplate: finger,
    biometricTryLimit: 3,
    knowledgeSecret: encodeKnowledgeSecret('open sesame'),
    knowledgeTryLimit: 2,
  };
  const bio = (t: Int8Array) => verifyCommand(encodeBiometricVerifyData(t), VERIFY_P2.biometric);
  const know = (s: string) => verifyCommand(new Uint8Array(Buffer.from(s, 'utf8')), VERIFY_P2.knowledge);
  const cvr = (card: EmvCard) => {
    const ac = send(card, generateAcCommand('arqc', cdolData()));
    return {
      cvr: decodeIad(findTag(ac.nodes, '9F10') ?? h(''))!.cvr,
      cvmResults: hex(findTag(ac.nodes, '9F34') ?? h('')),
      iad: hex(findTag(ac.nodes, '9F10') ?? h('')),
    };
  };

  it('a near-match of the finger passes (9000): CVR byte 4 = 80, card CVM results 200002', async () => {
    const card = await ready(cvm);
    const near = Int8Array.from(finger, (v, i) => Math.max(-128, Math.min(127, v + ((i * 7) % 21) - 10)));
    expect(send(card, bio(near)).sw).toBe(SW.OK);
    const r = cvr(card);
    expect(r.iad.slice(-2)).toBe('80');
    expect(r.cvr).toMatchObject({
      biometricPerformed: true,
      biometricFailed: false,
      offlinePinPerformed: false,
    });
    expect(r.cvmResults).toBe('200002');
  });

  it('another finger fails (63Cx), counted across sessions; blocked at the limit (6983) even for the right finger; CVR C0 then E0', async () => {
    const card = await ready(cvm);
    expect(send(card, bio(other)).sw).toBe(0x63c2);
    expect(cvr(card).iad.slice(-2)).toBe('C0'); // performed, failed
    // a new card session: the counter is persistent, the session's result is not
    card.powerOn();
    send(card, selectCommand(BLUETILL_AID));
    send(card, getProcessingOptionsCommand(pdolData()));
    expect(card.biometricTriesLeft).toBe(2);
    expect(send(card, bio(other)).sw).toBe(0x63c1);
    expect(send(card, bio(other)).sw).toBe(0x63c0);
    expect(send(card, bio(finger)).sw).toBe(SW.AUTHENTICATION_METHOD_BLOCKED);
    const r = cvr(card);
    expect(r.iad.slice(-2)).toBe('E0');
    expect(r.cvr).toMatchObject({
      biometricPerformed: true,
      biometricFailed: true,
      biometricTryLimitExceeded: true,
    });
    expect(r.cvmResults).toBe('200001');
  });

  it('the knowledge secret: right 9000 (CVR 08, CVM results 210002), wrong 63Cx, blocked at its own limit; the PIN counter is separate', async () => {
    const card = await ready(cvm);
    expect(send(card, know('open sesame')).sw).toBe(SW.OK);
    expect(cvr(card)).toMatchObject({
      cvmResults: '210002',
      cvr: { knowledgePerformed: true, knowledgeFailed: false },
    });
    const locked = await ready(cvm);
    expect(send(locked, know('open sesam')).sw).toBe(0x63c1);
    expect(send(locked, know('open sesam')).sw).toBe(0x63c0);
    expect(send(locked, know('open sesame')).sw).toBe(SW.AUTHENTICATION_METHOD_BLOCKED);
    expect(send(locked, verifyCommand(encodePlaintextPinBlock('1234'))).sw).toBe(SW.OK);
    expect(cvr(locked).cvr).toMatchObject({
      knowledgePerformed: true,
      knowledgeFailed: true,
      knowledgeTryLimitExceeded: true,
      offlinePinPerformed: true,
      offlinePinFailed: false,
    });
  });

  it('bad input costs no try: malformed template 6A80, secret too short/long 6700; a card without them 6A88; before SELECT 6985', async () => {
    const card = await ready(cvm);
    expect(send(card, verifyCommand(h('7F2E03810100'), VERIFY_P2.biometric)).sw).toBe(SW.WRONG_DATA);
    expect(send(card, verifyCommand(h('00'), VERIFY_P2.biometric)).sw).toBe(SW.WRONG_DATA);
    expect(send(card, know('abc')).sw).toBe(SW.WRONG_LENGTH);
    expect(send(card, know('x'.repeat(65))).sw).toBe(SW.WRONG_LENGTH);
    expect([card.biometricTriesLeft, card.knowledgeTriesLeft]).toEqual([3, 2]);
    const plain = await ready();
    expect(send(plain, bio(finger)).sw).toBe(SW.REFERENCED_DATA_NOT_FOUND);
    expect(send(plain, know('open sesame')).sw).toBe(SW.REFERENCED_DATA_NOT_FOUND);
    expect(cvr(plain).cvr).toMatchObject({
      biometricPerformed: false,
      knowledgePerformed: false,
      biometricTryLimitExceeded: false,
    });
    plain.powerOn();
    expect(send(plain, bio(finger)).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
  });
});

describe('EmvCard: personalization', () => {
  it('a blank card refuses payment commands, accepts the MACed chain once, then refuses STORE DATA', async () => {
    const { personalization, personalizationKey } = prepareDemoCard(issuer, CARD);
    const card = new EmvCard(personalizationKey);
    card.powerOn();
    expect(findTag(send(card, selectPpseCommand()).nodes, '4F')).toBeUndefined();
    send(card, selectCommand(BLUETILL_AID));
    expect(send(card, getProcessingOptionsCommand(pdolData())).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    const commands = buildPersonalizationCommands(personalization, personalizationKey);
    expect(commands.length).toBeGreaterThan(1);
    // A tampered chunk is refused (6982) and the chain restarts.
    const bad = Uint8Array.from(commands[0] ?? h(''));
    bad[10] = (bad[10] ?? 0) ^ 1;
    expect(send(card, bad).sw).toBe(SW.SECURITY_STATUS_NOT_SATISFIED);
    // Out of order is refused.
    expect(send(card, commands[1] ?? h('')).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    for (const c of commands) expect(send(card, c).sw).toBe(SW.OK);
    expect(card.personalized).toBe(true);
    expect(send(card, commands[0] ?? h('')).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
    // Read back to confirm.
    card.powerOn();
    send(card, selectCommand(BLUETILL_AID));
    send(card, getProcessingOptionsCommand(pdolData()));
    expect(hex(findTag(send(card, readRecordCommand(1, 1)).nodes, '5A') ?? h(''))).toBe(CARD.pan);
  });
  it("a chain MACed with another card's key is refused", async () => {
    const a = prepareDemoCard(issuer, CARD);
    const b = prepareDemoCard(issuer, { ...CARD, pan: '9990010000000025' });
    const card = new EmvCard(a.personalizationKey);
    await expect(personalizeCard(card, b.personalization, b.personalizationKey)).rejects.toThrow(
      /personalization/,
    );
    expect(card.personalized).toBe(false);
  });
  it('a correctly MACed chain with garbage data is refused with 6A80', async () => {
    const { personalizationKey } = prepareDemoCard(issuer, CARD);
    const { personalizationMac } = await import('@bluetill/protocol');
    const card = new EmvCard(personalizationKey);
    card.powerOn();
    send(card, selectCommand(BLUETILL_AID));
    const chunk = h('DF0101FF');
    const mac = personalizationMac(personalizationKey, new Uint8Array(8), h('80E28000'), chunk);
    expect(send(card, storeDataCommand(new Uint8Array([...chunk, ...mac]), 0, true)).sw).toBe(SW.WRONG_DATA);
  });
});

describe('EmvCard: bad input', () => {
  it('status words for unknown INS/CLA, short APDUs and commands without power', async () => {
    const card = await ready();
    expect(send(card, h('00FF0000')).sw).toBe(SW.INS_NOT_SUPPORTED);
    expect(send(card, h('80A404000E325041592E5359532E444446303100')).sw).toBe(SW.CLA_NOT_SUPPORTED);
    expect(send(card, h('00A4')).sw).toBe(SW.WRONG_LENGTH);
    expect(send(card, h('00A4040000000E')).sw).toBe(SW.WRONG_LENGTH);
    expect(send(card, h('00B2010000')).sw).toBe(SW.INCORRECT_P1P2);
    expect(send(card, h('00A4000000')).sw).toBe(SW.INCORRECT_P1P2);
    card.powerOff();
    expect(send(card, selectPpseCommand()).sw).toBe(SW.CONDITIONS_NOT_SATISFIED);
  });
  // ISO 7816-4 order of checks: CLA (6E00) before INS (6D00); a missing file (SFI) is 6A82, a
  // missing record in an existing file 6A83; a case-2 Le (not 00) shorter than the answer is 6Cxx.
  const ORDER_TABLE: [string, string, string][] = [
    ['CLA FF, unknown INS', 'FF6A000000', '6E00'],
    ['CLA FF, READ RECORD', 'FFB2010C00', '6E00'],
    ['CLA 84 (secure messaging), unknown INS', '8412000000', '6E00'],
    ['CLA 00, unknown INS', '0012000000', '6D00'],
    ['CLA 80, unknown INS', '8012000000', '6D00'],
    ['CLA 80 with SELECT', '80A404000E325041592E5359532E444446303100', '6E00'],
    ['READ RECORD SFI 3 (no such file)', '00B2011C00', '6A82'],
    ['READ RECORD SFI 30 (no such file)', '00B201F400', '6A82'],
    ['READ RECORD SFI 1 record 3 (file exists)', '00B2030C00', '6A83'],
    ['READ RECORD SFI 2 record 5 (file exists)', '00B2051400', '6A83'],
    ['READ RECORD Le 05, record of 20', '00B2020C05', '6C14'],
    ['READ RECORD Le 13, record of 20', '00B2020C13', '6C14'],
    ['READ RECORD Le 14 (exact)', '00B2020C14', '70125F200F544553542F43415244484F4C4445529000'],
    ['READ RECORD Le 15 (longer)', '00B2020C15', '70125F200F544553542F43415244484F4C4445529000'],
    ['READ RECORD Le 00 (256)', '00B2020C00', '70125F200F544553542F43415244484F4C4445529000'],
    ['READ RECORD without Le', '00B2020C', '70125F200F544553542F43415244484F4C4445529000'],
    ['GET DATA PIN try counter, Le 01', '80CA9F1701', '6C04'],
    ['GET DATA PIN try counter, Le 04', '80CA9F1704', '9F1701039000'],
    ['GET DATA ATC, Le 02', '80CA9F3602', '6C05'],
  ];
  it.each(ORDER_TABLE)('%s: %s -> %s', async (_what, command, response) => {
    const card = await ready({ pinTryLimit: 3 });
    expect(hex(card.process(h(command)))).toBe(response);
  });

  it("6Cxx for a record of 256 bytes is 6C00, and the reader's resend with Le 00 gets it", async () => {
    const card = await ready();
    const full = decodeResponseApdu(card.process(h('00B2021400')));
    expect(full.sw).toBe(SW.OK);
    const n = full.data.length;
    expect(hex(card.process(h('00B2021401')))).toBe(
      `6C${(n & 0xff).toString(16).toUpperCase().padStart(2, '0')}`,
    );
  });

  it('random commands never throw and always end in a status word', async () => {
    const card = await ready();
    const ins = fc.constantFrom(0xa4, 0xa8, 0xb2, 0x88, 0xae, 0x20, 0xca, 0xe2, 0x00, 0xff);
    const cmd = fc
      .tuple(
        fc.constantFrom(0x00, 0x80, 0x84),
        ins,
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 40 }),
      )
      .map(([cla, i, p1, p2, rest]) => new Uint8Array([cla, i, p1, p2, ...rest]));
    fc.assert(
      fc.property(fc.oneof(cmd, fc.uint8Array({ maxLength: 300 })), (bytes) => {
        const out = card.process(bytes);
        expect(out.length).toBeGreaterThanOrEqual(2);
      }),
      { numRuns: 1500 },
    );
  });
});
