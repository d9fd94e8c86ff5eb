/**
 * Issuing a card: the issuer's side produces the personalization data for a new card (a fresh
 * ICC key, its certificate over the card's static data, the AC master key derived from the issuer
 * master key, the PIN for offline verification, optionally a fingerprint template for
 * match-on-card and a knowledge secret, which only the card keeps) and the card's personalization
 * key. A card writer (the phone agent's `card write`, or the simulator) writes it to the card.
 */
import { writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import {
  checkOfflineLimits,
  CURRENCY_NUMERIC,
  encodeKnowledgeSecret,
  encodePersonalizationData,
  iso4217,
  MAX_N12,
  PersonalizationError,
  prepareDemoCard,
  type CardPersonalization,
  type OfflineLimits,
} from '@bluetill/protocol';
import { loadIssuer, type KeyMaterial } from './key-material';

export interface CardIssue {
  readonly pan: string;
  readonly panSequence?: number;
  readonly expiry: string;
  readonly cardholderName: string;
  readonly pin: string;
  /** Fingerprint template (64 signed components) for match-on-card (claim 16); secret, never logged. */
  readonly biometricTemplate?: Int8Array;
  /** Knowledge secret the card checks (claim 17); secret, never logged. */
  readonly knowledgeSecret?: string;
  /** The card's offline limits (card risk management); none: an online-only card. */
  readonly offlineLimits?: OfflineLimits;
}

/**
 * A payment card's offline limits unless the issuer says otherwise: 5 offline approvals in a row
 * before the card asks to go online, 10 before it declines, 100 of its currency between two online
 * approvals.
 */
export const DEFAULT_OFFLINE_LIMITS = { lower: 5, upper: 10, amount: '100' } as const;

/** Refused offline limits, with a message naming the option (never card data). */
export class OfflineLimitsError extends Error {
  readonly code = 'bad_offline_limits';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OfflineLimitsError';
  }
}

/**
 * The offline limits from `card issue`'s options (`--offline-lower N --offline-upper N
 * --offline-amount AMOUNT`, AMOUNT in the card's currency as 100 or 100.00), defaults filled in.
 * Throws OfflineLimitsError when a value is out of range or the upper limit is below the lower.
 */
export function offlineLimitsFrom(
  o: { lower?: number; upper?: number; amount?: string },
  currency: string,
): OfflineLimits {
  const c = iso4217(currency);
  const numeric = CURRENCY_NUMERIC[currency];
  if (!c || numeric === undefined) throw new OfflineLimitsError(`currency ${currency} is not supported`);
  const text = o.amount ?? DEFAULT_OFFLINE_LIMITS.amount;
  const m = new RegExp(`^(\\d{1,12})(?:\\.(\\d{${c.minorDigits}}))?$`).exec(text);
  if (!m || (c.minorDigits === 0 && text.includes('.')))
    throw new OfflineLimitsError(
      `--offline-amount must be an amount in ${currency} such as ${c.minorDigits ? '100.00' : '10000'}`,
    );
  const amountMinor = Number(m[1]) * 10 ** c.minorDigits + Number(m[2] ?? 0);
  if (amountMinor > MAX_N12) throw new OfflineLimitsError('--offline-amount is too large');
  const limits: OfflineLimits = {
    lowerConsecutive: o.lower ?? DEFAULT_OFFLINE_LIMITS.lower,
    upperConsecutive: o.upper ?? DEFAULT_OFFLINE_LIMITS.upper,
    amountMinor,
    currency: numeric,
  };
  // One limit given: the other default moves out of its way (a lower above 10 raises the upper, an upper below 5 the lower).
  if (o.lower !== undefined && o.upper === undefined)
    limits.upperConsecutive = Math.max(limits.upperConsecutive, limits.lowerConsecutive);
  if (o.upper !== undefined && o.lower === undefined)
    limits.lowerConsecutive = Math.min(limits.lowerConsecutive, limits.upperConsecutive);
  try {
    checkOfflineLimits(limits);
  } catch (cause) {
    if (!(cause instanceof PersonalizationError)) throw cause;
    const message = cause.message
      .replace(/^lower consecutive offline limit/, '--offline-lower')
      .replace(/^upper consecutive offline limit/, '--offline-upper');
    throw new OfflineLimitsError(message, { cause });
  }
  return limits;
}

/** The file a card writer takes: secret material (ICC private key, keys, PIN), written 0600. */
export interface PersonalizationFile {
  readonly version: 1;
  readonly cardId: string;
  /** encodePersonalizationData(), base64. */
  readonly personalization: string;
  /** The card's personalization key (authenticates the STORE DATA chain), base64. */
  readonly personalizationKey: string;
}

export function issueCard(
  material: KeyMaterial,
  card: CardIssue,
): { personalization: CardPersonalization; personalizationKey: Uint8Array } {
  return prepareDemoCard(loadIssuer(material.emv), {
    pan: card.pan,
    psn: card.panSequence ?? 1,
    expiry: card.expiry,
    cardholderName: card.cardholderName,
    pin: card.pin,
    acAlgorithm: 'aes',
    ...(card.biometricTemplate !== undefined ? { biometricTemplate: card.biometricTemplate } : {}),
    ...(card.knowledgeSecret !== undefined
      ? { knowledgeSecret: encodeKnowledgeSecret(card.knowledgeSecret) }
      : {}),
    ...(card.offlineLimits !== undefined ? { offlineLimits: card.offlineLimits } : {}),
  });
}

/**
 * A merchant IC card (claims 2, 7, 8): issued like a payment card (its own ICC key and
 * certificate under the CA, DDA-capable), carrying the merchant establishment id in 9F16 inside
 * the record the ICC certificate signs. It takes no PIN from anyone: its offline PIN is random.
 */
export function issueMerchantCard(
  material: KeyMaterial,
  card: { pan: string; panSequence?: number; expiry: string; name: string; merchantId: string },
): { personalization: CardPersonalization; personalizationKey: Uint8Array } {
  return prepareDemoCard(loadIssuer(material.emv), {
    pan: card.pan,
    psn: card.panSequence ?? 1,
    expiry: card.expiry,
    cardholderName: card.name,
    merchantId: card.merchantId,
    pin: String(randomInt(0, 1e8)).padStart(8, '0'),
    acAlgorithm: 'aes',
  });
}

export function writePersonalizationFile(
  path: string,
  cardId: string,
  issued: ReturnType<typeof issueCard>,
): void {
  const file: PersonalizationFile = {
    version: 1,
    cardId,
    personalization: Buffer.from(encodePersonalizationData(issued.personalization)).toString('base64'),
    personalizationKey: Buffer.from(issued.personalizationKey).toString('base64'),
  };
  writeFileSync(path, JSON.stringify(file, null, 2), { mode: 0o600 });
}
