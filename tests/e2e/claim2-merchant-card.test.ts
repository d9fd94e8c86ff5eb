/**
 * Claims 2, 7, 8 end to end with real parts and no till: the backend (grpc-js + SQLite) with its
 * shopper-facing listener; the phone agent's CLI in its own process with two simulated cards, the
 * shopper's and the merchant's (issued by the card company like payment cards: own ICC key under
 * the CA, DDA, the merchant id 9F16 in the signed record); the admin tool issuing a merchant card
 * and exporting the merchant's transactions.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import {
  createDemoIssuer,
  prepareDemoCard,
  publicKeyFromRaw,
  verifyReceipt,
  type PayMerchantRequest,
  type PayMerchantResponse,
} from '@bluetill/protocol';
import { phoneCardFromFile } from '@bluetill/simulator';
import { GrpcShopperBackend, payMerchantCard, type ShopperBackend } from '@bluetill/phone-agent';
import { readKeysFile } from '@bluetill/backend';
import { startBackendFixture, type BackendFixture } from '../../backend/src/test-support/backend-fixture';
import { issueMerchantCard, writePersonalizationFile } from '../../backend/src/admin/card-issuing';
import { PHONE_SIM_CLI, runCli, type CliRun as Run } from '../support/run-cli';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
const backendCli = join(root, 'backend', 'bin', 'bluetill-backend.mjs');

let f: BackendFixture;
beforeAll(async () => {
  f = await startBackendFixture();
}, 60_000);
afterAll(async () => f?.close());

const phone = (args: readonly string[], pin: string): Promise<Run> =>
  runCli(PHONE_SIM_CLI, args, { env: { BLUETILL_PIN: pin } });

interface PayJson {
  outcome: string;
  reason?: string;
  charged?: string;
  pinTriesLeft?: number;
  terminalTxnId?: string;
  receipt?: {
    result: string;
    merchantName: string;
    terminalId: string;
    terminalTxnId: string;
    maskedPan: string;
    total: { minor: number; currency: string };
    approvalCode: string;
  };
  receiptText?: string;
}

const cardFile = (id: string) => join(f.seed.cardsDir, `${id}.json`);
const SALE = ['--item', 'coffee:Coffee:2:2.80', '--item', 'cake:Cake:1:3.90']; // 9.50

async function pay(
  merchantCardFile: string,
  cardId: string,
  pin: string,
  extra: readonly string[] = SALE,
): Promise<{ run: Run; out: PayJson }> {
  const r = await phone(
    [
      'pay',
      '--merchant-card',
      merchantCardFile,
      '--card-file',
      cardFile(cardId),
      '--trust',
      join(f.dir, 'trust.json'),
      '--backend',
      f.shopperAddress,
      '--yes',
      '--json',
      ...extra,
    ],
    pin,
  );
  return { run: r, out: JSON.parse(r.stdout) as PayJson };
}

const balance = (account: string) => f.backend.store.accountBalance(account);
const postings = () =>
  (f.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;
const root_ = () => publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));

describe('claim 2: the phone pays a merchant card, no till in the loop', () => {
  it(
    'approved: both cards proven over one UN, the merchant credited, the receipt verified on the phone and listed for the merchant',
    { timeout: 60_000 },
    async () => {
      const merchantBefore = balance('acct-M-0001');
      const before = postings();
      const { run: r, out } = await pay(cardFile('mcard-corner'), 'card-alice', '1234');
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(out).toMatchObject({
        outcome: 'approved',
        charged: 'yes',
        receipt: {
          result: 'approved',
          merchantName: 'Corner Shop',
          terminalId: 'MC-mcard-corner',
          maskedPan: '679999*********0019',
          total: { minor: 9_50, currency: 'EUR' },
        },
      });
      expect(out.receiptText).toContain('APPROVED');
      expect(r.stderr).toContain('merchant M-0001'); // shown before the card made its cryptogram
      expect(r.stdout + r.stderr).not.toContain('6799990100000000019');
      expect(r.stdout + r.stderr).not.toContain('6799990900000000012');
      expect(balance('acct-M-0001')).toBe(merchantBefore + 9_50);
      expect(balance('acct-card-alice')).toBe(-9_50);
      expect(postings()).toBe(before + 2);
      expect(f.backend.store.ledgerSum()).toBe(0);

      // The stored receipt is the one the phone got, signed by the settlement server.
      const stored = f.backend.store.findSettlement('MC-mcard-corner', out.receipt!.terminalTxnId)!;
      expect(stored).toMatchObject({ approved: true, merchantId: 'M-0001', amountMinor: 9_50 });
      // Listed for the merchant: the admin tool's export (CSV, masked card numbers only).
      const csvPath = join(f.dir, 'm-0001.csv');
      const exported = await run(process.execPath, [
        backendCli,
        'transactions',
        'export',
        '--dir',
        f.dir,
        '--merchant',
        'M-0001',
        '--out',
        csvPath,
      ]);
      expect(exported.stdout).toMatch(/merchant M-0001: \d+ transaction\(s\)/);
      const csv = readFileSync(csvPath, 'utf8');
      expect(csv.split('\r\n')[0]).toBe(
        'created_at,terminal_id,kind,terminal_txn_id,original_txn_id,result,decline_reason,amount_minor,currency,masked_pan,batch_id',
      );
      expect(csv).toContain(
        `,MC-mcard-corner,sale,${out.receipt!.terminalTxnId},,approved,,950,EUR,679999*********0019,`,
      );
      // No card number in it: neither card's PAN, and no run of 13+ digits in any field but the
      // phone's idempotency key (random hex: 24 characters hold such a run in ~1 % of runs).
      expect(csv).not.toContain('6799990100000000019');
      expect(csv).not.toContain('6799990900000000012');
      const txnIdColumn = 3;
      for (const line of csv.split('\r\n').slice(1).filter(Boolean))
        expect(
          line
            .split(',')
            .filter((_, i) => i !== txnIdColumn)
            .join(','),
          line,
        ).not.toMatch(/\d{13,}/);
    },
  );

  it('a wrong PIN is declined with the tries left; nothing moves', { timeout: 60_000 }, async () => {
    const before = postings();
    const { run: r, out } = await pay(cardFile('mcard-corner'), 'card-chen', '0000');
    expect(r.code).toBe(3);
    expect(out).toMatchObject({
      outcome: 'declined',
      reason: 'pin_incorrect',
      pinTriesLeft: 2,
      charged: 'no',
    });
    expect(postings()).toBe(before);
  });

  it(
    'refuses a blocked merchant card, one of an inactive merchant, an unregistered one and a forged one; nothing moves',
    { timeout: 120_000 },
    async () => {
      const before = postings();
      expect((await pay(cardFile('mcard-blocked'), 'card-chen', '9876')).out).toMatchObject({
        outcome: 'declined',
        reason: 'merchant_card_blocked',
      });
      expect((await pay(cardFile('mcard-closed'), 'card-chen', '9876')).out).toMatchObject({
        outcome: 'declined',
        reason: 'merchant_inactive',
      });

      // Issued by the card company (valid certificates), never registered to a merchant.
      const material = readKeysFile(f.seed.keysPath, f.masterKey);
      const unregistered = join(f.dir, 'mcard-unregistered.json');
      writePersonalizationFile(
        unregistered,
        'mcard-unregistered',
        issueMerchantCard(material, {
          pan: '6799990900000000046',
          expiry: '3012',
          name: 'CORNER SHOP',
          merchantId: 'M-0001',
        }),
      );
      expect((await pay(unregistered, 'card-chen', '9876')).out).toMatchObject({
        outcome: 'declined',
        reason: 'merchant_card_unknown',
      });

      // A forger's card: the registered card's number and merchant id, but keys and certificates from another CA and issuer.
      const forgedPath = join(f.dir, 'mcard-forged.json');
      writePersonalizationFile(
        forgedPath,
        'mcard-forged',
        prepareDemoCard(createDemoIssuer({ identifier: '679999', caIndex: 0x99 }), {
          pan: '6799990900000000012',
          expiry: '3012',
          cardholderName: 'CORNER SHOP',
          pin: '0000',
          merchantId: 'M-0001',
        }),
      );
      expect((await pay(forgedPath, 'card-chen', '9876')).out).toMatchObject({
        outcome: 'declined',
        reason: 'merchant_card_invalid',
      });

      // A payment card presented as the merchant's: it carries no merchant id, the phone stops before anything is sent.
      const notMerchant = await pay(cardFile('card-dana'), 'card-chen', '9876');
      expect(notMerchant.run.code).toBe(4);
      expect(notMerchant.out).toMatchObject({ outcome: 'failed', charged: 'no' });

      expect(postings()).toBe(before);
      expect(f.backend.store.ledgerSum()).toBe(0);
    },
  );

  it(
    'a merchant card issued with the admin tool (card issue --merchant) takes a payment',
    { timeout: 60_000 },
    async () => {
      const out = join(f.dir, 'mcard-new.json');
      const issued = await run(
        process.execPath,
        [
          backendCli,
          'card',
          'issue',
          '--dir',
          f.dir,
          '--id',
          'mcard-new',
          '--merchant',
          'M-0001',
          '--pan',
          '6799990900000000053',
          '--expiry',
          '3106',
          '--name',
          'CORNER SHOP',
          '--out',
          out,
        ],
        {
          env: { ...process.env, BLUETILL_MASTER_KEY: f.masterKey.toBase64() },
        },
      );
      expect(issued.stdout).toContain(
        'merchant card mcard-new (679999*********0053) for merchant M-0001, terminal MC-mcard-new',
      );
      const paid = await pay(out, 'card-chen', '9876', ['--item', 'tea:Tea:1:2.00', '--amount', '2.00']);
      expect(paid.run.code, paid.run.stderr).toBe(0);
      expect(paid.out.receipt).toMatchObject({ terminalId: 'MC-mcard-new', total: { minor: 2_00 } });
      // --amount must be the items' total: a usage error before any card is read.
      const wrongSum = await pay(out, 'card-chen', '9876', ['--item', 'tea:Tea:1:2.00', '--amount', '3.00']);
      expect(wrongSum.run.code).toBe(2);
    },
  );

  it(
    'a retry of the same payment (same idempotency key) returns the first result; nothing moves twice',
    { timeout: 60_000 },
    async () => {
      const inner = new GrpcShopperBackend({
        address: f.shopperAddress,
        backendCa: Buffer.from(f.seed.trust.backendTlsCa!),
      });
      let sent: PayMerchantRequest | undefined;
      let first: PayMerchantResponse | undefined;
      const recording: ShopperBackend = {
        challenge: () => inner.challenge(),
        issueCode: (r) => inner.issueCode(r),
        payMerchant: async (r) => {
          sent = r;
          return (first = await inner.payMerchant(r));
        },
        getOutcome: (r) => inner.getOutcome(r),
        getOfflineReceipt: (r) => inner.getOfflineReceipt(r),
        close: () => inner.close(),
      };
      const outcome = await payMerchantCard({
        backend: recording,
        merchantCard: (await phoneCardFromFile(cardFile('mcard-corner'))).paymentCard,
        card: (await phoneCardFromFile(cardFile('card-dana'))).paymentCard,
        prompt: {
          progress: () => undefined,
          merchant: () => undefined,
          pin: async () => '1111',
          confirm: async () => true,
        },
        trust: { cardCompanyRoot: root_() },
        items: [{ sku: 'bun', name: 'Bun', quantity: 3, unitPriceMinor: 1_10 }],
        total: { minor: 3_30, currency: 'EUR' },
        idempotencyKey: 'retry-test-0001',
      });
      expect(outcome).toMatchObject({ kind: 'approved', replayed: false });
      const before = postings();
      const merchantBefore = balance('acct-M-0001');
      // The answer was lost, say: the phone sends the very same request again.
      const again = await inner.payMerchant(sent!);
      expect(again).toMatchObject({ approved: true, replayed: true });
      expect(again.receipt!.receipt).toEqual(first!.receipt!.receipt);
      expect(verifyReceipt(again.receipt!, root_(), Date.now())).toMatchObject({
        result: 'approved',
        terminalTxnId: 'retry-test-0001',
      });
      expect(postings()).toBe(before);
      expect(balance('acct-M-0001')).toBe(merchantBefore);
      // The same key for another payment is refused outright.
      await expect(
        inner.payMerchant({
          ...sent!,
          amount: { minor: 1, currency: 'EUR' },
          items: [{ sku: 'x', name: 'X', quantity: 1, unitPriceMinor: 1 }],
        }),
      ).rejects.toMatchObject({
        code: 'rejected',
        cause: expect.objectContaining({ code: status.ALREADY_EXISTS }),
      });
      inner.close();
      expect(f.backend.store.ledgerSum()).toBe(0);
    },
  );
});
