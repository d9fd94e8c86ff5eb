import type { Receipt } from '@bluetill/protocol';

/** A small receipt for tests (masked PAN only, as every receipt). */
export const SMALL_RECEIPT: Receipt = {
  receiptId: 'R-1',
  merchantId: 'M-0001',
  merchantName: 'Corner Shop',
  terminalId: 'T-0001',
  terminalTxnId: 'T-0001-abc-1',
  maskedPan: '679999******0019',
  items: [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }],
  total: { minor: 700, currency: 'EUR' },
  approvalCode: 'A1B2C3',
  result: 'approved',
  declineReason: '',
  issuedAtMs: Date.UTC(2026, 10, 24, 9, 30, 0),
  kind: 'sale',
  originalTxnId: '',
  atc: 7,
  offline: false,
  lossReason: '',
};
