import { CardReadError } from './card-read-error';
import type { CardCertificate, CardPrefix, CardRead, TransactionData } from './card-read-types';
import {
  assertNever,
  buildDolData,
  decodeResponseApdu,
  decodeTlv,
  describeStatusWord,
  findTag,
  findTlv,
  getProcessingOptionsCommand,
  internalAuthenticateCommand,
  parseAfl,
  parseDol,
  readRecordCommand,
  selectCommand,
  selectPpseCommand,
  staticDataToAuthenticate,
  SW,
  type ReadRecord,
  type Tlv,
} from '@bluetill/protocol';
import { transactionValues } from './transaction-values';

/**
 * The payment-card reading flow as a pure state machine (no I/O): `start()` gives the first
 * command APDU, `receive(response)` the next one or the finished CardRead. Transitions:
 *
 *   select_ppse --9000, AID listed--> select_aid --9000--> gpo --9000, AIP+AFL--> read_records
 *   read_records --each AFL record 9000 + '70'--> read_records | internal_authenticate | done
 *   internal_authenticate --9000, 9F4B--> done       (only when the AIP says DDA is supported)
 *
 * Any other status word, or a malformed answer, throws CardReadError; the flow is then over.
 *
 * Read in two parts, so that what needs no unpredictable number is read before the till sends one:
 *   - `until: 'prefix'`: the flow stops after the records, selects the application again (ending
 *     the transaction its GPO started, so that a GPO can be sent again) and finishes with the
 *     CardPrefix (AID, PDOL, AIP, AFL, records) instead of a CardRead;
 *   - `prefix`: the flow starts at GPO with the transaction's UN, and when the card answers with
 *     the same AIP and AFL it takes the prefix's records (else it reads them again), then INTERNAL
 *     AUTHENTICATE over the UN as always.
 */
type State =
  'select_ppse' | 'select_aid' | 'gpo' | 'read_records' | 'reselect_aid' | 'internal_authenticate' | 'done';

export type Step =
  | { kind: 'command'; command: Uint8Array }
  | { kind: 'done'; read: CardRead }
  | { kind: 'prefix'; prefix: CardPrefix };

const AIP_DDA = 0x20;
const DEFAULT_DDOL = Uint8Array.from([0x9f, 0x37, 0x04]);

function parseTlv(data: Uint8Array, what: string): Tlv[] {
  try {
    return decodeTlv(data);
  } catch (cause) {
    throw new CardReadError('malformed_response', `${what}: response is not BER-TLV`, { cause });
  }
}

function expectOk(response: Uint8Array, what: string): Uint8Array {
  let r;
  try {
    r = decodeResponseApdu(response);
  } catch (cause) {
    throw new CardReadError('malformed_response', `${what}: response shorter than a status word`, { cause });
  }
  if (r.sw === SW.FILE_NOT_FOUND && what.startsWith('SELECT')) {
    throw new CardReadError('no_application', `${what}: ${describeStatusWord(r.sw)}`, { sw: r.sw });
  }
  if (r.sw !== SW.OK)
    throw new CardReadError('card_status', `${what}: ${describeStatusWord(r.sw)}`, { sw: r.sw });
  return r.data;
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
const latin1 = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('latin1').trim() : '');
const digits = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase().replace(/F+$/, '');

export class CardReadingFlow {
  private state: State = 'select_ppse';
  private aid: Uint8Array = new Uint8Array(0);
  private label = '';
  private pdol: Uint8Array = new Uint8Array(0);
  private pdolData: Uint8Array = new Uint8Array(0);
  private aip: Uint8Array = new Uint8Array(0);
  private afl: Uint8Array = new Uint8Array(0);
  private queue: { sfi: number; record: number; oda: boolean }[] = [];
  private records: (ReadRecord & { oda: boolean })[] = [];
  private readonly values: Map<string, Uint8Array>;

  /**
   * `preferredAid`: choose this AID from the PPSE when listed (else the highest priority one).
   * `until: 'prefix'`: stop before the UN is needed (see above); `prefix`: continue from one.
   */
  constructor(
    private readonly tx: TransactionData,
    private readonly options: { preferredAid?: Uint8Array; until?: 'prefix'; prefix?: CardPrefix } = {},
  ) {
    this.values = transactionValues(tx);
    if (options.prefix && options.until)
      throw new Error('CardReadingFlow: a prefix flow cannot stop at the prefix');
  }

  get current(): State {
    return this.state;
  }

  start(): Uint8Array {
    if (this.state !== 'select_ppse') throw new Error('CardReadingFlow.start called twice');
    const prefix = this.options.prefix;
    if (!prefix) return selectPpseCommand();
    this.aid = Uint8Array.from(prefix.aid);
    this.label = prefix.label;
    this.pdol = Uint8Array.from(prefix.pdol);
    this.state = 'gpo';
    return this.gpoCommand('CardPrefix');
  }

  receive(response: Uint8Array): Step {
    const state = this.state;
    switch (state) {
      case 'select_ppse':
        return this.onPpse(response);
      case 'select_aid':
        return this.onAid(response);
      case 'gpo':
        return this.onGpo(response);
      case 'read_records':
        return this.onRecord(response);
      case 'reselect_aid':
        return this.onReselect(response);
      case 'internal_authenticate':
        return this.onInternalAuthenticate(response);
      case 'done':
        throw new Error('CardReadingFlow.receive after done');
      default:
        return assertNever(state, 'card reading state');
    }
  }

  private command(next: State, command: Uint8Array): Step {
    this.state = next;
    return { kind: 'command', command };
  }

  private onPpse(response: Uint8Array): Step {
    const nodes = parseTlv(expectOk(response, 'SELECT PPSE'), 'SELECT PPSE');
    const directory = findTlv(nodes, 'BF0C')?.children ?? [];
    const entries = directory
      .filter((n) => n.tag === '61')
      .map((n) => ({
        aid: findTag(n.children ?? [], '4F'),
        priority: (findTag(n.children ?? [], '87')?.[0] ?? 0x0f) & 0x0f,
      }))
      .filter(
        (e): e is { aid: Uint8Array; priority: number } =>
          e.aid !== undefined && e.aid.length >= 5 && e.aid.length <= 16,
      );
    if (entries.length === 0)
      throw new CardReadError('no_application', 'SELECT PPSE: the card lists no payment application');
    const pref = this.options.preferredAid;
    const chosen =
      (pref && entries.find((e) => Buffer.from(e.aid).equals(Buffer.from(pref)))) ??
      [...entries].sort((a, b) => a.priority - b.priority)[0];
    this.aid = Uint8Array.from((chosen as { aid: Uint8Array }).aid);
    return this.command('select_aid', selectCommand(this.aid));
  }

  private onAid(response: Uint8Array): Step {
    const nodes = parseTlv(expectOk(response, 'SELECT AID'), 'SELECT AID');
    if (!findTag(nodes, '6F')) throw new CardReadError('malformed_response', 'SELECT AID: no FCI template');
    this.label = latin1(findTag(nodes, '50'));
    this.pdol = findTag(nodes, '9F38') ?? new Uint8Array(0);
    return this.command('gpo', this.gpoCommand('SELECT AID'));
  }

  private gpoCommand(what: string): Uint8Array {
    try {
      this.pdolData = buildDolData(parseDol(this.pdol), this.values);
    } catch (cause) {
      throw new CardReadError('malformed_response', `${what}: PDOL does not parse`, { cause });
    }
    if (this.pdolData.length > 127)
      throw new CardReadError('malformed_response', `${what}: PDOL asks for too much data`);
    return getProcessingOptionsCommand(this.pdolData);
  }

  private onGpo(response: Uint8Array): Step {
    const nodes = parseTlv(expectOk(response, 'GET PROCESSING OPTIONS'), 'GET PROCESSING OPTIONS');
    const first = nodes[0];
    if (first?.tag === '80' && first.value.length >= 2) {
      this.aip = first.value.slice(0, 2);
      this.afl = first.value.slice(2);
    } else if (first?.tag === '77') {
      this.aip = findTag(first.children ?? [], '82') ?? new Uint8Array(0);
      this.afl = findTag(first.children ?? [], '94') ?? new Uint8Array(0);
    }
    const entries = this.aip.length === 2 ? parseAfl(this.afl) : undefined;
    if (!entries)
      throw new CardReadError(
        'malformed_response',
        'GET PROCESSING OPTIONS: AIP or AFL missing or malformed',
      );
    this.queue = entries.flatMap((e) =>
      Array.from({ length: e.last - e.first + 1 }, (_, i) => ({
        sfi: e.sfi,
        record: e.first + i,
        oda: i < e.odaCount,
      })),
    );
    if (this.queue.length > 64)
      throw new CardReadError('malformed_response', 'GET PROCESSING OPTIONS: AFL names too many records');
    const prefix = this.options.prefix;
    if (
      prefix &&
      equalBytes(prefix.aip, this.aip) &&
      equalBytes(prefix.afl, this.afl) &&
      prefix.records.length === this.queue.length
    ) {
      // The same application data as read before the UN: the records are not read again.
      this.records = prefix.records.map((r) => ({ ...r, data: Uint8Array.from(r.data) }));
      this.queue = [];
    }
    return this.nextRecord();
  }

  private nextRecord(): Step {
    const next = this.queue[0];
    if (next) return this.command('read_records', readRecordCommand(next.sfi, next.record));
    if (this.options.until === 'prefix') return this.command('reselect_aid', selectCommand(this.aid));
    if (((this.aip[0] ?? 0) & AIP_DDA) !== 0) {
      const ddol = this.recordTag('9F49') ?? DEFAULT_DDOL;
      let data: Uint8Array;
      try {
        data = buildDolData(parseDol(ddol), this.values);
      } catch (cause) {
        throw new CardReadError('malformed_response', 'READ RECORD: DDOL does not parse', { cause });
      }
      return this.command('internal_authenticate', internalAuthenticateCommand(data));
    }
    return this.finish(undefined);
  }

  private onRecord(response: Uint8Array): Step {
    const at = this.queue.shift();
    if (!at) throw new Error('record answer without a pending READ RECORD');
    const what = `READ RECORD SFI ${at.sfi} record ${at.record}`;
    const data = expectOk(response, what);
    const nodes = parseTlv(data, what);
    if (nodes.length !== 1 || nodes[0]?.tag !== '70')
      throw new CardReadError('malformed_response', `${what}: not one '70' record template`);
    this.records.push({ sfi: at.sfi, record: at.record, data: Uint8Array.from(data), oda: at.oda });
    return this.nextRecord();
  }

  /** The application selected again: the GPO's transaction is over, a GPO with the till's UN can follow. */
  private onReselect(response: Uint8Array): Step {
    const nodes = parseTlv(expectOk(response, 'SELECT AID'), 'SELECT AID');
    if (!findTag(nodes, '6F')) throw new CardReadError('malformed_response', 'SELECT AID: no FCI template');
    const pdol = findTag(nodes, '9F38') ?? new Uint8Array(0);
    if (!equalBytes(pdol, this.pdol))
      throw new CardReadError('malformed_response', 'SELECT AID: the PDOL changed between two selections');
    this.state = 'done';
    const copy = (b: Uint8Array) => Uint8Array.from(b);
    return {
      kind: 'prefix',
      prefix: {
        aid: copy(this.aid),
        label: this.label,
        pdol: copy(this.pdol),
        aip: copy(this.aip),
        afl: copy(this.afl),
        records: this.records.map((r) => ({ ...r, data: copy(r.data) })),
      },
    };
  }

  private onInternalAuthenticate(response: Uint8Array): Step {
    const nodes = parseTlv(expectOk(response, 'INTERNAL AUTHENTICATE'), 'INTERNAL AUTHENTICATE');
    const first = nodes[0];
    const sdad = first?.tag === '80' ? first.value : findTag(nodes, '9F4B');
    if (!sdad || sdad.length === 0)
      throw new CardReadError('malformed_response', 'INTERNAL AUTHENTICATE: no signed dynamic data');
    return this.finish(sdad);
  }

  private recordTag(tag: string): Uint8Array | undefined {
    for (const r of this.records) {
      const v = findTag(decodeTlv(r.data), tag);
      if (v) return v;
    }
    return undefined;
  }

  private certificate(cert: string, remainder: string, exponent: string): CardCertificate | undefined {
    const c = this.recordTag(cert);
    const e = this.recordTag(exponent);
    if (!c || !e) return undefined;
    return { certificate: c, remainder: this.recordTag(remainder) ?? new Uint8Array(0), exponent: e };
  }

  private finish(signedDynamicData: Uint8Array | undefined): Step {
    const pan = this.recordTag('5A');
    const expiry = this.recordTag('5F24');
    const cdol1 = this.recordTag('8C');
    if (!pan || !expiry || !cdol1)
      throw new CardReadError('missing_data', 'card records lack PAN, expiry or CDOL1');
    const cdol2 = this.recordTag('8D');
    try {
      if (cdol2) parseDol(cdol2);
    } catch (cause) {
      throw new CardReadError('malformed_response', 'CDOL2 does not parse', { cause });
    }
    const panDigits = digits(pan);
    if (!/^[0-9]{12,19}$/.test(panDigits))
      throw new CardReadError('malformed_response', 'PAN is not 12-19 digits');
    const expiryDigits = Buffer.from(expiry).toString('hex');
    if (!/^[0-9]{6}$/.test(expiryDigits))
      throw new CardReadError('malformed_response', 'expiry is not YYMMDD');
    const psnByte = this.recordTag('5F34');
    const psnDigits = psnByte && psnByte.length === 1 ? Buffer.from(psnByte).toString('hex') : undefined;
    const sdaTagList = this.recordTag('9F4A');
    let staticData: Uint8Array;
    try {
      staticData = staticDataToAuthenticate(
        this.records.filter((r) => r.oda).map(({ sfi, record, data }) => ({ sfi, record, data })),
        sdaTagList && sdaTagList.length === 1 && sdaTagList[0] === 0x82 ? this.aip : undefined,
      );
    } catch (cause) {
      throw new CardReadError('malformed_response', 'records for offline data authentication are malformed', {
        cause,
      });
    }
    const caIndex = this.recordTag('8F');
    const read: CardRead = {
      aid: this.aid,
      label: this.label,
      pan: panDigits,
      expiry: expiryDigits,
      cardholderName: latin1(this.recordTag('5F20')),
      psn: psnDigits && /^[0-9]{2}$/.test(psnDigits) ? Number(psnDigits) : undefined,
      track2: this.recordTag('57'),
      aip: this.aip,
      afl: this.afl,
      pdolData: this.pdolData,
      cdol1,
      cdol2,
      ddol: this.recordTag('9F49') ?? DEFAULT_DDOL,
      cvmList: this.recordTag('8E'),
      caPublicKeyIndex: caIndex && caIndex.length === 1 ? caIndex[0] : undefined,
      issuerCertificate: this.certificate('90', '92', '9F32'),
      iccCertificate: this.certificate('9F46', '9F48', '9F47'),
      staticData,
      unpredictableNumber: Uint8Array.from(this.tx.unpredictableNumber),
      signedDynamicData,
      records: this.records.map(({ sfi, record, data }) => ({ sfi, record, data })),
    };
    this.state = 'done';
    return { kind: 'done', read };
  }
}
