/**
 * Claims 1, 5, 6 end to end with real parts: the backend (grpc-js + SQLite) with its
 * shopper-facing listener (server-authenticated TLS), the phone agent's CLI in its own process
 * (`bluetill-phone pay --code`, PIN from BLUETILL_PIN, a simulated card file), and the till core
 * behind its headless server, driven over its WebSocket API as the cashier's screen drives it
 * (the sale rung up, the code keyed in, sent over the till's mutual-TLS channel).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '@bluetill/simulator';
import { createBackendCa } from '@bluetill/backend';
import { SettleResponse, publicKeyFromRaw, verifyReceipt } from '@bluetill/protocol';
import { SqliteCatalog } from '../../pos-terminal/src/adapters/catalog/catalog.sqlite';
import { SqliteReceiptStore } from '../../pos-terminal/src/adapters/receipt/receipt-store.sqlite';
import { startTillServer, type TillServer } from '../../pos-terminal/src/server/till-server';
import { WsTestClient } from '../../pos-terminal/src/server/ws-test-client';
import { testCashierAuth } from '../../pos-terminal/src/host/test-cashiers';
import { PHONE_SIM_CLI, runCli, type CliRun as Run } from '../support/run-cli';

const ALICE_PAN = '6799990100000000019';

let world: World;
let server: TillServer;
let cashier: WsTestClient;
let catalog: SqliteCatalog;
let receipts: SqliteReceiptStore;
let dir: string;
let clockOffsetMs = 0;

const phone = (args: readonly string[], env: Record<string, string>): Promise<Run> =>
  runCli(PHONE_SIM_CLI, args, { env });

interface CodeJson {
  outcome: string;
  reason?: string;
  pinTriesLeft?: number;
  card?: string;
  paymentCode?: {
    code: string;
    limit: { minor: number; currency: string };
    limitText: string;
    expiresAt: string;
  };
}

async function askCode(cardId: string, pin: string, limit: string): Promise<{ run: Run; out: CodeJson }> {
  const run = await phone(
    [
      'pay',
      '--code',
      '--limit',
      limit,
      '--card-file',
      join(world.seed.cardsDir, `${cardId}.json`),
      '--trust',
      join(world.dir, 'trust.json'),
      '--backend',
      world.backend.shopperAddress!,
      '--json',
    ],
    { BLUETILL_PIN: pin },
  );
  return { run, out: JSON.parse(run.stdout) as CodeJson };
}

/** The cashier rings up a sale and keys in the code, over the till's WebSocket API. */
async function cashierPays(skus: readonly string[], code: string) {
  for (const sku of skus) await cashier.call('draft:add', { sku });
  return cashier.call('basket:pay-code', { code });
}

const codeCount = () =>
  (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM temporary_codes').get() as { n: number }).n;
const wrongCodes = () =>
  (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM code_attempts').get() as { n: number }).n;
const postings = () =>
  (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bluetill-claim1-'));
  world = await startWorld({ backendClock: { now: () => Date.now() + clockOffsetMs } });
  catalog = new SqliteCatalog(join(dir, 'till.sqlite'));
  receipts = new SqliteReceiptStore(join(dir, 'till.sqlite'));
  const { auth, token } = await testCashierAuth();
  server = await startTillServer({
    till: world.till,
    catalog,
    receipts,
    printer: null,
    pdfDir: null,
    probeEveryMs: 0,
    auth,
  });
  cashier = await WsTestClient.withToken(server.url, token);
}, 60_000);

afterAll(async () => {
  cashier?.close();
  await server?.close();
  catalog?.close();
  receipts?.close();
  await world?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('claim 1: a temporary password from the phone, keyed in at the till', () => {
  let code = '';

  it(
    'the phone gets a code for its card and PIN straight from the backend: 8 digits, its limit and expiry; the card number only masked',
    { timeout: 60_000 },
    async () => {
      const { run, out } = await askCode('card-alice', '1234', '30.00');
      expect(run.code, run.stderr).toBe(0);
      expect(out).toMatchObject({
        outcome: 'approved',
        card: '679999*********0019',
        paymentCode: { limit: { minor: 30_00, currency: 'EUR' }, limitText: '€30.00' },
      });
      code = out.paymentCode!.code;
      expect(code).toMatch(/^\d{8}$/);
      const ttl = Date.parse(out.paymentCode!.expiresAt) - Date.now();
      expect(ttl).toBeGreaterThan(4 * 60_000);
      expect(ttl).toBeLessThanOrEqual(5 * 60_000);
      expect(run.stdout + run.stderr).not.toContain(ALICE_PAN);
      // The backend keeps a keyed hash of the code, never the code.
      const files = [world.seed.dbPath, `${world.seed.dbPath}-wal`].filter((f) => existsSync(f));
      const dbText = files.map((f) => readFileSync(f).toString('latin1')).join('');
      expect(dbText).not.toContain(code);
    },
  );

  it(
    'the cashier keys it in with the sale: approved, the signed receipt verifies, the ledger holds one balanced pair',
    { timeout: 30_000 },
    async () => {
      const before = postings();
      const res = await cashierPays(['bread', 'tea-green'], code);
      expect(res).toMatchObject({ result: 'approved', declineCode: '' });
      expect(res.receipt).toMatchObject({
        result: 'approved',
        maskedPan: '679999*********0019',
        terminalId: 'T-0001',
      });
      const stored = world.backend.store.findSettlement('T-0001', res.terminalTxnId);
      const signed = SettleResponse.decode(stored!.response).receipt!;
      const receipt = verifyReceipt(
        signed,
        publicKeyFromRaw(Buffer.from(world.seed.trust.cardCompanyRoot, 'base64')),
        Date.now(),
      );
      expect(receipt).toMatchObject({
        result: 'approved',
        merchantId: 'M-0001',
        total: { minor: res.receipt!.totalMinor, currency: 'EUR' },
      });
      expect(receipt.items.map((i) => i.sku).sort()).toEqual(['bread', 'tea-green']);
      expect(postings()).toBe(before + 2);
      expect(world.backend.store.accountBalance('acct-card-alice')).toBe(-res.receipt!.totalMinor);
      expect(world.backend.store.ledgerSum()).toBe(0);
      // The till's journal has the attempt approved, and the basket is paid.
      expect(world.events).toContainEqual(
        expect.objectContaining({ type: 'attempt', terminalTxnId: res.terminalTxnId, state: 'approved' }),
      );
    },
  );

  it(
    'the same code again is refused (code_used): nothing moves, the basket waits',
    { timeout: 30_000 },
    async () => {
      const before = postings();
      const res = await cashierPays(['water'], code);
      expect(res).toMatchObject({
        result: 'declined',
        declineCode: 'code_used',
        declineText: 'Payment code already used',
        receipt: null,
      });
      expect(postings()).toBe(before);
      const snap = await cashier.call('till:snapshot', {});
      expect(snap.baskets.find((b) => b.id === res.basketId)).toMatchObject({ status: 'open' });
      await cashier.call('basket:cancel', { basketId: res.basketId }); // its items return to the sale
      await cashier.call('draft:clear', {});
    },
  );

  it(
    'over the limit is refused (code_limit_exceeded), and the code still pays a sale within it',
    { timeout: 60_000 },
    async () => {
      const { run, out } = await askCode('card-chen', '9876', '5.00');
      expect(run.code, run.stderr).toBe(0);
      const small = out.paymentCode!.code;
      const before = postings();
      const over = await cashierPays(['bread', 'bread'], small); // 8.40 > 5.00
      expect(over).toMatchObject({ result: 'declined', declineCode: 'code_limit_exceeded' });
      expect(postings()).toBe(before);
      // Taking the basket back returns its items to the sale: the cashier takes one bread off.
      await cashier.call('basket:cancel', { basketId: over.basketId });
      const draft = await cashier.call('draft:set-quantity', { sku: 'bread', quantity: 1 });
      expect(draft.lines).toEqual([expect.objectContaining({ sku: 'bread', quantity: 1 })]);
      const within = await cashierPays([], small); // 4.20
      expect(within).toMatchObject({ result: 'approved' });
      expect(postings()).toBe(before + 2);
    },
  );

  it(
    'a wrong code is refused (code_invalid) and counted; a malformed one never leaves the till',
    { timeout: 30_000 },
    async () => {
      const before = wrongCodes();
      const wrong = code === '99999999' ? '99999998' : '99999999';
      const res = await cashierPays(['water'], wrong);
      expect(res).toMatchObject({ result: 'declined', declineCode: 'code_invalid' });
      expect(wrongCodes()).toBe(before + 1);
      await cashier.call('basket:cancel', { basketId: res.basketId }); // its items return to the sale
      await cashier.call('draft:clear', {});
      const bad = await cashier.request('basket:pay-code', { code: '12ab' });
      expect(bad).toMatchObject({ ok: false, error: { code: 'bad_request' } });
      expect(wrongCodes()).toBe(before + 1);
    },
  );

  it(
    'a wrong PIN gets no code (declined, tries left shown), and nothing is stored',
    { timeout: 60_000 },
    async () => {
      const before = codeCount();
      const { run, out } = await askCode('card-bob', '0000', '10.00');
      expect(run.code).toBe(3);
      expect(out).toMatchObject({ outcome: 'declined', reason: 'pin_incorrect', pinTriesLeft: 2 });
      expect(out.paymentCode).toBeUndefined();
      expect(codeCount()).toBe(before);
    },
  );

  it(
    "a backend whose TLS certificate does not chain to the trust file's backend CA is refused before the card is read (exit 4)",
    { timeout: 60_000 },
    async () => {
      const trust = JSON.parse(readFileSync(join(world.dir, 'trust.json'), 'utf8')) as Record<string, string>;
      const forged = join(dir, 'trust-other-ca.json');
      writeFileSync(forged, JSON.stringify({ ...trust, backendTlsCa: (await createBackendCa()).cert }));
      const before = codeCount();
      const run = await phone(
        [
          'pay',
          '--code',
          '--limit',
          '5.00',
          '--card-file',
          join(world.seed.cardsDir, 'card-alice.json'),
          '--trust',
          forged,
          '--backend',
          world.backend.shopperAddress!,
          '--json',
        ],
        { BLUETILL_PIN: '1234' },
      );
      expect(run.code).toBe(4);
      expect(JSON.parse(run.stdout)).toMatchObject({
        outcome: 'failed',
        charged: 'no',
        error: { code: 'untrusted' },
      });
      expect(run.stderr).not.toContain('Reading card');
      expect(codeCount()).toBe(before);
    },
  );

  it(
    'an expired code is refused (code_expired) once its five minutes are over',
    { timeout: 60_000 },
    async () => {
      const { run, out } = await askCode('card-bob', '2580', '10.00');
      expect(run.code, run.stderr).toBe(0);
      clockOffsetMs = 5 * 60_000 + 1_000;
      try {
        const before = postings();
        const res = await cashierPays(['water'], out.paymentCode!.code);
        expect(res).toMatchObject({ result: 'declined', declineCode: 'code_expired' });
        expect(postings()).toBe(before);
      } finally {
        clockOffsetMs = 0;
      }
      expect(world.backend.store.ledgerSum()).toBe(0);
    },
  );
});
