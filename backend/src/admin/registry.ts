/**
 * The card company's registry operations (the admin tool and the demo seed use them): accounts,
 * merchants, terminals, cards. PANs are stored encrypted and hashed; PINs only as a keyed, salted
 * verification value.
 */
import { randomBytes } from 'node:crypto';
import { maskPan } from '@bluetill/protocol';
import type { Db } from '../adapters/sqlite/open-database';
import type { KeyStore } from '../ports/key-store';
import type { CardStatus } from '../ports/backend-store';

export function registerMerchant(
  db: Db,
  m: { id: string; name: string; currency: string; status?: 'active' | 'inactive' },
): void {
  db.transaction(() => {
    db.prepare("INSERT INTO accounts (id, kind, currency) VALUES (?, 'merchant', ?)").run(
      `acct-${m.id}`,
      m.currency,
    );
    db.prepare('INSERT INTO merchants (id, name, status, account_id) VALUES (?, ?, ?, ?)').run(
      m.id,
      m.name,
      m.status ?? 'active',
      `acct-${m.id}`,
    );
  })();
}

export function registerTerminal(db: Db, t: { id: string; merchantId: string }): void {
  db.prepare("INSERT INTO terminals (id, merchant_id, status) VALUES (?, ?, 'active')").run(
    t.id,
    t.merchantId,
  );
}

/** Records a terminal's mutual-TLS client certificate (the server accepts only recorded ones). */
export function recordTerminalCertificate(
  db: Db,
  c: { fingerprint: string; terminalId: string; serial: string; notAfter: number },
  now = Date.now(),
): void {
  db.prepare(
    'INSERT INTO terminal_certificates (fingerprint, terminal_id, serial, not_after, issued_at) VALUES (?, ?, ?, ?, ?)',
  ).run(c.fingerprint, c.terminalId, c.serial, c.notAfter, now);
}

/**
 * Revokes a terminal's client certificates (all of them, or the one with this serial); the server
 * refuses them from the next call on. Returns how many were revoked.
 */
export function revokeTerminalCertificates(
  db: Db,
  terminalId: string,
  o: { serial?: string; now?: number } = {},
): number {
  const now = o.now ?? Date.now();
  const r =
    o.serial === undefined
      ? db
          .prepare(
            'UPDATE terminal_certificates SET revoked_at = ? WHERE terminal_id = ? AND revoked_at IS NULL',
          )
          .run(now, terminalId)
      : db
          .prepare(
            'UPDATE terminal_certificates SET revoked_at = ? WHERE terminal_id = ? AND upper(serial) = upper(?) AND revoked_at IS NULL',
          )
          .run(now, terminalId, o.serial);
  return r.changes;
}

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

export function registerCard(db: Db, keys: KeyStore, c: NewCard): void {
  if (!/^\d{12,19}$/.test(c.pan)) throw new Error('PAN must be 12 to 19 digits');
  if (!/^\d{4,12}$/.test(c.pin)) throw new Error('PIN must be 4 to 12 digits');
  const panHash = keys.panHash(c.pan);
  const salt = randomBytes(16);
  db.transaction(() => {
    db.prepare("INSERT INTO accounts (id, kind, currency) VALUES (?, 'cardholder', ?)").run(
      `acct-${c.id}`,
      c.currency,
    );
    db.prepare(
      `INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, pan_sequence, expiry, cardholder_name, status, pin_salt, pin_verifier,
                          credit_limit_minor, currency, account_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      c.id,
      panHash,
      keys.encryptPan(c.pan),
      maskPan(c.pan),
      c.panSequence ?? 1,
      c.expiry,
      c.cardholderName,
      c.status ?? 'active',
      salt,
      keys.pinVerifier(salt, c.pin, panHash),
      c.creditLimitMinor,
      c.currency,
      `acct-${c.id}`,
    );
  })();
}

export function setCardStatus(db: Db, cardId: string, status: CardStatus): void {
  if (db.prepare('UPDATE cards SET status = ? WHERE id = ?').run(status, cardId).changes !== 1)
    throw new Error(`no card ${cardId}`);
}

/** An issuer action: the only way a PIN lock is lifted. */
export function unlockPin(db: Db, cardId: string): void {
  if (db.prepare('UPDATE cards SET pin_tries = 0 WHERE id = ?').run(cardId).changes !== 1)
    throw new Error(`no card ${cardId}`);
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

/** The terminal row a merchant card settles under (its sales list and batch like a till's). */
export const merchantCardTerminalId = (cardId: string): string => `MC-${cardId}`;

/**
 * Registers a merchant IC card (claims 2, 7, 8) to an existing merchant, with its own terminal
 * row; the PAN stored only as a keyed hash and masked.
 */
export function registerMerchantCard(db: Db, keys: KeyStore, c: NewMerchantCard, now = Date.now()): void {
  if (!/^\d{12,19}$/.test(c.pan)) throw new Error('PAN must be 12 to 19 digits');
  if (!/^[A-Za-z0-9-]{1,15}$/.test(c.merchantId))
    throw new Error('merchant id must be 1-15 of A-Z a-z 0-9 - (it goes on the card in 9F16)');
  const terminalId = merchantCardTerminalId(c.id);
  db.transaction(() => {
    const merchant = db.prepare('SELECT id FROM merchants WHERE id = ?').get(c.merchantId);
    if (!merchant) throw new Error(`no merchant ${c.merchantId}`);
    registerTerminal(db, { id: terminalId, merchantId: c.merchantId });
    db.prepare(
      `INSERT INTO merchant_cards (id, pan_hash, pan_masked, pan_sequence, expiry, merchant_id, terminal_id, status, issued_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      c.id,
      keys.panHash(c.pan),
      maskPan(c.pan),
      c.panSequence ?? 1,
      c.expiry,
      c.merchantId,
      terminalId,
      c.status ?? 'active',
      now,
    );
  })();
}

export function setMerchantCardStatus(db: Db, cardId: string, status: 'active' | 'blocked'): void {
  if (db.prepare('UPDATE merchant_cards SET status = ? WHERE id = ?').run(status, cardId).changes !== 1)
    throw new Error(`no merchant card ${cardId}`);
}
