import { CardReadError } from './card-read-error';
import type { TransactionData } from './card-read-types';

const bcd = (digits: string): Uint8Array => new Uint8Array(Buffer.from(digits, 'hex'));

/**
 * The terminal-side data objects a card may ask for in its PDOL, CDOL1 or DDOL, from the
 * transaction: amount 9F02 (n12), other amount 9F03, currency 5F2A, country 9F1A, UN 9F37, date
 * 9A (YYMMDD, UTC), type 9C, TVR 95 (zeros), terminal CVM results 9F34 ("no CVM performed",
 * the card reports its own), TTQ 9F66 (zeros). Throws CardReadError('bad_input').
 */
export function transactionValues(tx: TransactionData): Map<string, Uint8Array> {
  if (tx.amount < 0n || tx.amount > 999_999_999_999n)
    throw new CardReadError('bad_input', 'amount out of range for n12');
  if (!Number.isInteger(tx.currency) || tx.currency < 0 || tx.currency > 999)
    throw new CardReadError('bad_input', 'currency must be an ISO 4217 numeric code');
  if (!Number.isInteger(tx.country) || tx.country < 0 || tx.country > 999)
    throw new CardReadError('bad_input', 'country must be an ISO 3166 numeric code');
  if (tx.unpredictableNumber.length !== 4)
    throw new CardReadError('bad_input', 'unpredictable number must be 4 bytes');
  const type = tx.type ?? 0;
  if (!Number.isInteger(type) || type < 0 || type > 99)
    throw new CardReadError('bad_input', 'transaction type must be 0..99');
  const d = tx.date;
  const yymmdd = `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return new Map<string, Uint8Array>([
    ['9F02', bcd(tx.amount.toString().padStart(12, '0'))],
    ['9F03', new Uint8Array(6)],
    ['5F2A', bcd(String(tx.currency).padStart(4, '0'))],
    ['9F1A', bcd(String(tx.country).padStart(4, '0'))],
    ['9F37', Uint8Array.from(tx.unpredictableNumber)],
    ['9A', bcd(yymmdd)],
    ['9C', bcd(String(type).padStart(2, '0'))],
    ['95', new Uint8Array(5)],
    ['9F34', Uint8Array.of(0x3f, 0x00, 0x00)],
    ['9F66', new Uint8Array(4)],
  ]);
}
