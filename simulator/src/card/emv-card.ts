import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import {
  BLUETILL_AID,
  BLUETILL_LABEL,
  CARD_AFL,
  CARD_AIP,
  CARD_CDOL1,
  CARD_CDOL2,
  CARD_DDOL,
  concatBytes,
  CARD_PDOL,
  PPSE_NAME,
  SW,
  cardAcInput,
  cardRecords,
  cdaTransactionDataHash,
  computeCardAc,
  decodeCommandApdu,
  decodePersonalizationData,
  dolDataLength,
  encodeIad,
  encodeResponseApdu,
  encodeTlv,
  macEquals,
  parseDol,
  personalizationMac,
  signCda,
  parsePlaintextPinBlock,
  signDynamicData,
  splitDolData,
  statusOnly,
  swTriesLeft,
  swWrongLe,
  type CardPersonalization,
  type CardCounters,
  type CommandApdu,
  type Cvr,
  type Tlv,
  biometricMatches,
  CVM_CODE,
  CvmDataError,
  DEFAULT_BIOMETRIC_TRY_LIMIT,
  DEFAULT_KNOWLEDGE_TRY_LIMIT,
  parseBiometricVerifyData,
  VERIFY_P2,
  KNOWLEDGE_SECRET_MAX_BYTES,
  KNOWLEDGE_SECRET_MIN_BYTES,
  checkIssuerAuthentication,
  SW_ISSUER_AUTHENTICATION_FAILED,
} from '@bluetill/protocol';
import { timingSafeEqual } from 'node:crypto';
import type { CardApplication } from './card-application';
import {
  firstAcDecision,
  ZERO_OFFLINE_COUNTERS,
  type AcType,
  type OfflineCounters,
} from './card-risk-management';

/** ATR of the simulated card: TS 3B, T0 80, TD1 80, TD2 01 (T=1), TCK 01. */
export const EMV_CARD_ATR = Uint8Array.from([0x3b, 0x80, 0x80, 0x01, 0x01]);

type Selected = 'none' | 'ppse' | 'app';
type PinState = 'not_performed' | 'verified' | 'failed';
/** One cardholder verification method's state in this card session (last attempt wins). */
type CvmState = PinState;

type Persistent = {
  data: CardPersonalization;
  records: Map<string, Uint8Array>;
  iccPrivateKey: KeyObject;
  atc: number;
  pinTriesLeft: number;
  biometricTriesLeft: number;
  knowledgeTriesLeft: number;
  /** Offline approvals since the last online approval, and their sum (card-risk-management.ts). */
  offline: OfflineCounters;
  /**
   * Issuer authentication (EXTERNAL AUTHENTICATE). `issuerWait`: the account-verification ARQC
   * (amount 0) the card answered last and has had no valid ARPC for: while set, offline PIN VERIFY
   * is refused (6985). `issuerPinShare`: the wrong online PINs the issuer's last CSU told of, not in
   * the card's own PIN Try Counter (which the card signs and the issuer adds them to): offline PIN
   * has pinTriesLeft − issuerPinShare tries. Failed issuer authentications are counted, and the
   * last one's failure is in the CVR (byte 1 b1) until one succeeds.
   */
  issuerWait?: { atc: number; arqc: Uint8Array } | undefined;
  issuerPinShare: number;
  issuerAuthenticationFailures: number;
  issuerAuthenticationFailed: boolean;
};

type Volatile = {
  powered: boolean;
  selected: Selected;
  pdolData: Uint8Array | undefined;
  pin: PinState;
  biometric: CvmState;
  knowledge: CvmState;
  dda: boolean;
  acDone: boolean;
  /** After a first GENERATE AC that asked to go online (ARQC): its CDOL1 data and CVR, for the second one (CDOL2). */
  online?: { cdol1Data: Uint8Array; cvr: Cvr } | undefined;
};

type PersoChain = { nextSequence: number; previousMac: Uint8Array; chunks: Uint8Array[] };

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const equal = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);
const ok = (nodes: Tlv[]): Uint8Array => encodeResponseApdu(encodeTlv(nodes), SW.OK);
const EMPTY = new Uint8Array(0);

/**
 * The answer to a case-2 command (no data, Le): 6Cxx when Le is present, not 00 (256) and shorter
 * than the answer, so the reader resends with Le = xx (ISO 7816-4 §5.1.3); otherwise the data.
 */
const caseTwoAnswer = (c: CommandApdu, data: Uint8Array): Uint8Array =>
  c.data.length === 0 && c.le !== undefined && c.le < 256 && c.le < data.length
    ? statusOnly(swWrongLe(data.length))
    : encodeResponseApdu(data, SW.OK);

/** The class bytes this card knows (interindustry 00, proprietary 80); any other is 6E00 before INS is looked at. */
const KNOWN_CLA = new Set([0x00, 0x80]);

/** Which class byte each supported instruction must carry. */
const CLA_OF: Record<number, number> = {
  0xa4: 0x00,
  0xb2: 0x00,
  0x88: 0x00,
  0x82: 0x00,
  0x20: 0x00,
  0xa8: 0x80,
  0xae: 0x80,
  0xca: 0x80,
  0xe2: 0x80,
};

/**
 * A simulated contactless EMV payment card with bluetill's application (BLUETILL_AID).
 * Blank until personalized by an authenticated STORE DATA chain (see protocol's
 * personalization module); then answers SELECT PPSE / AID, GET PROCESSING OPTIONS, READ RECORD,
 * INTERNAL AUTHENTICATE (DDA, its try counters signed with the UN), GENERATE AC (the first: TC, ARQC or AAC
 * by card risk management within the card's offline limits, CDA on request; after an ARQC a second one over
 * CDOL2 gives a TC or an AAC; after an ARQC over amount 0 it waits for its issuer), EXTERNAL
 * AUTHENTICATE (the issuer's ARPC and CSU for that ARQC), VERIFY (P2 80 plaintext offline
 * PIN, P2 90 fingerprint match-on-card, P2 91 knowledge secret; each with its own try counter, the
 * results in the CVR) and GET DATA (9F36, 9F17). Never throws: every bad command gets a status word,
 * checked in ISO 7816-4 order: CLA (6E00), INS (6D00), P1-P2, then Lc/Le; a case-2 command whose Le
 * (not 00) is shorter than the answer gets 6Cxx with the exact length.
 */
export class EmvCard implements CardApplication {
  private persistent: Persistent | undefined;
  private perso: PersoChain = { nextSequence: 0, previousMac: new Uint8Array(8), chunks: [] };
  private v: Volatile = {
    powered: false,
    selected: 'none',
    pdolData: undefined,
    pin: 'not_performed',
    biometric: 'not_performed',
    knowledge: 'not_performed',
    dda: false,
    acDone: false,
  };
  private readonly random: (n: number) => Uint8Array;

  constructor(
    private readonly personalizationKey: Uint8Array,
    options: { random?: (n: number) => Uint8Array } = {},
  ) {
    this.random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
  }

  get personalized(): boolean {
    return this.persistent !== undefined;
  }

  /** Current ATC (number of GENERATE ACs so far, plus the initial value). */
  get atc(): number | undefined {
    return this.persistent?.atc;
  }

  get pinTriesLeft(): number | undefined {
    return this.persistent?.pinTriesLeft;
  }

  /** The ATC of the account-verification ARQC the card waits on the issuer's answer to (undefined: not waiting). */
  get issuerWaitAtc(): number | undefined {
    return this.persistent?.issuerWait?.atc;
  }

  /** Offline PIN tries the card allows now: its own PIN Try Counter less the issuer's share. */
  get offlinePinTriesLeft(): number | undefined {
    const p = this.persistent;
    return p && Math.max(0, p.pinTriesLeft - p.issuerPinShare);
  }

  get issuerAuthenticationFailures(): number | undefined {
    return this.persistent?.issuerAuthenticationFailures;
  }

  get biometricTriesLeft(): number | undefined {
    return this.persistent?.biometricTriesLeft;
  }

  get knowledgeTriesLeft(): number | undefined {
    return this.persistent?.knowledgeTriesLeft;
  }

  /** The persistent offline counters (consecutive offline approvals, their sum in minor units). */
  get offlineCounters(): OfflineCounters | undefined {
    return this.persistent?.offline;
  }

  powerOn(): Uint8Array {
    this.v = {
      powered: true,
      selected: 'none',
      pdolData: undefined,
      pin: 'not_performed',
      biometric: 'not_performed',
      knowledge: 'not_performed',
      dda: false,
      acDone: false,
    };
    this.perso = { nextSequence: 0, previousMac: new Uint8Array(8), chunks: [] };
    return Uint8Array.from(EMV_CARD_ATR);
  }

  powerOff(): void {
    this.v = { ...this.v, powered: false, selected: 'none' };
  }

  process(command: Uint8Array): Uint8Array {
    try {
      return this.dispatch(command);
    } catch {
      // A bug in the card: real cards answer "no precise diagnosis".
      return statusOnly(SW.UNKNOWN);
    }
  }

  private dispatch(bytes: Uint8Array): Uint8Array {
    if (!this.v.powered) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    let c: CommandApdu;
    try {
      c = decodeCommandApdu(bytes);
    } catch {
      return statusOnly(SW.WRONG_LENGTH);
    }
    if (!KNOWN_CLA.has(c.cla)) return statusOnly(SW.CLA_NOT_SUPPORTED);
    const wantCla = CLA_OF[c.ins];
    if (wantCla === undefined) return statusOnly(SW.INS_NOT_SUPPORTED);
    if (c.cla !== wantCla) return statusOnly(SW.CLA_NOT_SUPPORTED);
    switch (c.ins) {
      case 0xa4:
        return this.select(c);
      case 0xa8:
        return this.getProcessingOptions(c);
      case 0xb2:
        return this.readRecord(c);
      case 0x88:
        return this.internalAuthenticate(c);
      case 0x82:
        return this.externalAuthenticate(c);
      case 0xae:
        return this.generateAc(c);
      case 0x20:
        return this.verify(c);
      case 0xca:
        return this.getData(c);
      case 0xe2:
        return this.storeData(c);
      default:
        return statusOnly(SW.INS_NOT_SUPPORTED);
    }
  }

  private resetSelection(selected: Selected): void {
    this.v = {
      ...this.v,
      selected,
      pdolData: undefined,
      pin: 'not_performed',
      biometric: 'not_performed',
      knowledge: 'not_performed',
      dda: false,
      acDone: false,
    };
  }

  private select(c: CommandApdu): Uint8Array {
    if (c.p1 !== 0x04 || (c.p2 !== 0x00 && c.p2 !== 0x02)) return statusOnly(SW.INCORRECT_P1P2);
    if (c.data.length < 1 || c.data.length > 16) return statusOnly(SW.WRONG_LENGTH);
    if (equal(c.data, ascii(PPSE_NAME))) {
      if (c.p2 === 0x02) return statusOnly(SW.FILE_NOT_FOUND);
      this.resetSelection('ppse');
      const entry: Tlv = {
        tag: '61',
        value: EMPTY,
        children: [
          { tag: '4F', value: BLUETILL_AID },
          { tag: '50', value: ascii(BLUETILL_LABEL) },
          { tag: '87', value: Uint8Array.of(1) },
        ],
      };
      const entries = this.persistent ? [entry] : [];
      return ok([
        {
          tag: '6F',
          value: EMPTY,
          children: [
            { tag: '84', value: ascii(PPSE_NAME) },
            { tag: 'A5', value: EMPTY, children: [{ tag: 'BF0C', value: EMPTY, children: entries }] },
          ],
        },
      ]);
    }
    // Partial AID selection: the given name may be a prefix of the AID (ISO 7816-4).
    const matches =
      c.data.length >= 5 &&
      c.data.length <= BLUETILL_AID.length &&
      equal(c.data, BLUETILL_AID.subarray(0, c.data.length));
    if (!matches || c.p2 === 0x02) {
      this.resetSelection('none');
      return statusOnly(SW.FILE_NOT_FOUND);
    }
    // A blank card has a personalization application behind the same AID: SELECT succeeds so
    // that STORE DATA can follow, but the FCI has no PDOL and payment commands are refused.
    this.resetSelection('app');
    return ok([
      {
        tag: '6F',
        value: EMPTY,
        children: [
          { tag: '84', value: BLUETILL_AID },
          {
            tag: 'A5',
            value: EMPTY,
            children: [
              { tag: '50', value: ascii(BLUETILL_LABEL) },
              { tag: '87', value: Uint8Array.of(1) },
              ...(this.persistent ? [{ tag: '9F38', value: CARD_PDOL }] : []),
            ],
          },
        ],
      },
    ]);
  }

  private getProcessingOptions(c: CommandApdu): Uint8Array {
    if (c.p1 !== 0 || c.p2 !== 0) return statusOnly(SW.INCORRECT_P1P2);
    if (this.v.selected !== 'app' || !this.persistent || this.v.pdolData)
      return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    const want = dolDataLength(parseDol(CARD_PDOL));
    const d = c.data;
    if (d.length !== want + 2 || d[0] !== 0x83 || d[1] !== want) return statusOnly(SW.WRONG_LENGTH);
    this.v = { ...this.v, pdolData: d.slice(2) };
    return ok([
      {
        tag: '77',
        value: EMPTY,
        children: [
          { tag: '82', value: CARD_AIP },
          { tag: '94', value: CARD_AFL },
        ],
      },
    ]);
  }

  private readRecord(c: CommandApdu): Uint8Array {
    if ((c.p2 & 0x07) !== 0x04 || c.p1 === 0 || c.p1 === 0xff) return statusOnly(SW.INCORRECT_P1P2);
    if (this.v.selected !== 'app' || !this.persistent) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    const sfi = c.p2 >> 3;
    const rec = this.persistent.records.get(`${sfi}:${c.p1}`);
    if (!rec) {
      const fileExists = [...this.persistent.records.keys()].some((k) => k.startsWith(`${sfi}:`));
      return statusOnly(fileExists ? SW.RECORD_NOT_FOUND : SW.FILE_NOT_FOUND);
    }
    return caseTwoAnswer(c, rec);
  }

  private internalAuthenticate(c: CommandApdu): Uint8Array {
    if (c.p1 !== 0 || c.p2 !== 0) return statusOnly(SW.INCORRECT_P1P2);
    const p = this.persistent;
    if (this.v.selected !== 'app' || !p || !this.v.pdolData) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    if (c.data.length !== dolDataLength(parseDol(CARD_DDOL))) return statusOnly(SW.WRONG_LENGTH);
    // The try counters are signed with the terminal's UN: the issuer knows them at authorization.
    const signature = signDynamicData({
      iccPrivateKey: p.iccPrivateKey,
      iccDynamicNumber: this.random(8),
      terminalData: c.data,
      counters: this.counters(p),
    });
    this.v = { ...this.v, dda: true };
    return ok([{ tag: '77', value: EMPTY, children: [{ tag: '9F4B', value: signature }] }]);
  }

  /** The try counters this card signs in its dynamic data (oda.ts CardCounters): methods it holds only. */
  private counters(p: Persistent): CardCounters {
    return {
      pinTriesLeft: p.pinTriesLeft,
      ...(p.data.biometricTemplate !== undefined ? { biometricTriesLeft: p.biometricTriesLeft } : {}),
      ...(p.data.knowledgeSecret !== undefined ? { knowledgeTriesLeft: p.knowledgeTriesLeft } : {}),
    };
  }

  /** Card CVM results (9F34): the method that passed, else the one that failed, else "no CVM performed". */
  private cvmResults(): Uint8Array {
    const methods: [CvmState, number][] = [
      [this.v.biometric, CVM_CODE.biometricOnCard],
      [this.v.knowledge, CVM_CODE.knowledgeOnCard],
      [this.v.pin, CVM_CODE.plaintextPinByIcc],
    ];
    const passed = methods.find(([s]) => s === 'verified');
    if (passed) return Uint8Array.of(passed[1], 0x00, 0x02);
    const failed = methods.find(([s]) => s === 'failed');
    if (failed) return Uint8Array.of(failed[1], 0x00, 0x01);
    return Uint8Array.of(CVM_CODE.noCvmPerformed, 0x00, 0x00);
  }

  private generateAc(c: CommandApdu): Uint8Array {
    const type = c.p1 & 0xc0;
    if ((c.p1 & 0x2f) !== 0 || type === 0xc0 || c.p2 !== 0) return statusOnly(SW.INCORRECT_P1P2);
    const p = this.persistent;
    const pdolData = this.v.pdolData;
    if (this.v.selected === 'app' && p && pdolData && this.v.acDone && this.v.online)
      return this.secondGenerateAc(c, p, pdolData, this.v.online);
    if (this.v.selected !== 'app' || !p || !pdolData || this.v.acDone)
      return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    if (c.data.length !== dolDataLength(parseDol(CARD_CDOL1))) return statusOnly(SW.WRONG_LENGTH);
    if (p.atc >= 0xffff) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    // Card risk management decides the answer within what was asked (card-risk-management.ts).
    const risk = this.riskDecision(p, type === 0x00 ? 'aac' : type === 0x40 ? 'tc' : 'arqc', c.data);
    const acType: Cvr['acType'] = risk.acType;
    const cda = (c.p1 & 0x10) !== 0 && acType !== 'aac';
    p.atc += 1;
    p.offline = risk.counters;
    this.v = { ...this.v, acDone: true };
    const atc = Uint8Array.of(p.atc >> 8, p.atc & 0xff);
    const cvr: Cvr = {
      acType,
      offlinePinPerformed: this.v.pin !== 'not_performed',
      offlinePinFailed: this.v.pin === 'failed',
      pinTryLimitExceeded: p.pinTriesLeft === 0,
      ddaPerformed: this.v.dda,
      cdaPerformed: cda,
      pinTriesLeft: p.pinTriesLeft,
      biometricPerformed: this.v.biometric !== 'not_performed',
      biometricFailed: this.v.biometric === 'failed',
      biometricTryLimitExceeded: p.data.biometricTemplate !== undefined && p.biometricTriesLeft === 0,
      knowledgePerformed: this.v.knowledge !== 'not_performed',
      knowledgeFailed: this.v.knowledge === 'failed',
      knowledgeTryLimitExceeded: p.data.knowledgeSecret !== undefined && p.knowledgeTriesLeft === 0,
      lowerConsecutiveOfflineLimitExceeded: risk.lowerConsecutiveOfflineLimitExceeded,
      upperConsecutiveOfflineLimitExceeded: risk.upperConsecutiveOfflineLimitExceeded,
      offlineAmountLimitExceeded: risk.offlineAmountLimitExceeded,
      issuerAuthenticationFailed: p.issuerAuthenticationFailed,
    };
    if (acType === 'arqc') this.v = { ...this.v, online: { cdol1Data: Uint8Array.from(c.data), cvr } };
    const iad = encodeIad(p.data.acAlgorithm, cvr);
    const ac = computeCardAc({
      iccMasterKey: p.data.acMasterKey,
      algorithm: p.data.acAlgorithm,
      atc,
      data: cardAcInput(c.data, CARD_AIP, atc, iad),
    });
    // An ARQC over amount 0 is an account verification: the issuer judges the cardholder (online
    // PIN) and the card waits for its answer, across card sessions, before it checks a PIN itself.
    const amount = splitDolData(parseDol(CARD_CDOL1), c.data)?.get('9F02');
    if (acType === 'arqc' && amount !== undefined && amount.every((b) => b === 0))
      p.issuerWait = { atc: p.atc, arqc: Uint8Array.from(ac) };
    const cid = acType === 'arqc' ? 0x80 : acType === 'tc' ? 0x40 : 0x00;
    const objects: Tlv[] = [
      { tag: '9F27', value: Uint8Array.of(cid) },
      { tag: '9F36', value: atc },
      ...(cda ? [] : [{ tag: '9F26', value: ac }]),
      { tag: '9F10', value: iad },
      { tag: '9F34', value: this.cvmResults() },
    ];
    if (cda) {
      const un = splitDolData(parseDol(CARD_CDOL1), c.data)?.get('9F37') ?? new Uint8Array(4);
      const transactionDataHash = cdaTransactionDataHash(pdolData, c.data, encodeTlv(objects));
      objects.push({
        tag: '9F4B',
        value: signCda({
          iccPrivateKey: p.iccPrivateKey,
          iccDynamicNumber: this.random(8),
          cid,
          ac,
          transactionDataHash,
          unpredictableNumber: un,
          counters: this.counters(p),
        }),
      });
    }
    return ok([{ tag: '77', value: EMPTY, children: objects }]);
  }

  /** The first GENERATE AC's answer by card risk management, from the CDOL1 amount and currency. */
  private riskDecision(
    p: Persistent,
    requested: AcType,
    cdol1Data: Uint8Array,
  ): ReturnType<typeof firstAcDecision> {
    const fields = splitDolData(parseDol(CARD_CDOL1), cdol1Data);
    const number = (b: Uint8Array | undefined): number | undefined => {
      const digits = b === undefined ? '' : Buffer.from(b).toString('hex');
      return /^[0-9]+$/.test(digits) ? Number(digits) : undefined;
    };
    const cvmFailed =
      [this.v.pin, this.v.biometric, this.v.knowledge].includes('failed') ||
      p.pinTriesLeft === 0 ||
      (p.data.biometricTemplate !== undefined && p.biometricTriesLeft === 0) ||
      (p.data.knowledgeSecret !== undefined && p.knowledgeTriesLeft === 0);
    return firstAcDecision({
      requested,
      limits: p.data.offlineLimits,
      counters: p.offline,
      amountMinor: number(fields?.get('9F02')),
      currency: number(fields?.get('5F2A')),
      cvmFailed,
    });
  }

  /**
   * An online approval the issuer authenticated (a valid ARPC whose CSU says approved): the offline
   * counters start again (card risk management). The phone's word alone (an ARC of 3030 in the
   * second GENERATE AC) is not enough: a modified phone could otherwise reset them at will.
   */
  private onlineApproved(p: Persistent): void {
    p.offline = ZERO_OFFLINE_COUNTERS;
  }

  /**
   * The second GENERATE AC, after the online answer: P1 40 (TC) or 00 (AAC), data per CDOL2. A TC
   * only when asked for and the authorisation response code is '00' (3030); otherwise an AAC. Same
   * ATC as the ARQC; the AC is MACed over CDOL2 data ‖ AIP ‖ ATC ‖ IAD; with CDA the signature's
   * hash covers PDOL, CDOL1 and CDOL2 data. The transaction is over after it.
   */
  private secondGenerateAc(
    c: CommandApdu,
    p: Persistent,
    pdolData: Uint8Array,
    online: { cdol1Data: Uint8Array; cvr: Cvr },
  ): Uint8Array {
    const type = c.p1 & 0xc0;
    // A second ARQC is not a thing (EMV Book 3 §9.3): the online step has been had.
    if (type === 0x80) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    if (c.data.length !== dolDataLength(parseDol(CARD_CDOL2))) return statusOnly(SW.WRONG_LENGTH);
    const cdol2 = splitDolData(parseDol(CARD_CDOL2), c.data);
    const arc = cdol2?.get('8A');
    const acType: Cvr['acType'] =
      type === 0x40 && arc !== undefined && arc[0] === 0x30 && arc[1] === 0x30 ? 'tc' : 'aac';
    const cda = (c.p1 & 0x10) !== 0 && acType !== 'aac';
    this.v = { ...this.v, online: undefined };
    const atc = Uint8Array.of(p.atc >> 8, p.atc & 0xff);
    const iad = encodeIad(p.data.acAlgorithm, { ...online.cvr, acType, cdaPerformed: cda });
    const ac = computeCardAc({
      iccMasterKey: p.data.acMasterKey,
      algorithm: p.data.acAlgorithm,
      atc,
      data: cardAcInput(c.data, CARD_AIP, atc, iad),
    });
    const cid = acType === 'tc' ? 0x40 : 0x00;
    const objects: Tlv[] = [
      { tag: '9F27', value: Uint8Array.of(cid) },
      { tag: '9F36', value: atc },
      ...(cda ? [] : [{ tag: '9F26', value: ac }]),
      { tag: '9F10', value: iad },
    ];
    if (cda) {
      const un = cdol2?.get('9F37') ?? new Uint8Array(4);
      const transactionDataHash = cdaTransactionDataHash(
        pdolData,
        concatBytes(online.cdol1Data, c.data),
        encodeTlv(objects),
      );
      objects.push({
        tag: '9F4B',
        value: signCda({
          iccPrivateKey: p.iccPrivateKey,
          iccDynamicNumber: this.random(8),
          cid,
          ac,
          transactionDataHash,
          unpredictableNumber: un,
          counters: this.counters(p),
        }),
      });
    }
    return ok([{ tag: '77', value: EMPTY, children: objects }]);
  }

  private verify(c: CommandApdu): Uint8Array {
    if (c.p1 !== 0) return statusOnly(SW.INCORRECT_P1P2);
    const p = this.persistent;
    switch (c.p2) {
      case VERIFY_P2.offlinePin:
        break;
      case VERIFY_P2.biometric:
        return this.verifyBiometric(c);
      case VERIFY_P2.knowledge:
        return this.verifyKnowledge(c);
      default:
        return statusOnly(SW.INCORRECT_P1P2);
    }
    if (this.v.selected !== 'app' || !p) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    if (c.data.length !== 8) return statusOnly(SW.WRONG_LENGTH);
    // Waiting for the issuer's count of the online PINs it judged: no PIN is checked here until then.
    if (p.issuerWait) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    const left = p.pinTriesLeft - p.issuerPinShare;
    if (left <= 0) return statusOnly(SW.AUTHENTICATION_METHOD_BLOCKED);
    const pin = parsePlaintextPinBlock(c.data);
    if (pin === undefined) return statusOnly(SW.WRONG_DATA);
    if (pin === p.data.pin) {
      p.pinTriesLeft = p.data.pinTryLimit;
      this.v = { ...this.v, pin: 'verified' };
      return statusOnly(SW.OK);
    }
    p.pinTriesLeft -= 1;
    this.v = { ...this.v, pin: 'failed' };
    return statusOnly(swTriesLeft(left - 1));
  }

  /**
   * EXTERNAL AUTHENTICATE (00 82 00 00, EMV Book 3 §6.5.4): the issuer's answer to the
   * account-verification ARQC the card waits on, in this card session or a later one (the wait is
   * persistent). A valid ARPC (method 2) over that ARQC with its CSU: the card takes the CSU's PIN
   * Try Counter as the tries left (never more than its own) and stops waiting. Anything else is
   * 6300, counted, and changes nothing else; 6985 when the card waits on nothing.
   */
  private externalAuthenticate(c: CommandApdu): Uint8Array {
    if (c.p1 !== 0 || c.p2 !== 0) return statusOnly(SW.INCORRECT_P1P2);
    const p = this.persistent;
    if (this.v.selected !== 'app' || !p) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    if (c.data.length < 8 || c.data.length > 16) return statusOnly(SW.WRONG_LENGTH);
    const wait = p.issuerWait;
    if (!wait) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    const atc = Uint8Array.of(wait.atc >> 8, wait.atc & 0xff);
    const csu = checkIssuerAuthentication(c.data, {
      iccMasterKey: p.data.acMasterKey,
      algorithm: p.data.acAlgorithm,
      atc,
      arqc: wait.arqc,
    });
    if (!csu) {
      p.issuerAuthenticationFailures += 1;
      p.issuerAuthenticationFailed = true;
      return statusOnly(SW_ISSUER_AUTHENTICATION_FAILED);
    }
    if (csu.updatePinTryCounter) p.issuerPinShare = Math.max(0, p.pinTriesLeft - csu.pinTriesLeft);
    if (csu.approved) this.onlineApproved(p);
    p.issuerWait = undefined;
    p.issuerAuthenticationFailed = false;
    return statusOnly(SW.OK);
  }

  /** VERIFY P2 90: match-on-card of a fingerprint template against DF08 (cosine similarity, threshold). */
  private verifyBiometric(c: CommandApdu): Uint8Array {
    const p = this.persistent;
    if (this.v.selected !== 'app' || !p) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    const enrolled = p.data.biometricTemplate;
    if (!enrolled) return statusOnly(SW.REFERENCED_DATA_NOT_FOUND);
    if (p.biometricTriesLeft === 0) return statusOnly(SW.AUTHENTICATION_METHOD_BLOCKED);
    let presented: Int8Array;
    try {
      presented = parseBiometricVerifyData(c.data);
    } catch (e) {
      if (e instanceof CvmDataError) return statusOnly(SW.WRONG_DATA);
      throw e;
    }
    if (biometricMatches(enrolled, presented)) {
      p.biometricTriesLeft = p.data.biometricTryLimit ?? DEFAULT_BIOMETRIC_TRY_LIMIT;
      this.v = { ...this.v, biometric: 'verified' };
      return statusOnly(SW.OK);
    }
    p.biometricTriesLeft -= 1;
    this.v = { ...this.v, biometric: 'failed' };
    return statusOnly(swTriesLeft(p.biometricTriesLeft));
  }

  /** VERIFY P2 91: the knowledge secret (UTF-8 bytes) against DF09, compared in constant time. */
  private verifyKnowledge(c: CommandApdu): Uint8Array {
    const p = this.persistent;
    if (this.v.selected !== 'app' || !p) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    const secret = p.data.knowledgeSecret;
    if (!secret) return statusOnly(SW.REFERENCED_DATA_NOT_FOUND);
    if (c.data.length < KNOWLEDGE_SECRET_MIN_BYTES || c.data.length > KNOWLEDGE_SECRET_MAX_BYTES)
      return statusOnly(SW.WRONG_LENGTH);
    if (p.knowledgeTriesLeft === 0) return statusOnly(SW.AUTHENTICATION_METHOD_BLOCKED);
    const matched = c.data.length === secret.length && timingSafeEqual(c.data, secret);
    if (matched) {
      p.knowledgeTriesLeft = p.data.knowledgeTryLimit ?? DEFAULT_KNOWLEDGE_TRY_LIMIT;
      this.v = { ...this.v, knowledge: 'verified' };
      return statusOnly(SW.OK);
    }
    p.knowledgeTriesLeft -= 1;
    this.v = { ...this.v, knowledge: 'failed' };
    return statusOnly(swTriesLeft(p.knowledgeTriesLeft));
  }

  private getData(c: CommandApdu): Uint8Array {
    const p = this.persistent;
    if (!p) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    const tag = (c.p1 << 8) | c.p2;
    if (tag === 0x9f36)
      return caseTwoAnswer(c, encodeTlv([{ tag: '9F36', value: Uint8Array.of(p.atc >> 8, p.atc & 0xff) }]));
    if (tag === 0x9f17)
      return caseTwoAnswer(c, encodeTlv([{ tag: '9F17', value: Uint8Array.of(p.pinTriesLeft) }]));
    return statusOnly(SW.REFERENCED_DATA_NOT_FOUND);
  }

  private storeData(c: CommandApdu): Uint8Array {
    if (this.persistent) return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    if (this.v.selected !== 'app') return statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    if ((c.p1 & 0x7f) !== 0) return statusOnly(SW.INCORRECT_P1P2);
    if (c.data.length <= 8) return statusOnly(SW.WRONG_LENGTH);
    const fail = (sw: number): Uint8Array => {
      this.perso = { nextSequence: 0, previousMac: new Uint8Array(8), chunks: [] };
      return statusOnly(sw);
    };
    if (c.p2 !== this.perso.nextSequence) return fail(SW.CONDITIONS_NOT_SATISFIED);
    const chunk = c.data.subarray(0, c.data.length - 8);
    const mac = c.data.subarray(c.data.length - 8);
    const want = personalizationMac(
      this.personalizationKey,
      this.perso.previousMac,
      Uint8Array.of(c.cla, c.ins, c.p1, c.p2),
      chunk,
    );
    if (!macEquals(mac, want)) return fail(SW.SECURITY_STATUS_NOT_SATISFIED);
    this.perso = {
      nextSequence: this.perso.nextSequence + 1,
      previousMac: Uint8Array.from(mac),
      chunks: [...this.perso.chunks, Uint8Array.from(chunk)],
    };
    if ((c.p1 & 0x80) === 0) {
      if (this.perso.nextSequence > 0xff) return fail(SW.NOT_ENOUGH_MEMORY);
      return statusOnly(SW.OK);
    }
    const all = Buffer.concat(this.perso.chunks);
    try {
      const data = decodePersonalizationData(new Uint8Array(all));
      const iccPrivateKey = createPrivateKey({
        key: Buffer.from(data.iccPrivateKey),
        format: 'der',
        type: 'pkcs8',
      });
      this.persistent = {
        data,
        records: cardRecords(data),
        iccPrivateKey,
        atc: data.initialAtc ?? 0,
        pinTriesLeft: data.pinTryLimit,
        biometricTriesLeft: data.biometricTryLimit ?? DEFAULT_BIOMETRIC_TRY_LIMIT,
        knowledgeTriesLeft: data.knowledgeTryLimit ?? DEFAULT_KNOWLEDGE_TRY_LIMIT,
        offline: ZERO_OFFLINE_COUNTERS,
        issuerPinShare: 0,
        issuerAuthenticationFailures: 0,
        issuerAuthenticationFailed: false,
      };
    } catch {
      return fail(SW.WRONG_DATA);
    }
    this.perso = { nextSequence: 0, previousMac: new Uint8Array(8), chunks: [] };
    return statusOnly(SW.OK);
  }
}
