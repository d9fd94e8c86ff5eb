/** Signs receipts (sales, refunds, voids) with the settlement server's receipt key. */
import { randomInt } from 'node:crypto';
import { Receipt, encodeProto, type SignedReceipt } from '@bluetill/protocol';
import type { KeyStore } from '../ports/key-store';

/** `atc` left out: 0 (no cryptogram, as on refunds and voids). */
export function signReceipt(
  keys: KeyStore,
  receipt: Omit<Receipt, 'atc' | 'offline' | 'lossReason'> &
    Partial<Pick<Receipt, 'atc' | 'offline' | 'lossReason'>>,
): SignedReceipt {
  const bytes = encodeProto(Receipt, { atc: 0, offline: false, lossReason: '', ...receipt });
  return {
    receipt: bytes,
    signature: keys.receiptKey.signer.sign(bytes),
    keyId: keys.receiptKey.id,
    certificate: keys.receiptKey.certificate,
  };
}

/** Six characters of 0-9 A-Z. */
export function approvalCode(): string {
  return randomInt(0, 36 ** 6)
    .toString(36)
    .toUpperCase()
    .padStart(6, '0');
}
