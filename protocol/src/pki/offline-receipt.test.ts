import { describe, expect, it } from 'vitest';
import type { SignedOfflineReceipt } from '../gen/bluetill/v1/ble';
import { OfflineReceipt } from '../gen/bluetill/v1/ble';
import { generateP256, rawFromPublicKey } from './keys';
import { signWith } from './certificate';
import {
  OFFLINE_RECEIPT_STATUS,
  OfflineReceiptError,
  signOfflineReceipt,
  verifyOfflineReceipt,
} from './offline-receipt';

const till = generateP256();
const other = generateP256();
const sale = {
  terminalId: 'T-0001',
  offlineId: 'OFF-T-0001-1',
  merchantName: 'Corner Shop',
  maskedPan: '679999******0019',
  items: [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }],
  total: { minor: 700, currency: 'EUR' },
  atc: 12,
  approvedAtMs: Date.UTC(2026, 11, 7, 12),
};
const tillKey = { terminalId: 'T-0001', publicKey: rawFromPublicKey(till.publicKey) };
const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof OfflineReceiptError ? e.code : 'other';
  }
};

describe('the till-signed offline receipt', () => {
  it('verifies under the till key and says it is to be confirmed by the card company', () => {
    const r = verifyOfflineReceipt(signOfflineReceipt(sale, till.privateKey), tillKey);
    expect(r).toMatchObject({ ...sale, status: OFFLINE_RECEIPT_STATUS });
    expect(r.status).toBe('approved offline, to be confirmed by the card company');
  });

  it('is refused when another key signed it, a byte changed, or it names another terminal', () => {
    expect(code(() => verifyOfflineReceipt(signOfflineReceipt(sale, other.privateKey), tillKey))).toBe(
      'bad_signature',
    );
    const signed = signOfflineReceipt(sale, till.privateKey);
    const altered = OfflineReceipt.encode({
      ...OfflineReceipt.decode(signed.receipt),
      total: { minor: 70, currency: 'EUR' },
    }).finish();
    expect(code(() => verifyOfflineReceipt({ ...signed, receipt: altered }, tillKey))).toBe('bad_signature');
    expect(code(() => verifyOfflineReceipt(signed, { ...tillKey, terminalId: 'T-0002' }))).toBe(
      'wrong_terminal',
    );
  });

  it('is refused when the till key signed the bytes without the offline-receipt label (another message of the key)', () => {
    const receipt = OfflineReceipt.encode({ ...sale, status: OFFLINE_RECEIPT_STATUS }).finish();
    const unlabelled: SignedOfflineReceipt = { receipt, signature: signWith(till.privateKey, receipt) };
    expect(code(() => verifyOfflineReceipt(unlabelled, tillKey))).toBe('bad_signature');
  });
});
