/**
 * The card company's registry as the operator keeps it: merchants and their accounts, terminals
 * and their mutual-TLS certificates, payment cards with their cardholder accounts, merchant IC
 * cards. Every write checks its input (domain/registry-rules.ts), then writes all of it in one
 * transaction or nothing; a refusal is a RegistryError with a code. Card numbers cross this port
 * only as the keyed hash, the encrypted PAN and the masked form (admin/registry.ts prepares them).
 * Implementations: SqliteRegistryAdmin (adapters/sqlite), PostgresRegistryAdmin (adapters/postgres).
 *
 * @example
 *   const admin = await openRegistryAdmin(spec);          // adapters/store-spec.ts
 *   try {
 *     await admin.addMerchant({ id: 'M-0002', name: 'Bakery', currency: 'EUR' });
 *     await admin.addTerminal({ id: 'T-0009', merchantId: 'M-0002' });
 *   } finally {
 *     await admin.close();
 *   }
 */
import { SUPPORTED_CURRENCIES } from '@bluetill/protocol';
import type { CardStatus, MerchantStatus, TerminalStatus } from './backend-store';
import {
  offlineLimitProblem,
  type OfflineLimitSettings,
  type OfflineLimitValues,
} from '../domain/offline-limits';

export type MerchantCardStatus = 'active' | 'blocked';

export type RegistryErrorCode =
  /** A field fails its format or range (named in the message, never a secret's value). */
  | 'invalid'
  /** The id (or card number, or certificate) is registered already. */
  | 'duplicate'
  /** What the operation refers to is not registered. */
  | 'not_found'
  /** It exists but its state forbids the operation (an inactive merchant, a card already so). */
  | 'state';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface NewMerchant {
  readonly id: string;
  /** Name on receipts, 1-40 characters. */
  readonly name: string;
  /** ISO 4217 alphabetic code of its settlement account (one of SUPPORTED_CURRENCIES). */
  readonly currency: string;
  readonly status?: MerchantStatus;
}

export interface NewTerminal {
  readonly id: string;
  /** A registered, active merchant. */
  readonly merchantId: string;
}

/** A payment card as stored: PAN encrypted and hashed, PIN only as a salted verifier. */
export interface CardRecord {
  readonly id: string;
  readonly panHash: string;
  readonly panEnc: Uint8Array;
  readonly panMasked: string;
  readonly panSequence: number;
  readonly expiry: string; // YYMM
  readonly cardholderName: string;
  readonly status: CardStatus;
  readonly pinSalt: Uint8Array;
  readonly pinVerifier: Uint8Array;
  readonly creditLimitMinor: number;
  readonly currency: string;
}

/** A merchant IC card as stored (no PIN, no account of its own); it settles under terminal MC-<id>. */
export interface MerchantCardRecord {
  readonly id: string;
  readonly panHash: string;
  readonly panMasked: string;
  readonly panSequence: number;
  readonly expiry: string;
  readonly merchantId: string;
  readonly status: MerchantCardStatus;
  readonly issuedAt: number;
}

export interface TerminalCertificateRecord {
  readonly fingerprint: string;
  readonly terminalId: string;
  readonly serial: string;
  readonly notAfter: number;
  readonly issuedAt: number;
}

export interface MerchantSummary {
  readonly id: string;
  readonly name: string;
  readonly status: MerchantStatus;
  readonly currency: string;
  readonly terminals: number;
}

export interface TerminalSummary {
  readonly id: string;
  readonly merchantId: string;
  readonly status: TerminalStatus;
  /** Client certificates not revoked (expired ones included). */
  readonly certificates: number;
}

/** A payment card as the operator sees it: the card number masked, never more. */
export interface CardSummary {
  readonly id: string;
  readonly panMasked: string;
  readonly expiry: string;
  readonly cardholderName: string;
  readonly status: CardStatus;
  readonly pinTries: number;
  readonly creditLimitMinor: number;
  readonly currency: string;
  /** The cardholder account's balance (spending is negative). */
  readonly balanceMinor: number;
  /** -1: never paid. */
  readonly lastAtc: number;
}

/** Any card id: a payment card or a merchant card. */
export type RegisteredCard =
  | { readonly kind: 'payment'; readonly id: string; readonly status: CardStatus; readonly pinTries: number }
  | {
      readonly kind: 'merchant';
      readonly id: string;
      readonly status: MerchantCardStatus;
      readonly merchantId: string;
      readonly terminalId: string;
    };

export interface RegistryCounts {
  readonly merchants: number;
  readonly terminals: number;
  readonly cards: number;
  readonly merchantCards: number;
}

/**
 * Runs inside an operation's transaction, after its writes and before its commit: a throw undoes
 * them (the CLI puts a card's personalization file in place here, so the file exists only with
 * its registration).
 */
export type WithinTransaction = () => void | Promise<void>;

/** Whose offline limits: a merchant's (its terminals' default) or one terminal's (overrides its merchant's). */
export type OfflineLimitsTarget = { readonly merchantId: string } | { readonly terminalId: string };

/** A merchant's or a terminal's offline limits: as set at each level and in force. */
export interface OfflineLimitsView {
  readonly merchantId: string;
  /** null for a merchant's view. */
  readonly terminalId: string | null;
  /** The merchant's currency: the amounts' minor units. */
  readonly currency: string;
  readonly merchant: OfflineLimitSettings;
  /** null for a merchant's view. */
  readonly terminal: OfflineLimitSettings | null;
  /** For a terminal: what its till receives; for a merchant: what a terminal without settings receives. */
  readonly effective: OfflineLimitValues;
}

/** One merchant's offline sales forwarded in a period, in one currency. */
export interface OfflineReportTotals {
  readonly merchantId: string;
  readonly currency: string;
  readonly settledCount: number;
  readonly settledMinor: number;
  /** Declined after forwarding: the merchant's loss. */
  readonly lossCount: number;
  readonly lossMinor: number;
}

/** An offline sale the card company did not honour (the merchant's loss) and why. */
export interface OfflineLoss {
  readonly merchantId: string;
  readonly terminalId: string;
  readonly offlineId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly reason: string;
  readonly approvedAt: number;
  readonly forwardedAt: number;
}

export interface OfflineReport {
  readonly fromMs: number;
  readonly toMs: number;
  /** By merchant, then currency. */
  readonly totals: readonly OfflineReportTotals[];
  /** Oldest forwarded first. */
  readonly losses: readonly OfflineLoss[];
}

export interface RegistryAdmin {
  /** The merchant and its settlement account (`acct-<id>`, kind merchant, in its currency). */
  addMerchant(m: NewMerchant): Promise<void>;
  /** An active terminal of an active merchant. */
  addTerminal(t: NewTerminal): Promise<void>;
  /**
   * The card and its cardholder account (`acct-<id>`). Refused as `duplicate` when the id, the
   * account or the card number (by hash) is registered as a payment or a merchant card.
   */
  addCard(c: CardRecord, within?: WithinTransaction): Promise<void>;
  /** The merchant card and its terminal row (MC-<id>) for an existing merchant; same duplicate rule. */
  addMerchantCard(c: MerchantCardRecord, within?: WithinTransaction): Promise<void>;
  /** Sets a payment card's status (the block reason is the status: blocked, lost, stolen); returns the previous one. */
  setCardStatus(cardId: string, status: CardStatus): Promise<CardStatus>;
  setMerchantCardStatus(cardId: string, status: MerchantCardStatus): Promise<MerchantCardStatus>;
  /** The issuer's PIN unlock: wrong tries back to 0; returns how many there were. */
  resetPinTries(cardId: string): Promise<number>;
  /**
   * Records a terminal's mutual-TLS client certificate (the server accepts only recorded ones);
   * with `replace`, revokes the terminal's other certificates in the same transaction.
   */
  recordTerminalCertificate(
    c: TerminalCertificateRecord,
    o?: { readonly replace?: boolean },
  ): Promise<{ readonly revoked: number }>;
  /** Revokes a terminal's unrevoked certificates (all, or the one with `serial`); returns how many. */
  revokeTerminalCertificates(
    terminalId: string,
    o?: { readonly serial?: string; readonly now?: number },
  ): Promise<number>;
  findMerchant(id: string): Promise<MerchantSummary | undefined>;
  findTerminal(id: string): Promise<TerminalSummary | undefined>;
  findCard(id: string): Promise<RegisteredCard | undefined>;
  listMerchants(): Promise<MerchantSummary[]>;
  listTerminals(o?: { readonly merchantId?: string }): Promise<TerminalSummary[]>;
  listCards(o?: { readonly status?: CardStatus }): Promise<CardSummary[]>;
  showCard(id: string): Promise<CardSummary | undefined>;
  counts(): Promise<RegistryCounts>;
  /**
   * Sets offline limits of a merchant or a terminal: a field given as a number sets it, as null
   * clears it (the next level's value applies), left out keeps it. Returns the view after.
   */
  setOfflineLimits(
    target: OfflineLimitsTarget,
    settings: Partial<OfflineLimitSettings>,
  ): Promise<OfflineLimitsView>;
  offlineLimits(target: OfflineLimitsTarget): Promise<OfflineLimitsView>;
  /** Offline sales forwarded in [fromMs, toMs) (of one merchant, or all): settled and lost, with totals. */
  offlineReport(o: {
    readonly fromMs: number;
    readonly toMs: number;
    readonly merchantId?: string;
  }): Promise<OfflineReport>;
  close(): Promise<void>;
}

/* The port's contract on input: every adapter checks a write with these before it opens its transaction. */

const CARD_STATUSES: readonly CardStatus[] = ['active', 'blocked', 'lost', 'stolen'];
const MERCHANT_STATUSES: readonly MerchantStatus[] = ['active', 'inactive'];
const MERCHANT_CARD_STATUSES: readonly MerchantCardStatus[] = ['active', 'blocked'];
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The merchant id a merchant card carries in 9F16 (15 bytes). */
const CARD_MERCHANT_ID = /^[A-Za-z0-9-]{1,15}$/;

const invalid = (message: string) => new RegistryError('invalid', message);
const safeInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER) =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

export function checkId(what: string, id: unknown): void {
  if (typeof id !== 'string' || !ID.test(id))
    throw invalid(`${what} id must be 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit`);
}

function checkCurrency(currency: unknown): void {
  if (typeof currency !== 'string' || !SUPPORTED_CURRENCIES.includes(currency))
    throw invalid(`currency must be one of ${SUPPORTED_CURRENCIES.join(', ')}`);
}

function checkExpiry(expiry: unknown): void {
  if (typeof expiry !== 'string' || !/^\d{2}(0[1-9]|1[0-2])$/.test(expiry))
    throw invalid('expiry must be YYMM with a month 01-12');
}

function checkMasked(masked: unknown): void {
  if (typeof masked !== 'string' || !/^\d{6}\*{2,9}\d{4}$/.test(masked))
    throw invalid('the masked card number must be its first 6 and last 4 digits around asterisks');
}

function checkBytes(what: string, v: unknown, min: number): void {
  if (!(v instanceof Uint8Array) || v.length < min) throw invalid(`${what} must be at least ${min} bytes`);
}

export function checkNewMerchant(m: NewMerchant): void {
  checkId('merchant', m.id);
  if (typeof m.name !== 'string' || m.name.trim().length === 0 || m.name.length > 40)
    throw invalid('the merchant name must be 1 to 40 characters');
  checkCurrency(m.currency);
  if (m.status !== undefined && !MERCHANT_STATUSES.includes(m.status))
    throw invalid(`merchant status must be one of ${MERCHANT_STATUSES.join(', ')}`);
}

export function checkNewTerminal(t: NewTerminal): void {
  checkId('terminal', t.id);
  checkId('merchant', t.merchantId);
}

export function checkCardStatus(status: unknown): asserts status is CardStatus {
  if (!CARD_STATUSES.includes(status as CardStatus))
    throw invalid(`card status must be one of ${CARD_STATUSES.join(', ')}`);
}

export function checkMerchantCardStatus(status: unknown): asserts status is MerchantCardStatus {
  if (!MERCHANT_CARD_STATUSES.includes(status as MerchantCardStatus))
    throw invalid(`merchant card status must be one of ${MERCHANT_CARD_STATUSES.join(', ')}`);
}

export function checkCardRecord(c: CardRecord): void {
  checkId('card', c.id);
  if (typeof c.panHash !== 'string' || c.panHash.length < 16)
    throw invalid('the card number hash is missing');
  checkBytes('the encrypted card number', c.panEnc, 16);
  checkMasked(c.panMasked);
  if (!safeInt(c.panSequence, 0, 99)) throw invalid('the PAN sequence number must be 0 to 99');
  checkExpiry(c.expiry);
  if (
    typeof c.cardholderName !== 'string' ||
    c.cardholderName.trim().length === 0 ||
    c.cardholderName.length > 26
  )
    throw invalid('the cardholder name must be 1 to 26 characters');
  checkCardStatus(c.status);
  checkBytes('the PIN salt', c.pinSalt, 16);
  checkBytes('the PIN verifier', c.pinVerifier, 16);
  if (!safeInt(c.creditLimitMinor, 0))
    throw invalid('the credit limit must be a non-negative integer (minor units)');
  checkCurrency(c.currency);
}

export function checkMerchantCardRecord(c: MerchantCardRecord): void {
  checkId('card', c.id);
  if (typeof c.merchantId !== 'string' || !CARD_MERCHANT_ID.test(c.merchantId))
    throw invalid('merchant id must be 1-15 of A-Z a-z 0-9 - (it goes on the card in 9F16)');
  if (typeof c.panHash !== 'string' || c.panHash.length < 16)
    throw invalid('the card number hash is missing');
  checkMasked(c.panMasked);
  if (!safeInt(c.panSequence, 0, 99)) throw invalid('the PAN sequence number must be 0 to 99');
  checkExpiry(c.expiry);
  checkMerchantCardStatus(c.status);
  if (!safeInt(c.issuedAt, 0)) throw invalid('issuedAt must be unix milliseconds');
}

export function checkTerminalCertificate(c: TerminalCertificateRecord): void {
  checkId('terminal', c.terminalId);
  if (typeof c.fingerprint !== 'string' || !/^[0-9A-Fa-f:]{32,128}$/.test(c.fingerprint))
    throw invalid('the certificate fingerprint must be hex');
  if (typeof c.serial !== 'string' || !/^[0-9A-Fa-f]{1,64}$/.test(c.serial))
    throw invalid('the certificate serial must be 1-64 hex digits');
  if (!safeInt(c.notAfter, 0) || !safeInt(c.issuedAt, 0))
    throw invalid('the certificate times must be unix milliseconds');
}

/** The terminal row a merchant card settles under (its sales list and batch like a till's). */
export const merchantCardTerminalId = (cardId: string): string => `MC-${cardId}`;
/** The account a merchant or a payment card posts to. */
export const accountIdOf = (ownerId: string): string => `acct-${ownerId}`;

/** Checks an offline limits write (the target's id and every value given). */
export function checkOfflineLimits(
  target: OfflineLimitsTarget,
  settings: Partial<OfflineLimitSettings>,
): void {
  if ('terminalId' in target) checkId('terminal', target.terminalId);
  else checkId('merchant', target.merchantId);
  const problem = offlineLimitProblem(settings);
  if (problem) throw invalid(problem);
  if (Object.values(settings).every((v) => v === undefined)) throw invalid('no offline limit given');
}

export function checkReportPeriod(o: { readonly fromMs: number; readonly toMs: number }): void {
  if (!safeInt(o.fromMs, 0) || !safeInt(o.toMs, 0) || o.toMs <= o.fromMs)
    throw invalid('the report period must be two times, the start before the end');
}

/** Settings columns of merchants and terminals (migration 0011), by field. */
export const OFFLINE_LIMIT_COLUMNS = {
  floorLimitMinor: 'offline_floor_limit_minor',
  exposureMinor: 'offline_exposure_minor',
  cardDailyCount: 'offline_card_daily_count',
  cardDailyAmountMinor: 'offline_card_daily_amount_minor',
} as const satisfies Record<keyof OfflineLimitValues, string>;

/** The settings of a row whose offline limit columns are aliased `<prefix>_<field>` (null: not set). */
export function offlineLimitSettingsOf(r: Record<string, unknown>, prefix: string): OfflineLimitSettings {
  const n = (k: keyof OfflineLimitValues) => {
    const v = r[`${prefix}_${k}`];
    return v === null || v === undefined ? null : Number(v);
  };
  return {
    floorLimitMinor: n('floorLimitMinor'),
    exposureMinor: n('exposureMinor'),
    cardDailyCount: n('cardDailyCount'),
    cardDailyAmountMinor: n('cardDailyAmountMinor'),
  };
}
