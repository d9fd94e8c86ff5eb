/**
 * The simulated card's risk management over real APDUs: offline approvals (TC, with CDA) within
 * its personalized limits, counters kept across card sessions, ARQC beyond the lower consecutive
 * limit or the amount limit, AAC beyond the upper one, and an online approval starting them again.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { EmvCard } from './emv-card';
import {
  BLUETILL_AID,
  buildDolData,
  cardAcInput,
  CARD_AIP,
  cardCdol1,
  cardCdol2,
  cardPdol,
  cardStaticData,
  cdaTransactionDataHash,
  computeCardAc,
  createDemoIssuer,
  decodeIad,
  externalAuthenticateCommand,
  issuerAuthenticationData,
  decodeResponseApdu,
  decodeTlv,
  deriveCardAcMasterKey,
  encodePlaintextPinBlock,
  encodeTlv,
  findTag,
  generateAcCommand,
  getProcessingOptionsCommand,
  readRecordCommand,
  recoverIccPublicKey,
  recoverIssuerPublicKey,
  selectCommand,
  SW,
  verifyCda,
  verifyCommand,
  type DemoIssuer,
  type OfflineLimits,
  type Tlv,
} from '@bluetill/protocol';
import { issueSimulatedCard } from './issue-card';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

let issuer: DemoIssuer;
beforeAll(() => {
  issuer = createDemoIssuer();
});

const CARD = {
  pan: '9990010000000025',
  psn: 1,
  expiry: '3012',
  cardholderName: 'OFFLINE/SHOPPER',
  pin: '1234',
};
const UN = h('11223344');
const amount = (minor: number): Uint8Array => h(String(minor).padStart(12, '0'));
const pdolData = (minor = 1250): Uint8Array =>
  buildDolData(cardPdol(), { '9F02': amount(minor), '5F2A': h('0978'), '9F37': UN, '9F1A': h('0276') });
const cdolData = (minor = 1250, currency = '0978'): Uint8Array =>
  buildDolData(cardCdol1(), {
    '9F02': amount(minor),
    '9F1A': h('0276'),
    '5F2A': h(currency),
    '9A': h('261207'),
    '9C': h('00'),
    '9F37': UN,
    '9F34': h('010002'),
  });

function send(card: EmvCard, command: Uint8Array): { sw: number; nodes: Tlv[] } {
  const r = decodeResponseApdu(card.process(command));
  return { sw: r.sw, nodes: r.sw === SW.OK ? decodeTlv(r.data) : [] };
}

/** A new card session (power on, SELECT, GPO) on the same card: its persistent state stays. */
function session(card: EmvCard, minor = 1250): void {
  card.powerOn();
  expect(send(card, selectCommand(BLUETILL_AID)).sw).toBe(SW.OK);
  expect(send(card, getProcessingOptionsCommand(pdolData(minor))).sw).toBe(SW.OK);
}

async function issued(offlineLimits: OfflineLimits | undefined): Promise<EmvCard> {
  const { card } = await issueSimulatedCard(issuer, { ...CARD, ...(offlineLimits ? { offlineLimits } : {}) });
  return card;
}

/** One payment asking for a TC (as a till offline does): the CID and the CVR the card MACed. */
function askTc(
  card: EmvCard,
  minor = 1250,
  currency = '0978',
): { cid: string; cvr: NonNullable<ReturnType<typeof decodeIad>>['cvr'] } {
  session(card, minor);
  const r = send(card, generateAcCommand('tc', cdolData(minor, currency)));
  expect(r.sw).toBe(SW.OK);
  return {
    cid: hex(findTag(r.nodes, '9F27') ?? h('')),
    cvr: decodeIad(findTag(r.nodes, '9F10') ?? h(''))!.cvr,
  };
}

const EUR_LIMITS: OfflineLimits = {
  lowerConsecutive: 2,
  upperConsecutive: 3,
  amountMinor: 10_000,
  currency: 978,
};

describe('EmvCard: card risk management at the first GENERATE AC', () => {
  it('a TC within the limits, with CDA: CID 40, CVR "TC", the signature over the TC, amount and UN verifies and carries the AC', async () => {
    const card = await issued(EUR_LIMITS);
    session(card);
    const r = send(card, generateAcCommand('tc', cdolData(), { cda: true }));
    expect(r.sw).toBe(SW.OK);
    expect(hex(findTag(r.nodes, '9F27') ?? h(''))).toBe('40');
    expect(findTag(r.nodes, '9F26')).toBeUndefined();
    const iad = findTag(r.nodes, '9F10') ?? h('');
    expect(decodeIad(iad)?.cvr).toMatchObject({
      acType: 'tc',
      cdaPerformed: true,
      lowerConsecutiveOfflineLimitExceeded: false,
    });
    const objects = (r.nodes[0]?.children ?? []).filter((n) => n.tag !== '9F4B');
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
    const signature = findTag(r.nodes, '9F4B') ?? h('');
    const { ac } = verifyCda({
      iccPublicKey: iccKey.publicKey,
      signedDynamicData: signature,
      unpredictableNumber: UN,
      cid: 0x40,
      transactionDataHash: cdaTransactionDataHash(pdolData(), cdolData(), encodeTlv(objects)),
    });
    const atc = findTag(r.nodes, '9F36') ?? h('');
    const mk = deriveCardAcMasterKey(issuer.acMasterKeys.aes, CARD.pan, CARD.psn, 'aes');
    expect(hex(ac)).toBe(
      hex(
        computeCardAc({
          iccMasterKey: mk,
          algorithm: 'aes',
          atc,
          data: cardAcInput(cdolData(), CARD_AIP, atc, iad),
        }),
      ),
    );
    // Another amount in the hash: the signature does not verify.
    expect(() =>
      verifyCda({
        iccPublicKey: iccKey.publicKey,
        signedDynamicData: signature,
        unpredictableNumber: UN,
        cid: 0x40,
        transactionDataHash: cdaTransactionDataHash(pdolData(), cdolData(1251), encodeTlv(objects)),
      }),
    ).toThrow();
    expect(card.offlineCounters).toEqual({ consecutive: 1, cumulativeMinor: 1250 });
  });

  it('the consecutive counter persists across card sessions: TC, TC, then ARQC (lower limit), ATC moving on each', async () => {
    const card = await issued(EUR_LIMITS);
    const atc0 = card.atc!;
    expect(askTc(card).cid).toBe('40');
    expect(askTc(card).cid).toBe('40');
    const third = askTc(card);
    expect(third.cid).toBe('80');
    expect(third.cvr).toMatchObject({
      acType: 'arqc',
      lowerConsecutiveOfflineLimitExceeded: true,
      upperConsecutiveOfflineLimitExceeded: false,
    });
    expect(card.offlineCounters).toEqual({ consecutive: 2, cumulativeMinor: 2500 });
    expect(card.atc).toBe(atc0 + 3);
  });

  it('beyond the upper consecutive limit: AAC, both CVR bits', async () => {
    const card = await issued({
      lowerConsecutive: 0,
      upperConsecutive: 0,
      amountMinor: 10_000,
      currency: 978,
    });
    const r = askTc(card);
    expect(r.cid).toBe('00');
    expect(r.cvr).toMatchObject({
      acType: 'aac',
      lowerConsecutiveOfflineLimitExceeded: true,
      upperConsecutiveOfflineLimitExceeded: true,
    });
    expect(card.offlineCounters).toEqual({ consecutive: 0, cumulativeMinor: 0 });
  });

  it('the cumulative offline amount: 12.50 then 7.50 fit 20.00; 0.01 more asks to go online; another currency too', async () => {
    const card = await issued({ lowerConsecutive: 9, upperConsecutive: 9, amountMinor: 2000, currency: 978 });
    expect(askTc(card, 1250).cid).toBe('40');
    expect(askTc(card, 750).cid).toBe('40');
    const over = askTc(card, 1);
    expect(over.cid).toBe('80');
    expect(over.cvr.offlineAmountLimitExceeded).toBe(true);
    const fresh = await issued({
      lowerConsecutive: 9,
      upperConsecutive: 9,
      amountMinor: 2000,
      currency: 978,
    });
    expect(askTc(fresh, 100, '0840')).toMatchObject({ cid: '80', cvr: { offlineAmountLimitExceeded: true } });
  });

  it('a wrong offline PIN in the session: a TC request goes online (ARQC)', async () => {
    const card = await issued(EUR_LIMITS);
    session(card);
    expect(send(card, verifyCommand(encodePlaintextPinBlock('9999'))).sw & 0xfff0).toBe(0x63c0);
    const r = send(card, generateAcCommand('tc', cdolData()));
    expect(hex(findTag(r.nodes, '9F27') ?? h(''))).toBe('80');
    expect(card.offlineCounters).toEqual({ consecutive: 0, cumulativeMinor: 0 });
  });

  it("only an online approval the issuer authenticated starts the counters again: not an ARC of 3030 on the phone's word, not a declined answer", async () => {
    const card = await issued(EUR_LIMITS);
    askTc(card);
    askTc(card);
    const cdol2 = (arc: string): Uint8Array =>
      buildDolData(cardCdol2(), { '8A': h(arc), '95': h('0000000000'), '9F37': UN });
    // A second GENERATE AC with ARC 3030 (approved), with no issuer authentication: a TC, but the counters stay.
    session(card);
    expect(hex(findTag(send(card, generateAcCommand('arqc', cdolData())).nodes, '9F27') ?? h(''))).toBe('80');
    expect(hex(findTag(send(card, generateAcCommand('tc', cdol2('3030'))).nodes, '9F27') ?? h(''))).toBe(
      '40',
    );
    expect(card.offlineCounters).toEqual({ consecutive: 2, cumulativeMinor: 2500 });
    // The issuer's authenticated answer to an account-verification ARQC: declined leaves them, approved starts them again.
    const verification = (): { atc: Uint8Array; arqc: Uint8Array } => {
      session(card);
      const r = send(card, generateAcCommand('arqc', cdolData(0)));
      expect(r.sw).toBe(SW.OK);
      return { atc: findTag(r.nodes, '9F36') ?? h(''), arqc: findTag(r.nodes, '9F26') ?? h('') };
    };
    const answer = (ac: { atc: Uint8Array; arqc: Uint8Array }, approved: boolean): Uint8Array =>
      issuerAuthenticationData({
        iccMasterKey: deriveCardAcMasterKey(issuer.acMasterKeys.aes, CARD.pan, CARD.psn, 'aes'),
        algorithm: 'aes',
        ...ac,
        csu: { pinTriesLeft: 3, approved, updatePinTryCounter: false },
      });
    const declined = verification();
    expect(send(card, externalAuthenticateCommand(answer(declined, false))).sw).toBe(SW.OK);
    expect(card.offlineCounters).toEqual({ consecutive: 2, cumulativeMinor: 2500 });
    const approved = verification();
    const forged = answer(approved, true);
    forged[0]! ^= 1;
    expect(send(card, externalAuthenticateCommand(forged)).sw).not.toBe(SW.OK);
    expect(card.offlineCounters).toEqual({ consecutive: 2, cumulativeMinor: 2500 });
    expect(send(card, externalAuthenticateCommand(answer(approved, true))).sw).toBe(SW.OK);
    expect(card.offlineCounters).toEqual({ consecutive: 0, cumulativeMinor: 0 });
    expect(askTc(card).cid).toBe('40');
  });

  it('a card without offline limits stays online-only', async () => {
    const card = await issued(undefined);
    expect(askTc(card)).toMatchObject({
      cid: '80',
      cvr: { acType: 'arqc', lowerConsecutiveOfflineLimitExceeded: false },
    });
  });
});
