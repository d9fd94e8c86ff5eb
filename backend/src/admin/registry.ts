/**
 * The card company's registry operations the admin tool and the demo seed use, over the
 * RegistryAdmin port (either store): a card's number is checked here and handed to the port only
 * encrypted, hashed and masked; its PIN only as a keyed, salted verification value.
 */
import { randomBytes } from 'node:crypto';
import { maskPan } from '@bluetill/protocol';
import type { KeyStore } from '../ports/key-store';
import type { CardStatus } from '../ports/backend-store';
import {
  RegistryError,
  type CardRecord,
  type MerchantCardRecord,
  type RegistryAdmin,
  type WithinTransaction,
} from '../ports/registry-admin';

export { merchantCardTerminalId } from '../ports/registry-admin';

export interface NewCard {
  readonly id: string;
  readonly pan: string;
  readonly panSequence?: number;
  readonly expiry: string;
  readonly cardholderName: string;
  readonly pin: string;
  readonly creditLimitMinor: number;
  readonly currency: string;
  readonly status?: CardStatus;
  /** Personalized on the card only (claims 16, 17); the backend keeps neither. */
  readonly biometricTemplate?: Int8Array;
  readonly knowledgeSecret?: string;
}

const checkPan = (pan: string) => {
  if (!/^\d{12,19}$/.test(pan)) throw new RegistryError('invalid', 'PAN must be 12 to 19 digits');
};

/** The stored form of a payment card: PAN encrypted and hashed, PIN verifier under a fresh salt. */
export function cardRecord(keys: KeyStore, c: NewCard): CardRecord {
  checkPan(c.pan);
  if (!/^\d{4,12}$/.test(c.pin)) throw new RegistryError('invalid', 'PIN must be 4 to 12 digits');
  const panHash = keys.panHash(c.pan);
  const salt = randomBytes(16);
  return {
    id: c.id,
    panHash,
    panEnc: keys.encryptPan(c.pan),
    panMasked: maskPan(c.pan),
    panSequence: c.panSequence ?? 1,
    expiry: c.expiry,
    cardholderName: c.cardholderName,
    status: c.status ?? 'active',
    pinSalt: salt,
    pinVerifier: keys.pinVerifier(salt, c.pin, panHash),
    creditLimitMinor: c.creditLimitMinor,
    currency: c.currency,
  };
}

/** Registers a payment card with its cardholder account; `within` runs in the same transaction. */
export function registerCard(
  admin: RegistryAdmin,
  keys: KeyStore,
  c: NewCard,
  within?: WithinTransaction,
): Promise<void> {
  return admin.addCard(cardRecord(keys, c), within);
}

export interface NewMerchantCard {
  readonly id: string;
  readonly pan: string;
  readonly panSequence?: number;
  readonly expiry: string;
  /** The merchant establishment id the card carries (9F16) and is registered to. */
  readonly merchantId: string;
  /** Embossed name (the merchant's). */
  readonly name: string;
  readonly status?: 'active' | 'blocked';
}

export function merchantCardRecord(keys: KeyStore, c: NewMerchantCard, now = Date.now()): MerchantCardRecord {
  checkPan(c.pan);
  return {
    id: c.id,
    panHash: keys.panHash(c.pan),
    panMasked: maskPan(c.pan),
    panSequence: c.panSequence ?? 1,
    expiry: c.expiry,
    merchantId: c.merchantId,
    status: c.status ?? 'active',
    issuedAt: now,
  };
}

/**
 * Registers a merchant IC card (claims 2, 7, 8) to an existing merchant, with its own terminal
 * row; the PAN stored only as a keyed hash and masked.
 */
export function registerMerchantCard(
  admin: RegistryAdmin,
  keys: KeyStore,
  c: NewMerchantCard,
  o: { now?: number; within?: WithinTransaction } = {},
): Promise<void> {
  return admin.addMerchantCard(merchantCardRecord(keys, c, o.now), o.within);
}
