/**
 * The cashier UI end to end in a real browser: Playwright drives Debian's Chromium against the
 * headless till server over a whole simulated world (backend on loopback gRPC, till, phones).
 * The page is 1280×800, a till's screen; an axe-core audit runs on each main screen. Phones are
 * named as the BLE adapter names them (`11#10`). Screenshots go to artifacts/screenshots/ (and,
 * with BLUETILL_README_SHOTS=1, to the README's docs/screenshots/).
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryRadio, phoneCardFromFile, type PhoneRun, type World } from '@bluetill/simulator';
import { GrpcShopperBackend, requestCode, type CentralLink } from '@bluetill/phone-agent';
import type { BlePeripheral, PeripheralLink } from '@bluetill/pos-terminal';
import { disconnectReason, publicKeyFromRaw } from '@bluetill/protocol';
import type { SqliteReceiptStore } from '../../pos-terminal/src/adapters/receipt/receipt-store.sqlite';
import { FilePrinter } from '../../pos-terminal/src/adapters/receipt/receipt-printer.file';
import { receiptToEscPos } from '../../pos-terminal/src/adapters/receipt/escpos';
import type { TillServer } from '../../pos-terminal/src/server/till-server';
import { SHOTS, TILL_VIEWPORT, openCashierBrowser, type CashierBrowser } from './cashier-browser';
import { TEST_CASHIER, TEST_MANAGER } from '../../pos-terminal/src/host/test-cashiers';

/** With BLUETILL_README_SHOTS=1 (`npm run screenshots -w @bluetill/pos-terminal`) these shots also go to the READMEs. */
const README_SHOTS = resolve(import.meta.dirname, '../../pos-terminal/docs/screenshots');
const README_SHOT_NAMES = new Set([
  '0-sign-in',
  '1-sale',
  '1b-products',
  '2-two-phones',
  '4c-ten-phones',
  '6-refund',
  '7-end-of-day',
  '8-backend-down',
]);
/** The root README's and the till README's picture of the whole screen. */
const HERO = { shot: '4-mismatch', path: resolve(import.meta.dirname, '../../docs/till.png') };
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/**
 * The in-memory radio with the till's side as the BLE adapter shows it: links named
 * `<handle>#<count>` and a phone hanging up reported with its HCI reason.
 */
function blenoLikeRadio() {
  const mem = new InMemoryRadio();
  let count = 0;
  const rename = (l: PeripheralLink): PeripheralLink => {
    const n = ++count;
    return {
      id: `${10 + n}#${n}`,
      mtu: l.mtu,
      onValue: (h) => l.onValue(h),
      notify: (v) => l.notify(v),
      disconnect: () => l.disconnect(),
      onDisconnect: (h) =>
        l.onDisconnect((reason) =>
          h(reason === 'remote user terminated connection' ? disconnectReason(0x13) : reason),
        ),
    };
  };
  return {
    central: () => mem.central(),
    peripheral: (): BlePeripheral => {
      const p = mem.peripheral();
      return {
        start: (o) => p.start(o),
        stop: () => p.stop(),
        onConnect: (h) => p.onConnect((l) => h(rename(l))),
      };
    },
  };
}

/** A phone that stops after the till's first answer (its card never comes): put away by `release`. */
function heldPhone(): { wrapLink: (link: CentralLink) => CentralLink; release: () => Promise<void> } {
  let answered = false;
  let link: CentralLink | undefined;
  let letGo!: () => void;
  const gate = new Promise<void>((r) => (letGo = r));
  return {
    wrapLink: (l) => {
      link = l;
      return {
        ...l,
        onValue: (h) =>
          l.onValue((v) => {
            answered = true;
            h(v);
          }),
        write: async (v) => {
          if (!answered) return l.write(v);
          await gate;
          throw new Error('the shopper put the phone away');
        },
      };
    },
    release: async () => {
      letGo();
      await link?.disconnect();
    },
  };
}

describe('cashier UI in Chromium', () => {
  let ui: CashierBrowser;
  let world: World;
  let server: TillServer;
  let dir: string;
  let page: Page;
  let receipts: SqliteReceiptStore;

  beforeAll(async () => {
    ui = await openCashierBrowser({
      prefix: 'bluetill-ui-',
      world: {
        limits: { basketWaitMs: 30_000, lingerMs: 1_000 },
        radio: blenoLikeRadio(),
        fleetCards: 10,
      },
      server: (d) => ({
        printer: new FilePrinter(join(d, 'printer.escpos')),
        pdfDir: join(d, 'receipt_pdfs_of_counter_one_kept_for_the_tax_office'),
        probeEveryMs: 1_000,
      }),
    });
    ({ world, server, dir, page, receipts } = ui);
    page.on('pageerror', (e) => console.error('page error:', e.message));
  }, 60_000);

  afterAll(() => ui?.close());

  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`) });
    if (process.env.BLUETILL_README_SHOTS !== '1') return;
    if (README_SHOT_NAMES.has(name)) {
      mkdirSync(README_SHOTS, { recursive: true });
      copyFileSync(join(SHOTS, `${name}.png`), join(README_SHOTS, `${name}.png`));
    }
    if (name === HERO.shot) copyFileSync(join(SHOTS, `${name}.png`), HERO.path);
  };

  /** axe-core on the page as it is: no serious or critical violation (names the rule and the elements if any). */
  const audit = async (where: string) => {
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
    const found = await page.evaluate(async () => {
      const axe = (
        window as unknown as {
          axe: {
            run(c: Document): Promise<{
              violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[];
            }>;
          };
        }
      ).axe;
      const r = await axe.run(document);
      return r.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`);
    });
    expect(found, `accessibility: ${where}`).toEqual([]);
  };

  /** The element's content fits its box (nothing cut, no ellipsis, nothing sticking out). */
  const fits = async (selector: string) => {
    const m = await page
      .locator(selector)
      .first()
      .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
    expect(m.scroll, `${selector} is cut: ${JSON.stringify(m)}`).toBeLessThanOrEqual(m.client);
  };

  /** The element is wholly inside the 1280×800 window, without scrolling the page. */
  const inView = async (selector: string) => {
    const box = await page.locator(selector).first().boundingBox();
    expect(box, selector).not.toBeNull();
    const scrolled = await page.evaluate(() => [window.scrollX, window.scrollY]);
    expect(scrolled, 'the page itself does not scroll').toEqual([0, 0]);
    expect(box!.x, selector).toBeGreaterThanOrEqual(0);
    expect(box!.y, selector).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width, selector).toBeLessThanOrEqual(TILL_VIEWPORT.width);
    expect(box!.y + box!.height, selector).toBeLessThanOrEqual(TILL_VIEWPORT.height);
  };
  const row = (text: string) => page.locator('#sessions li.session', { hasText: text });

  /** The "Are you sure?" dialog before a refund, a void or closing the day: confirmed. */
  const confirm = async () => {
    await page.locator('#confirm[open]').waitFor();
    await page.locator('#confirm-ok').click();
    await page.locator('#confirm:not([open])').waitFor({ state: 'attached' });
  };

  const approve = async (managerId: string, secret: string) => {
    await page.locator('#approval[open]').waitFor();
    await page.getByLabel('Manager', { exact: true }).fill(managerId);
    await page.getByLabel('Manager PIN or password').fill(secret);
    await page.getByRole('button', { name: 'Approve' }).click();
  };

  it('signs a cashier in, rings up by search and barcode, serves two phones at once, prints, and keeps the history', async () => {
    await page.goto(server.url);
    // Signed out: only the sign-in form; the sale is not on the page.
    await page.locator('#sign-in-id').waitFor();
    expect(await page.locator('#scan').isVisible()).toBe(false);
    await page.getByLabel('Cashier', { exact: true }).fill(TEST_CASHIER.id);
    await page.getByLabel('PIN or password', { exact: true }).fill('0000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.locator('#sign-in-status').textContent(), { timeout: 10_000 })
      .toContain('not recognised');
    expect(await page.locator('#sign-in-secret').inputValue()).toBe(''); // the wrong PIN is not kept
    await shot('0-sign-in');
    await audit('sign-in');
    await page.getByLabel('PIN or password', { exact: true }).fill(TEST_CASHIER.secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('body[data-ready="true"]').waitFor();
    expect(await page.locator('#cashier-name').textContent()).toBe('Cora (cashier)');
    await expect.poll(() => page.locator('#backend').textContent()).toBe('Payment network: connected');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('scan');

    // By search: type, arrow down to the result, Enter; a second one by click.
    await page.keyboard.press('F3');
    await page.keyboard.type('green');
    await page.locator('#results button', { hasText: 'Green tea' }).waitFor();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.locator('#lines tr', { hasText: 'Green tea' }).waitFor();
    await page.locator('#search').fill('paper');
    await page.locator('#results button', { hasText: 'Paperback' }).click();
    // By barcode: the scanner types digits and Enter into the focused field.
    await page.keyboard.press('F2');
    for (const code of ['4000000000086', '4000000000086', '4000000000130']) {
      await page.keyboard.type(code);
      await page.keyboard.press('Enter');
    }
    await page.locator('#lines tr', { hasText: 'Dark chocolate' }).waitFor();
    await expect.poll(() => page.locator('#qty-bread').inputValue()).toBe('2');
    // A bad quantity is refused in words and the field shows the line's quantity again; the fix clears the error.
    await page.locator('#qty-tea-green').fill('0');
    await page.locator('#qty-tea-green').press('Enter');
    await expect
      .poll(() => page.locator('#scan-status').textContent())
      .toContain('Quantity of Green tea stays 1');
    expect(await page.locator('#qty-tea-green').inputValue()).toBe('1');
    await page.locator('#qty-tea-green').fill('3');
    await page.locator('#qty-tea-green').press('Enter');
    await expect.poll(() => page.locator('#scan-status').textContent()).toBe('Quantity of Green tea: 3');
    expect(await page.locator('#scan-status').getAttribute('class')).not.toContain('bad');
    await page.locator('#scan').fill('999999');
    await page.locator('#scan').press('Enter');
    await expect.poll(() => page.locator('#scan-status').textContent()).toBe('No product has barcode 999999');
    // Letters in the barcode field and a search without a match are said, not ignored.
    await page.locator('#scan').fill('12ab');
    await page.locator('#scan').press('Enter');
    await expect
      .poll(() => page.locator('#scan-status').textContent())
      .toBe('“12ab” is not a barcode: a barcode is 4 to 14 digits');
    await page.locator('#search').fill('kumquat');
    await expect
      .poll(() => page.locator('#results li.none').textContent())
      .toContain('No product matches “kumquat”');
    await page.locator('#search').fill('');
    await expect.poll(() => page.locator('#results li').count()).toBe(0);
    await page.getByRole('button', { name: 'Remove Dark chocolate' }).click();
    // 3 × 3.50 + 12.99 + 2 × 4.20 = 31.89
    await expect.poll(() => page.locator('#total').textContent()).toBe('€31.89');
    // The payment-code field shows a whole code (and its placeholder) at 1280 px; F7 clears an earlier entry.
    expect(await page.locator('#pay-code').evaluate((el) => el.clientWidth)).toBeGreaterThanOrEqual(150);
    await page.locator('#pay-code').fill('1234 5678');
    await fits('#pay-code');
    await page.keyboard.press('F2');
    await page.keyboard.press('F7');
    expect(await page.locator('#pay-code').inputValue()).toBe('');
    await page.keyboard.press('F2');
    await shot('1-sale');
    await audit('sale with items');
    // Where the shop's barcodes are: the products panel lists them.
    await page.locator('details.products summary').click();
    await page.locator('#products tr', { hasText: '4000000000086' }).waitFor();
    expect(await page.locator('#products tr').count()).toBeGreaterThanOrEqual(10);
    await audit('products');
    await shot('1b-products');
    await page.locator('details.products summary').click();
    await page.keyboard.press('F2');

    // Two phones at once: one pays with the right PIN before anything is charged, one types a
    // wrong PIN. The first waits for a basket, and the screen says so: its row, the count of
    // phones waiting beside "Phones", and where the basket would wait.
    const chen = world.phonePays('card-chen', '9876');
    await row('Phone waiting for a basket').waitFor({ timeout: 15_000 });
    await expect
      .poll(() => page.locator('#phones-waiting').textContent())
      .toBe('· 1 phone waiting for a basket');
    expect(await page.locator('#baskets li.phones-waiting').textContent()).toBe(
      '1 phone waiting for a basket: charge the sale (F9)',
    );
    await row('Phone waiting for a basket')
      .getByRole('button', { name: /^Cancel phone/ })
      .waitFor();
    const wrong = await world.phonePays('card-bob', '0000');
    expect(wrong.outcome, JSON.stringify(wrong.outcome)).toMatchObject({ kind: 'declined' });
    await row('Declined: Incorrect PIN').waitFor();
    expect(await page.locator('#sessions li.session:not(.closed)').count()).toBe(1); // chen, still live
    expect(await page.locator('#sessions li.session').count()).toBe(2);
    await shot('2-two-phones');

    // Charge: the waiting phone takes the basket at once and pays.
    await page.keyboard.press('F9');
    const paid: PhoneRun = await chen;
    expect(paid.outcome.kind).toBe('approved');
    expect(paid.prompt.steps).toContain(
      'Your card is checked. The till is waiting for the cashier to ring up your sale.',
    );
    await row('Approved').waitFor();
    expect(await page.locator('#phones-waiting').textContent()).toBe('');
    // The sale panel's notice follows the basket it charged: no longer "waiting" once paid.
    await expect
      .poll(() => page.locator('#scan-status').textContent())
      .toMatch(/^Basket B-\d+ \(€31\.89\) is paid$/);
    await page.locator('#receipt pre', { hasText: 'APPROVED' }).waitFor();
    const receiptText = (await page.locator('#receipt pre').textContent())!;
    expect(receiptText).toContain('679999*********0035');
    expect(receiptText).toContain('TOTAL');
    expect(receiptText).toContain('€31.89');
    expect(receiptText).not.toMatch(/\d{12,}/);
    await page.locator('#history li', { hasText: '0035' }).waitFor();
    await shot('3-approved-receipt');

    // The ESC/POS file holds exactly that receipt; reprint appends it again.
    await server.host.idle();
    const txn = receiptText.match(/Txn (\S+)/)![1]!;
    const escpos = receiptToEscPos(receipts.get(txn)!.receipt);
    expect([...readFileSync(join(dir, 'printer.escpos'))]).toEqual([...escpos]);
    await page.keyboard.press('F8');
    await expect.poll(() => page.locator('#receipt-status').textContent()).toContain(`Printed ${txn}`);
    expect(readFileSync(join(dir, 'printer.escpos')).length).toBe(2 * escpos.length);
    await page.getByRole('button', { name: 'Save PDF' }).click();
    await expect.poll(() => page.locator('#receipt-status').textContent()).toContain('.pdf');
    await fits('#receipt-status'); // the saved path wraps inside the panel

    // A phone that asks to pay another sum: declined, and the cashier reads "nothing was charged".
    await page.keyboard.press('F2');
    await page.keyboard.type('4000000000048');
    await page.keyboard.press('Enter');
    await page.locator('#lines tr', { hasText: 'Still water' }).waitFor();
    await page.keyboard.press('F9');
    await page.locator('#baskets li', { hasText: 'waiting' }).waitFor();
    const waitingNotice = /^Basket (B-\d+) \(€[\d.]+\) is waiting for the next phone$/;
    await expect.poll(() => page.locator('#scan-status').textContent()).toMatch(waitingNotice);
    const tampered = await world.phonePays('card-alice', '1234', {
      tamper: { payment: (p) => void (p.total = { minor: 1, currency: 'EUR' }) },
    });
    expect(tampered.outcome.kind).not.toBe('approved');
    await page.locator('#alerts .alert', { hasText: 'nothing was charged' }).waitFor();
    await page.locator('#baskets li', { hasText: 'waiting' }).waitFor();
    await expect.poll(() => page.locator('#scan-status').textContent()).toMatch(waitingNotice); // back to waiting, not "paid"
    await fits('#baskets li .what'); // the amount, not "€…"
    await shot('4-mismatch');

    // A shopper who stops at the confirmation holds the basket: the cashier cancels that phone,
    // the phone is told, nothing is charged, and the basket waits for the next phone.
    let goOn!: () => void;
    const slow = world.phonePays('card-alice', '1234', {
      confirmWhen: new Promise<void>((r) => (goOn = r)),
    });
    await row('Authorized · shopper confirming').waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('#baskets li', { hasText: 'waiting' }).count()).toBe(0);
    await expect
      .poll(() => page.locator('#scan-status').textContent())
      .toMatch(/^Basket B-\d+ \(€[\d.]+\) is with phone \S+$/);
    await row('Authorized · shopper confirming')
      .getByRole('button', { name: /^Cancel phone/ })
      .click();
    await row('Cancelled: by the cashier; nothing was charged').waitFor();
    await page.locator('#baskets li', { hasText: 'waiting' }).waitFor();
    await shot('4b-cancelled');
    goOn();
    const cancelled = await slow;
    expect(cancelled.outcome.kind).not.toBe('approved');

    // Ten phones at the counter, each before its card: the list scrolls in its panel; the waiting
    // basket with its Take back, and Close the day, stay in the window.
    const held = Array.from({ length: 10 }, () => heldPhone());
    const heldRuns = held.map((h, i) =>
      world.phonePays(`card-fleet-${String(i + 1).padStart(3, '0')}`, String(1001 + i), {
        wrapLink: h.wrapLink,
      }),
    );
    const reading = page.locator('#sessions li.session', { hasText: 'Secured · reading card' });
    await expect.poll(() => reading.count(), { timeout: 15_000 }).toBe(10);
    await inView('#baskets li');
    await inView('#baskets li button');
    await inView('#close-day');
    await audit('ten phones');
    await shot('4c-ten-phones');
    // Cancel on a live phone, named as the BLE adapter names it.
    await reading
      .first()
      .getByRole('button', { name: /^Cancel phone/ })
      .click();
    await expect
      .poll(() => page.locator('#scan-status').textContent())
      .toMatch(/^Phone \d+#\d+ cancelled: nothing was charged$/);
    await expect.poll(() => reading.count()).toBe(9);
    // The shoppers put their phones away: each row says so in words, then folds into one line.
    await Promise.all(held.map((h) => h.release()));
    await Promise.allSettled(heldRuns);
    await row('Phone left: the phone ended the connection').first().waitFor();
    expect(await page.locator('#sessions').textContent()).not.toMatch(/[a-z]+_[a-z]+/);
    await expect.poll(() => page.locator('#sessions li.session').count(), { timeout: 10_000 }).toBe(0);
    await expect
      .poll(() => page.locator('#sessions details.earlier summary').textContent())
      .toMatch(/^\d+ earlier phones$/);

    // History: search finds the receipt by item and by card end; nothing for another word.
    await page.locator('#history-search').fill('paperback 0035');
    await expect.poll(() => page.locator('#history li').count()).toBe(1);
    await page.locator('#history-search').fill('umbrella');
    await expect.poll(() => page.locator('#history li').count()).toBe(0);
    await page.locator('#history-search').fill('');
    // The sale, and the settlement server's signed decline (the mismatch) and cancellation (the cashier's).
    await expect.poll(() => page.locator('#history li').count()).toBe(3);
    await page.getByRole('button', { name: 'Dismiss' }).click();
    await shot('5-history');
    await audit('history');

    // Refund part of the payment from the day's history, then close the day.
    await page.locator('#history li button', { hasText: '0035' }).click();
    await page.locator(`#receipt pre[aria-label="Receipt ${txn}"]`).waitFor();
    await page.locator('#refund-amount').fill('40.00'); // above the 20.00 limit: a manager approves; more than paid: declined, nothing refunded
    await fits('#refund-amount');
    expect(await page.locator('#refund-amount').evaluate((el) => el.clientWidth)).toBeGreaterThanOrEqual(80);
    await page.getByRole('button', { name: 'Refund', exact: true }).click();
    await page.locator('#confirm[open]').waitFor();
    await audit('confirm dialog');
    await confirm(); // a refund, a void and closing the day are confirmed first
    await approve(TEST_CASHIER.id, TEST_CASHIER.secret); // a cashier cannot approve
    await expect
      .poll(() => page.locator('#approval-status').textContent(), { timeout: 10_000 })
      .toContain('not a manager');
    await audit('manager approval dialog');
    await approve(TEST_MANAGER.id, TEST_MANAGER.secret);
    await page.locator('#approval:not([open])').waitFor({ state: 'attached' });
    await expect
      .poll(() => page.locator('#receipt-status').textContent())
      .toContain('Refund declined: Refund exceeds what is left of the payment');
    await page.locator('#refund-amount').fill('5.00'); // within the limit: no manager needed
    await page.getByRole('button', { name: 'Refund', exact: true }).click();
    await confirm();
    await page.locator('#receipt .badge', { hasText: 'REFUND' }).waitFor();
    const refundText = (await page.locator('#receipt pre').textContent())!;
    expect(refundText).toContain('REFUND of');
    expect(refundText).toContain('€5.00');
    await expect.poll(() => page.locator('#receipt-status').textContent()).toContain('€26.89 left');
    // The refund names the sale it gave money back on (its items), and what it gave back.
    await page
      .locator('#history li', { hasText: /refund of Green tea, Paperback, Sourdough bread\s*−€5\.00/ })
      .waitFor();
    expect(await page.getByRole('button', { name: 'Void' }).isDisabled()).toBe(true); // a refund is not voided
    await shot('6-refund');
    await inView('#close-day');
    await page.getByRole('button', { name: 'Close the day' }).click();
    await page.locator('#confirm[open]').waitFor();
    expect(await page.locator('#confirm-what').textContent()).toContain('Close the day?');
    await page.locator('#confirm-cancel').click(); // not closed: nothing asked of the manager
    await page.locator('#confirm:not([open])').waitFor({ state: 'attached' });
    expect(await page.locator('#approval').getAttribute('open')).toBeNull();
    await page.getByRole('button', { name: 'Close the day' }).click();
    await confirm();
    await approve(TEST_MANAGER.id, 'not-the-pin');
    await expect
      .poll(() => page.locator('#approval-status').textContent(), { timeout: 10_000 })
      .toContain('not recognised');
    expect(await page.locator('#batch').isHidden()).toBe(true);
    await approve(TEST_MANAGER.id, TEST_MANAGER.secret);
    await page.locator('#batch:not([hidden])').waitFor();
    const shown = {
      sales: await page.locator('#batch-sales').textContent(),
      saleCount: await page.locator('#batch-sale-count').textContent(),
      refunds: await page.locator('#batch-refunds').textContent(),
      refundCount: await page.locator('#batch-refund-count').textContent(),
      voids: await page.locator('#batch-voids').textContent(),
      net: await page.locator('#batch-net').textContent(),
    };
    expect(shown).toEqual({
      sales: '€31.89',
      saleCount: '1',
      refunds: '€5.00',
      refundCount: '1',
      voids: '€0.00',
      net: '€26.89',
    });
    // The backend's batch, as stored: the same totals, and its postings on the merchant's account sum to the net.
    const batch = world.backend.store.db
      .prepare(
        "SELECT id, sale_count AS saleCount, sale_minor AS sale, refund_minor AS refund, void_minor AS void, net_minor AS net FROM batches WHERE terminal_id = 'T-0001' AND status = 'closed' ORDER BY id DESC LIMIT 1",
      )
      .get() as { id: number; saleCount: number; sale: number; refund: number; void: number; net: number };
    expect(batch).toMatchObject({ saleCount: 1, sale: 3189, refund: 500, void: 0, net: 2689 });
    const merchantPostings = world.backend.store.db
      .prepare(
        'SELECT SUM(p.amount_minor) AS s FROM postings p JOIN merchants m ON m.account_id = p.account_id WHERE p.batch_id = ?',
      )
      .get(batch.id) as { s: number };
    expect(merchantPostings.s).toBe(2689);
    expect(world.backend.store.ledgerSum()).toBe(0);
    await page.locator('#batch').scrollIntoViewIfNeeded();
    await shot('7-end-of-day');

    // The payment network goes away: the cashier is told plainly.
    await world.stopBackend();
    await page.locator('#alerts .alert', { hasText: 'not reachable' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('#backend').textContent()).toBe('Payment network: UNREACHABLE');
    await shot('8-backend-down');
    await world.restartBackend();
    await expect
      .poll(() => page.locator('#backend').textContent(), { timeout: 15_000 })
      .toBe('Payment network: connected');

    // Pay with code (claims 1, 5, 6): a phone gets a one-time code straight from the backend; the
    // cashier rings up the sale, presses F7 and types the code (spaces allowed), Enter.
    const newCode = async () => {
      const shopperBackend = new GrpcShopperBackend({
        address: world.backend.shopperAddress!,
        backendCa: Buffer.from(world.seed.trust.backendTlsCa!),
      });
      const got = await requestCode({
        backend: shopperBackend,
        card: (await phoneCardFromFile(join(world.seed.cardsDir, 'card-dana.json'))).paymentCard,
        prompt: { progress: () => undefined, pin: async () => '1111' },
        trust: {
          cardCompanyRoot: publicKeyFromRaw(Buffer.from(world.seed.trust.cardCompanyRoot, 'base64')),
        },
        limit: { minor: 10_00, currency: 'EUR' },
      });
      shopperBackend.close();
      if (got.kind !== 'issued') throw new Error(`no code: ${JSON.stringify(got)}`);
      return got;
    };
    const issued = await newCode();
    await page.keyboard.press('F2');
    await page.keyboard.type('4000000000048');
    await page.keyboard.press('Enter');
    await page.locator('#lines tr', { hasText: 'Still water' }).waitFor();
    await page.keyboard.press('F7');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('pay-code');
    expect(await page.getByLabel('Payment code', { exact: true }).getAttribute('id')).toBe('pay-code');
    await page.keyboard.type(`${issued.code.slice(0, 4)} ${issued.code.slice(4)}`);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('#code-status').textContent(), { timeout: 15_000 })
      .toContain('Paid with code');
    await page.locator('#receipt pre', { hasText: '0043' }).waitFor();
    expect(await page.locator('#receipt pre').textContent()).toContain('APPROVED');
    await shot('9-pay-with-code');
    // The same code again: declined in words, the basket waits.
    await page.keyboard.press('F2');
    await page.keyboard.type('4000000000048');
    await page.keyboard.press('Enter');
    await page.locator('#lines tr', { hasText: 'Still water' }).waitFor();
    await page.keyboard.press('F7');
    await page.keyboard.type(issued.code);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('#code-status').textContent(), { timeout: 15_000 })
      .toContain('Code declined: Payment code already used');
    expect(world.backend.store.ledgerSum()).toBe(0);
    // Another code pays the basket that waits (nothing new rung up).
    const second = await newCode();
    await page.keyboard.press('F7');
    await page.keyboard.type(second.code);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('#code-status').textContent(), { timeout: 15_000 })
      .toContain('Paid with code');
    expect(world.backend.store.ledgerSum()).toBe(0);
    // Void that sale: the dialog and the result keep the transaction id inside their boxes.
    await page.locator('#receipt .badge', { hasText: 'APPROVED' }).waitFor();
    const codeTxn = (await page.locator('#receipt pre').textContent())!.match(/Txn (\S+)/)![1]!;
    await page.getByRole('button', { name: 'Void' }).click();
    await page.locator('#confirm[open]').waitFor();
    await fits('#confirm-what');
    await confirm();
    await expect
      .poll(() => page.locator('#receipt-status').textContent(), { timeout: 15_000 })
      .toBe(`Voided ${codeTxn}`);
    await fits('#receipt-status');
    await page.locator('#receipt .badge', { hasText: 'VOID' }).waitFor();
    await shot('10-void');
    expect(world.backend.store.ledgerSum()).toBe(0);

    // Take back: a waiting basket's items return to the sale, to change and charge again.
    await page.keyboard.press('F2');
    await page.keyboard.type('4000000000086');
    await page.keyboard.press('Enter');
    await page.locator('#lines tr', { hasText: 'Sourdough bread' }).waitFor();
    await page.keyboard.press('F9');
    const bread = page.locator('#baskets li', { hasText: '€4.20' });
    await bread.waitFor();
    const waitingBefore = await page.locator('#baskets li').count();
    expect(await page.locator('#lines tr', { hasText: 'Sourdough bread' }).count()).toBe(0);
    await bread.getByRole('button', { name: /^Take back basket B-\d+$/ }).click();
    await expect
      .poll(() => page.locator('#scan-status').textContent())
      .toMatch(/^Basket B-\d+ taken back: its items are in the sale again$/);
    await page.locator('#lines tr', { hasText: 'Sourdough bread' }).waitFor();
    expect(await page.locator('#baskets li').count()).toBe(waitingBefore - 1);
    expect(await page.locator('#total').textContent()).toBe('€4.20');
  }, 180_000);
});
