/** The card reading flow driven over a CardReader port: readCard, generateCryptogram, verifyCardholder. Throws CardReadError. */
import { CardReaderError, type CardReader } from '../../ports/card-reader';
import { CardReadError } from './card-read-error';
import type { CardPrefix, CardRead, Cryptogram, TransactionData } from './card-read-types';
import { CardReadingFlow } from './card-reading-flow';
import {
  buildDolData,
  CvmDataError,
  decodeResponseApdu,
  decodeTlv,
  describeStatusWord,
  encodeBiometricVerifyData,
  encodeKnowledgeSecret,
  encodePlaintextPinBlock,
  encodeTlv,
  externalAuthenticateCommand,
  findTag,
  generateAcCommand,
  getProcessingOptionsCommand,
  parseDol,
  selectCommand,
  SW,
  SW_ISSUER_AUTHENTICATION_FAILED,
  VERIFY_P2,
  verifyCommand,
  type AcType,
  type Tlv,
} from '@bluetill/protocol';
import { transactionValues } from './transaction-values';

async function exchange(reader: CardReader, command: Uint8Array): Promise<Uint8Array> {
  try {
    return await reader.transmit(command);
  } catch (cause) {
    if (cause instanceof CardReaderError && cause.code === 'card_removed') {
      throw new CardReadError('card_removed', 'the card was removed during the exchange', { cause });
    }
    throw new CardReadError('transmit_failed', 'the card reader failed to exchange an APDU', { cause });
  }
}

/**
 * Reads the payment card on `reader` (already powered: call waitForCard first): PPSE, AID, GPO,
 * READ RECORD per AFL, INTERNAL AUTHENTICATE over the transaction's unpredictable number. With
 * `prefix` (from readCardPrefix, in the same card session): GPO and INTERNAL AUTHENTICATE, the
 * records read again only when the card's AIP or AFL differ. Throws CardReadError.
 */
export async function readCard(
  reader: CardReader,
  tx: TransactionData,
  options: { preferredAid?: Uint8Array; prefix?: CardPrefix } = {},
): Promise<CardRead> {
  const flow = new CardReadingFlow(tx, options);
  let command = flow.start();
  for (;;) {
    const step = flow.receive(await exchange(reader, command));
    if (step.kind === 'done') return step.read;
    if (step.kind === 'prefix') throw new Error('CardReadingFlow gave a prefix to readCard');
    command = step.command;
  }
}

/**
 * What the card gives before the till's UN is known (SELECT PPSE, SELECT AID, GPO, READ RECORD,
 * SELECT AID again): `tx` is the GPO's data, its UN a placeholder of the phone's (the transaction
 * that GPO starts is ended by the second SELECT). readCard continues from it. Throws CardReadError.
 */
export async function readCardPrefix(
  reader: CardReader,
  tx: TransactionData,
  options: { preferredAid?: Uint8Array } = {},
): Promise<CardPrefix> {
  const flow = new CardReadingFlow(tx, { ...options, until: 'prefix' });
  let command = flow.start();
  for (;;) {
    const step = flow.receive(await exchange(reader, command));
    if (step.kind === 'prefix') return step.prefix;
    if (step.kind === 'done')
      throw new Error('CardReadingFlow read the whole card when asked for its prefix');
    command = step.command;
  }
}

/**
 * Asks the card (in the same session as readCard) for an application cryptogram over the
 * transaction: GENERATE AC with CDOL1 data built from `tx`. Parses format 1 ('80') and format 2
 * ('77') answers. Throws CardReadError.
 */
export async function generateCryptogram(
  reader: CardReader,
  read: Pick<CardRead, 'cdol1'>,
  tx: TransactionData,
  options: { type?: AcType; cda?: boolean } = {},
): Promise<Cryptogram> {
  let cdolData: Uint8Array;
  try {
    cdolData = buildDolData(parseDol(read.cdol1), transactionValues(tx));
  } catch (cause) {
    if (cause instanceof CardReadError) throw cause;
    throw new CardReadError('malformed_response', 'CDOL1 does not parse', { cause });
  }
  const response = await exchange(
    reader,
    generateAcCommand(options.type ?? 'arqc', cdolData, { cda: options.cda ?? false }),
  );
  let r;
  try {
    r = decodeResponseApdu(response);
  } catch (cause) {
    throw new CardReadError('malformed_response', 'GENERATE AC: response shorter than a status word', {
      cause,
    });
  }
  if (r.sw !== SW.OK)
    throw new CardReadError('card_status', `GENERATE AC: ${describeStatusWord(r.sw)}`, { sw: r.sw });
  let nodes: Tlv[];
  try {
    nodes = decodeTlv(r.data);
  } catch (cause) {
    throw new CardReadError('malformed_response', 'GENERATE AC: response is not BER-TLV', { cause });
  }
  const first = nodes[0];
  if (nodes.length === 1 && first?.tag === '80') {
    const v = first.value;
    if (v.length < 11)
      throw new CardReadError('malformed_response', 'GENERATE AC: format 1 answer too short');
    return {
      cid: v[0] as number,
      atc: v.slice(1, 3),
      arqc: v.slice(3, 11),
      iad: v.slice(11),
      cvmResults: undefined,
      cdaSignature: undefined,
      cdolData,
      responseObjects: encodeTlv([
        { tag: '9F27', value: v.slice(0, 1) },
        { tag: '9F36', value: v.slice(1, 3) },
        { tag: '9F26', value: v.slice(3, 11) },
        { tag: '9F10', value: v.slice(11) },
      ]),
    };
  }
  if (nodes.length !== 1 || first?.tag !== '77')
    throw new CardReadError('malformed_response', 'GENERATE AC: neither format 1 nor format 2');
  const objects = first.children ?? [];
  const cid = findTag(objects, '9F27');
  const atc = findTag(objects, '9F36');
  const arqc = findTag(objects, '9F26');
  const cdaSignature = findTag(objects, '9F4B');
  if (!cid || cid.length !== 1 || !atc || atc.length !== 2)
    throw new CardReadError('malformed_response', 'GENERATE AC: CID or ATC missing');
  if (arqc === undefined && cdaSignature === undefined)
    throw new CardReadError('missing_data', 'GENERATE AC: neither a cryptogram nor a CDA signature');
  if (arqc !== undefined && arqc.length !== 8)
    throw new CardReadError('malformed_response', 'GENERATE AC: cryptogram is not 8 bytes');
  return {
    cid: cid[0] as number,
    atc,
    arqc,
    iad: findTag(objects, '9F10') ?? new Uint8Array(0),
    cvmResults: findTag(objects, '9F34'),
    cdaSignature,
    cdolData,
    responseObjects: encodeTlv(objects.filter((o) => o.tag !== '9F4B')),
  };
}

/** Outcome of an offline plaintext PIN check on the card (claim 10): a value, not an error. */
export type OfflinePinResult =
  | { ok: true }
  | { ok: false; reason: 'pin_incorrect'; triesLeft: number }
  | { ok: false; reason: 'pin_blocked' };

/** VERIFY with a plaintext PIN block (P2 80). Other status words throw CardReadError. */
export async function verifyOfflinePin(reader: CardReader, pin: string): Promise<OfflinePinResult> {
  let block: Uint8Array;
  try {
    block = encodePlaintextPinBlock(pin);
  } catch (cause) {
    throw new CardReadError('bad_input', 'PIN must be 4-12 digits', { cause });
  }
  const r = await verifyOnCard(reader, block, VERIFY_P2.offlinePin);
  if (r.ok) return r;
  if (r.reason === 'not_supported')
    throw new CardReadError('card_status', 'VERIFY: the card has no offline PIN', {
      sw: SW.REFERENCED_DATA_NOT_FOUND,
    });
  return r.reason === 'blocked'
    ? { ok: false, reason: 'pin_blocked' }
    : { ok: false, reason: 'pin_incorrect', triesLeft: r.triesLeft };
}

/**
 * Outcome of a cardholder verification the card performs itself (offline PIN, fingerprint
 * match-on-card, knowledge secret; claims 10, 16, 17): a value, not an error.
 */
export type CardVerificationResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'incorrect'; readonly triesLeft: number }
  /** `lastTry`: this attempt was checked, wrong, and used the last try (63C0); absent when the card was blocked already (6983). */
  | { readonly ok: false; readonly reason: 'blocked'; readonly lastTry?: true }
  | { readonly ok: false; readonly reason: 'not_supported' };

/** What the phone hands the card to check. Never logged. */
export type CardVerification =
  | { readonly method: 'offline_pin'; readonly pin: string }
  | { readonly method: 'biometric'; readonly template: Int8Array }
  | { readonly method: 'knowledge'; readonly secret: string };

/** VERIFY P2 80 / 90 / 91 (see protocol's cvm.ts). Status words other than the documented ones throw CardReadError. */
export async function verifyCardholder(
  reader: CardReader,
  v: CardVerification,
): Promise<CardVerificationResult> {
  let data: Uint8Array;
  let p2: number;
  try {
    switch (v.method) {
      case 'offline_pin':
        data = encodePlaintextPinBlock(v.pin);
        p2 = VERIFY_P2.offlinePin;
        break;
      case 'biometric':
        data = encodeBiometricVerifyData(v.template);
        p2 = VERIFY_P2.biometric;
        break;
      case 'knowledge':
        data = encodeKnowledgeSecret(v.secret);
        p2 = VERIFY_P2.knowledge;
        break;
    }
  } catch (cause) {
    const what = cause instanceof CvmDataError ? cause.message : 'PIN must be 4-12 digits';
    throw new CardReadError('bad_input', what, { cause });
  }
  return verifyOnCard(reader, data, p2);
}

async function verifyOnCard(
  reader: CardReader,
  data: Uint8Array,
  p2: number,
): Promise<CardVerificationResult> {
  const response = await exchange(reader, verifyCommand(data, p2));
  if (response.length < 2)
    throw new CardReadError('malformed_response', 'VERIFY: response shorter than a status word');
  const { sw } = decodeResponseApdu(response);
  if (sw === SW.OK) return { ok: true };
  if ((sw & 0xfff0) === 0x63c0)
    return (sw & 0x0f) === 0
      ? { ok: false, reason: 'blocked', lastTry: true }
      : { ok: false, reason: 'incorrect', triesLeft: sw & 0x0f };
  if (sw === SW.AUTHENTICATION_METHOD_BLOCKED) return { ok: false, reason: 'blocked' };
  if (sw === SW.REFERENCED_DATA_NOT_FOUND) return { ok: false, reason: 'not_supported' };
  throw new CardReadError('card_status', `VERIFY: ${describeStatusWord(sw)}`, { sw });
}

/**
 * What the card did with its issuer's answer (EXTERNAL AUTHENTICATE): took it (9000), found it
 * not genuine (6300, counted by the card), or waits on no answer (6985). A value, not an error.
 */
export type IssuerAuthenticationResult = 'accepted' | 'refused' | 'not_waiting';

/** EXTERNAL AUTHENTICATE with the Issuer Authentication Data, the application selected. Other status words throw CardReadError. */
export async function externalAuthenticate(
  reader: CardReader,
  issuerAuthenticationData: Uint8Array,
): Promise<IssuerAuthenticationResult> {
  const response = await exchange(reader, externalAuthenticateCommand(issuerAuthenticationData));
  if (response.length < 2)
    throw new CardReadError(
      'malformed_response',
      'EXTERNAL AUTHENTICATE: response shorter than a status word',
    );
  const { sw } = decodeResponseApdu(response);
  if (sw === SW.OK) return 'accepted';
  if (sw === SW_ISSUER_AUTHENTICATION_FAILED) return 'refused';
  if (sw === SW.CONDITIONS_NOT_SATISFIED) return 'not_waiting';
  throw new CardReadError('card_status', `EXTERNAL AUTHENTICATE: ${describeStatusWord(sw)}`, { sw });
}

/** A new transaction with the card already read: SELECT AID and GET PROCESSING OPTIONS again (the PDOL data as before). */
export async function restartTransaction(
  reader: CardReader,
  read: Pick<CardRead, 'aid' | 'pdolData'>,
): Promise<void> {
  for (const [what, command] of [
    ['SELECT AID', selectCommand(read.aid)],
    ['GET PROCESSING OPTIONS', getProcessingOptionsCommand(read.pdolData)],
  ] as const) {
    const response = await exchange(reader, command);
    if (response.length < 2)
      throw new CardReadError('malformed_response', `${what}: response shorter than a status word`);
    const { sw } = decodeResponseApdu(response);
    if (sw !== SW.OK) throw new CardReadError('card_status', `${what}: ${describeStatusWord(sw)}`, { sw });
  }
}
