/**
 * The issuer's side of issuer authentication for an online PIN (pure): the card's account-
 * verification ARQC (amount 0, this UN) checked under its ICC master key, and the answer to it —
 * Issuer Authentication Data, ARPC method 2 ‖ CSU (protocol/src/emv/issuer-authentication.ts) —
 * whose CSU carries the PIN tries left in the one budget, for the card to adopt.
 */
import {
  CARD_AIP,
  CARD_CDOL1_ENTRIES,
  cardAcInput,
  computeCardAc,
  decodeIad,
  deriveCardAcMasterKey,
  equalBytes,
  issuerAuthenticationData,
  splitDolData,
  type AcAlgorithm,
  type CardCounters,
  type CardKeyCache,
  type Cryptogram,
} from '@bluetill/protocol';

/** A verified account-verification ARQC: what the ARPC is computed over, and the PIN Try Counter its CVR carries. */
export interface AuthorizationArqc {
  readonly iccMasterKey: Uint8Array;
  readonly algorithm: AcAlgorithm;
  readonly atc: Uint8Array;
  readonly arqc: Uint8Array;
  /** The card's own PIN Try Counter when it made the ARQC (CVR byte 3, covered by the AC). */
  readonly cardPinTriesLeft: number;
}

export interface AuthorizationArqcInput {
  readonly cryptogram: Cryptogram | undefined;
  readonly pan: string;
  readonly panSequence: number;
  /** The Authorize's UN: the ARQC must cover it (so it is fresh and single-use with it). */
  readonly unpredictableNumber: Uint8Array;
  readonly acMasterKeys: Readonly<Record<AcAlgorithm, Uint8Array>>;
  readonly cardKeys?: CardKeyCache;
}

const ZERO_AMOUNT = new Uint8Array(6);

/**
 * The card's ARQC over amount 0 and this UN, recomputed under its ICC master key; undefined when
 * absent, malformed, over another amount or UN, not an ARQC by its CVR, or not the card's.
 */
export function verifyAuthorizationArqc(i: AuthorizationArqcInput): AuthorizationArqc | undefined {
  const c = i.cryptogram;
  if (!c || c.arqc.length !== 8 || c.cid !== 0x80 || c.atc < 0 || c.atc > 0xffff) return undefined;
  const iad = decodeIad(c.iad);
  const fields = splitDolData(CARD_CDOL1_ENTRIES, c.cdolData);
  if (!iad || !fields || iad.cvr.acType !== 'arqc') return undefined;
  if (
    !equalBytes(fields.get('9F02') ?? new Uint8Array(), ZERO_AMOUNT) ||
    !equalBytes(fields.get('9F37') ?? new Uint8Array(), i.unpredictableNumber)
  )
    return undefined;
  const atc = Uint8Array.of((c.atc >> 8) & 0xff, c.atc & 0xff);
  const imk = i.acMasterKeys[iad.algorithm];
  const mk = i.cardKeys
    ? i.cardKeys.derive(imk, i.pan, i.panSequence, iad.algorithm)
    : deriveCardAcMasterKey(imk, i.pan, i.panSequence, iad.algorithm);
  const expected = computeCardAc({
    iccMasterKey: mk,
    algorithm: iad.algorithm,
    atc,
    data: cardAcInput(c.cdolData, CARD_AIP, atc, c.iad),
  });
  if (!equalBytes(expected, c.arqc)) return undefined;
  return {
    iccMasterKey: mk,
    algorithm: iad.algorithm,
    atc,
    arqc: Uint8Array.from(c.arqc),
    cardPinTriesLeft: iad.cvr.pinTriesLeft,
  };
}

/** The Issuer Authentication Data for the card: ARPC over its ARQC ‖ CSU (PIN tries left in the budget, update PIN Try Counter, approved or not). */
export function issuerAnswer(arqc: AuthorizationArqc, pinTriesLeft: number, approved: boolean): Uint8Array {
  return issuerAuthenticationData({
    ...arqc,
    csu: { pinTriesLeft: Math.max(0, Math.min(15, pinTriesLeft)), approved, updatePinTryCounter: true },
  });
}

/**
 * The card's counters a PIN is judged by: those it signed with this UN (its DDA), with the PIN Try
 * Counter of its verified ARQC (CVR, covered by the AC) when that is lower — an offline PIN tried
 * in between: the later of the two values the card vouched for counts. Without an ARQC, the
 * signed counters as they are.
 */
export function countersAtArqc(
  signed: CardCounters | undefined,
  arqc: Pick<AuthorizationArqc, 'cardPinTriesLeft'> | undefined,
): CardCounters | undefined {
  if (!arqc) return signed;
  return {
    ...signed,
    pinTriesLeft: Math.min(signed?.pinTriesLeft ?? arqc.cardPinTriesLeft, arqc.cardPinTriesLeft),
  };
}

/**
 * How a request answers the card: with its verified ARQC, every answer that judges or refuses a PIN
 * carries Issuer Authentication Data (the tries left in the one budget, approved or not); without
 * one there is nothing the card could authenticate, so nothing is sent.
 */
export function cardAnswerer(
  arqc: AuthorizationArqc | undefined,
): (pinTriesLeft: number, approved: boolean) => Uint8Array | undefined {
  return (left, approved) => (arqc ? issuerAnswer(arqc, left, approved) : undefined);
}
