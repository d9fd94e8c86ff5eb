/**
 * confirmOfflineSale: the card company's answer about an offline sale counts only as its signed
 * receipt says, for this till, offline id, total and ATC; the unsigned state beside it never does.
 * The backend here is a stand-in that answers with receipts signed under a test root (the real
 * listener is exercised in backend/src/app/offline-forward.test.ts and tests/e2e).
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  Receipt,
  issueCertificate,
  rawFromPublicKey,
  signWith,
  type CardData,
  type OfflineReceiptRequest,
  type OfflineReceiptResponse,
  type SignedReceipt,
} from '@bluetill/protocol';
import type { PaymentCard } from '../ports/payment-card';
import type { ShopperBackend } from '../ports/shopper-backend';
import { confirmOfflineSale, type OfflineSaleTicket } from './offline-receipt-flow';
import { PhoneError } from './phone-error';

const root = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const receiptKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const now = Date.UTC(2026, 11, 7, 12);
const certificate = issueCertificate(
  {
    subjectId: 'receipt-1',
    role: 'receipt',
    merchantId: '',
    merchantName: '',
    publicKey: rawFromPublicKey(receiptKey.publicKey),
    notAfterMs: now + 86_400_000,
    issuer: 'card company',
  },
  root.privateKey,
);
const total = { minor: 350, currency: 'EUR' };
const ticket: OfflineSaleTicket = { terminalId: 'T-0001', offlineId: 'OFF-T-0001-7', total, atc: 12 };

function signed(over: Partial<Receipt> = {}): SignedReceipt {
  const bytes = Receipt.encode({
    receiptId: 'R-T-0001-OFF-T-0001-7',
    merchantId: 'M-0001',
    merchantName: 'Corner Shop',
    terminalId: 'T-0001',
    terminalTxnId: 'OFF-T-0001-7',
    maskedPan: '679999*********0019',
    items: [],
    total,
    approvalCode: 'OFF123',
    result: 'approved',
    declineReason: '',
    issuedAtMs: now,
    kind: 'sale',
    originalTxnId: '',
    atc: 12,
    offline: true,
    lossReason: '',
    ...over,
  }).finish();
  return {
    receipt: bytes,
    signature: signWith(receiptKey.privateKey, bytes),
    keyId: 'receipt-1',
    certificate,
  };
}

const UN = Uint8Array.of(1, 2, 3, 4);
function backend(answer: OfflineReceiptResponse, asked: OfflineReceiptRequest[] = []): ShopperBackend {
  const refuse = () => Promise.reject(new Error('not this flow'));
  return {
    challenge: async () => ({
      unpredictableNumber: UN,
      expiresAtMs: now + 60_000,
      pinKeyCertificate: new Uint8Array(),
    }),
    getOfflineReceipt: async (req) => {
      asked.push(req);
      return answer;
    },
    issueCode: refuse,
    payMerchant: refuse,
    getOutcome: refuse,
    close: () => undefined,
  };
}
const card: PaymentCard = {
  read: async (un) => ({ pan: '6799990000000019', signedDynamicData: un }) as unknown as CardData,
  generateAc: () => Promise.reject(new Error('no cryptogram is asked for')),
} as PaymentCard;
const confirm = (answer: OfflineReceiptResponse, t: OfflineSaleTicket = ticket, trustRoot = root.publicKey) =>
  confirmOfflineSale({
    backend: backend(answer),
    card,
    trust: { cardCompanyRoot: trustRoot },
    ticket: t,
    now: () => now,
  });
const answer = (state: string, receipt?: SignedReceipt, declineReason = ''): OfflineReceiptResponse => ({
  state,
  receipt,
  declineReason,
});

describe('confirmOfflineSale', () => {
  it("asks with the card's proof over the backend's UN and the till receipt's ids; a settled receipt is the shopper's", async () => {
    const asked: OfflineReceiptRequest[] = [];
    const out = await confirmOfflineSale({
      backend: backend(answer('settled', signed()), asked),
      card,
      trust: { cardCompanyRoot: root.publicKey },
      ticket,
      now: () => now,
    });
    expect(out).toMatchObject({ kind: 'settled', receipt: { result: 'approved', offline: true } });
    expect(asked).toEqual([
      expect.objectContaining({
        unpredictableNumber: UN,
        terminalId: 'T-0001',
        offlineId: 'OFF-T-0001-7',
        card: expect.objectContaining({ signedDynamicData: UN }),
      }),
    ]);
  });

  it("the merchant's loss with its reason (nothing owed), a refused forward, and not forwarded yet", async () => {
    const loss = signed({
      result: 'declined',
      declineReason: 'offline_merchant_loss',
      lossReason: 'card_blocked',
    });
    expect(await confirm(answer('merchant_loss', loss))).toMatchObject({
      kind: 'merchant_loss',
      lossReason: 'card_blocked',
    });
    const refused = signed({ result: 'declined', declineReason: 'terminal_unknown' });
    expect(await confirm(answer('declined', refused))).toMatchObject({
      kind: 'declined',
      reason: 'terminal_unknown',
    });
    expect(await confirm(answer('not_forwarded'))).toEqual({ kind: 'not_forwarded' });
  });

  it('the signed result decides: an unsigned "settled" beside a signed loss is the loss', async () => {
    const loss = signed({
      result: 'declined',
      declineReason: 'offline_merchant_loss',
      lossReason: 'over_limit',
    });
    expect(await confirm(answer('settled', loss))).toMatchObject({
      kind: 'merchant_loss',
      lossReason: 'over_limit',
    });
  });

  it.each([
    ['another till', { terminalId: 'T-0002' }],
    ['another sale', { terminalTxnId: 'OFF-T-0001-8' }],
    ['another total', { total: { minor: 351, currency: 'EUR' } }],
    ['another currency', { total: { minor: 350, currency: 'USD' } }],
    ['another ATC', { atc: 13 }],
    ['an online sale', { offline: false }],
    ['a refund', { kind: 'refund' }],
  ] as const)('refuses the receipt of %s (receipt_mismatch)', async (_n, over) => {
    await expect(confirm(answer('settled', signed(over)))).rejects.toMatchObject({
      code: 'receipt_mismatch',
    });
  });

  it('refuses a receipt not signed under the card company root, a missing one, and a refused question', async () => {
    await expect(confirm(answer('settled', signed()), ticket, stranger.publicKey)).rejects.toMatchObject({
      code: 'receipt_invalid',
    });
    await expect(confirm(answer('settled'))).rejects.toMatchObject({ code: 'outcome_unknown' });
    const refused = confirm(answer('refused', undefined, 'card_authentication_failed'));
    await expect(refused).rejects.toBeInstanceOf(PhoneError);
    await expect(refused).rejects.toThrow(/card_authentication_failed/);
    await expect(confirm(answer('settled', signed()), { ...ticket, offlineId: '' })).rejects.toMatchObject({
      code: 'protocol',
    });
  });
});
