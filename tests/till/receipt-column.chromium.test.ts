/**
 * The receipt column at the two screen sizes tills have (1280×800 and 1024×768), in Chromium over
 * a whole simulated world: a day's receipts (sales of several items, a declined one, a refund) and
 * a refund shown. Measured: the receipt is readable without scrolling sideways, each history row
 * keeps its time and amount on one line and its words whole, the refund's status keeps the
 * transaction id on one line, and the receipt, a few rows of the history and Close the day are in
 * the window together.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHOTS, TILL_VIEWPORT, openCashierBrowser, type CashierBrowser } from './cashier-browser';

const SIZES = [TILL_VIEWPORT, { width: 1024, height: 768 }] as const;

describe('the receipt column in Chromium', () => {
  let ui: CashierBrowser;
  let page: Page;

  beforeAll(async () => {
    ui = await openCashierBrowser({
      prefix: 'bluetill-receipts-ui-',
      world: { limits: { lingerMs: 500 } },
      server: () => ({ probeEveryMs: 1_000 }),
      before: async (world) => {
        // A day's receipts: sales of one and of several items, a wrong PIN's decline.
        const sales = [
          [{ sku: 'water', name: 'Still water', quantity: 1, unitPriceMinor: 120 }],
          [
            { sku: 'tea-green', name: 'Green tea', quantity: 3, unitPriceMinor: 350 },
            { sku: 'book', name: 'Paperback', quantity: 1, unitPriceMinor: 1299 },
            { sku: 'bread', name: 'Sourdough bread', quantity: 2, unitPriceMinor: 420 },
          ],
          [{ sku: 'choc', name: 'Dark chocolate', quantity: 1, unitPriceMinor: 249 }],
          [{ sku: 'scarf', name: 'Wool scarf', quantity: 1, unitPriceMinor: 2499 }],
        ];
        for (const items of sales) {
          world.ringUp(items);
          const run = await world.phonePays('card-alice', '1234');
          if (run.outcome.kind !== 'approved') throw new Error(JSON.stringify(run.outcome));
        }
        world.ringUp(sales[0]!);
        await world.phonePays('card-bob', '0000'); // declined: wrong PIN (no receipt)
      },
    });
    page = ui.page;
  }, 120_000);

  afterAll(() => ui?.close());

  /** How many lines of text an element's content takes (its height over its line height). */
  const lines = (selector: string) =>
    page.locator(selector).evaluateAll((els) =>
      els.map((el) => {
        const style = getComputedStyle(el);
        const lineHeight = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.2;
        const range = document.createRange();
        range.selectNodeContents(el);
        const rects = Array.from(range.getClientRects());
        const tops = new Set(rects.map((r) => Math.round(r.top / (lineHeight / 2))));
        return {
          text: el.textContent ?? '',
          lines: tops.size,
          height: el.getBoundingClientRect().height,
          lineHeight,
        };
      }),
    );

  const inWindow = async (selector: string, size: { width: number; height: number }) => {
    const box = await page.locator(selector).first().boundingBox();
    expect(box, selector).not.toBeNull();
    expect(
      box!.y + box!.height,
      `${selector} inside the window at ${size.width}×${size.height}`,
    ).toBeLessThanOrEqual(size.height);
    expect(box!.x + box!.width, selector).toBeLessThanOrEqual(size.width);
  };

  it(
    'keeps receipts, rows and the refund status whole at 1280×800 and 1024×768',
    { timeout: 90_000 },
    async () => {
      await ui.signIn();
      await expect.poll(() => page.locator('#history li').count(), { timeout: 10_000 }).toBe(4);

      // A refund of the sale of several items: its receipt shown, its status line under it.
      await page.locator('#history li button', { hasText: 'Paperback' }).click();
      await page.locator('#refund-amount').fill('1.00');
      await page.getByRole('button', { name: 'Refund', exact: true }).click();
      await page.locator('#confirm[open]').waitFor();
      await page.locator('#confirm-ok').click();
      await page.locator('#receipt .badge', { hasText: 'REFUND' }).waitFor();
      await expect.poll(() => page.locator('#receipt-status').textContent()).toMatch(/^Refunded €1\.00 of /);
      await expect.poll(() => page.locator('#history li').count()).toBe(5);

      for (const size of SIZES) {
        await page.setViewportSize(size);
        await page.waitForTimeout(100);
        await page.screenshot({
          path: join(SHOTS, `receipt-column-${size.width}x${size.height}.png`),
          fullPage: true,
        });
        const where = `${size.width}×${size.height}`;

        // The receipt reads without scrolling sideways.
        const pre = await page
          .locator('#receipt pre')
          .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
        expect(pre.scroll, `receipt cut sideways at ${where}: ${JSON.stringify(pre)}`).toBeLessThanOrEqual(
          pre.client,
        );

        // Each history row: time and amount on one line each, nothing sticking out, no word split.
        for (const part of ['.when', '.amount']) {
          for (const m of await lines(`#history button ${part}`))
            expect(m.lines, `${part} "${m.text}" wraps at ${where}`).toBe(1);
        }
        const rows = await page.locator('#history button').evaluateAll((els) =>
          els.map((el) => ({
            text: el.textContent ?? '',
            scroll: el.scrollWidth,
            client: el.clientWidth,
          })),
        );
        for (const r of rows)
          expect(r.scroll, `row "${r.text}" overflows at ${where}`).toBeLessThanOrEqual(r.client);
        const what = await page.locator('#history button .what').evaluateAll((els) =>
          els.map((el) => ({
            text: el.textContent ?? '',
            scroll: el.scrollWidth,
            client: el.clientWidth,
          })),
        );
        for (const w of what)
          expect(w.scroll, `"${w.text}" is cut at ${where}`).toBeLessThanOrEqual(w.client);
        // A one-item sale's row is one line.
        const single = (await lines('#history button .what')).find((m) => m.text.includes('Still water'));
        expect(single?.lines, `"Still water" row wraps at ${where}`).toBe(1);

        // The receipt's tools on one line: print, PDF, the amount to refund, Refund and Void.
        const tops = await page
          .locator('.receipt-tools button, .receipt-tools input')
          .evaluateAll((els) => [
            ...new Set(els.map((el) => Math.round(el.getBoundingClientRect().top / 8))),
          ]);
        if (size.width >= 1100) expect(tops, `receipt tools on one line at ${where}`).toHaveLength(1);

        // The refund's status: the transaction id is never broken across lines.
        const status = await page.locator('#receipt-status .txn').evaluate((el) => {
          const range = document.createRange();
          range.selectNodeContents(el);
          return new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top))).size;
        });
        expect(status, `transaction id broken at ${where}`).toBe(1);
        const statusBox = await page
          .locator('#receipt-status')
          .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
        expect(statusBox.scroll).toBeLessThanOrEqual(statusBox.client);

        // The top bar's keys never run into the cashier's name.
        const keys = await page.locator('.top .keys').boundingBox();
        const who = await page.locator('.top .who').boundingBox();
        const apart =
          keys!.x + keys!.width <= who!.x ||
          keys!.y >= who!.y + who!.height ||
          keys!.y + keys!.height <= who!.y;
        expect(
          apart,
          `keys ${JSON.stringify(keys)} over the cashier ${JSON.stringify(who)} at ${where}`,
        ).toBe(true);
        const keysBox = await page
          .locator('.top .keys')
          .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
        expect(keysBox.scroll).toBeLessThanOrEqual(keysBox.client);

        // The receipt panel is no narrower than the receipt (32 columns) needs.
        const panel = await page.locator('section.receipt').boundingBox();
        expect(panel!.width, `receipt panel at ${where}`).toBeGreaterThanOrEqual(360);
      }

      // On a till's usual screen the receipt, three rows of the day and Close the day are in view together.
      await page.setViewportSize(SIZES[0]);
      await page.waitForTimeout(100);
      await inWindow('#receipt pre', SIZES[0]);
      const visibleRows = await page.locator('#history li').evaluateAll((els) => {
        const history = document.getElementById('history')!;
        history.scrollTop = 0;
        const list = history.getBoundingClientRect();
        return els.filter((el) => {
          const r = el.getBoundingClientRect();
          return r.top >= list.top - 1 && r.bottom <= list.bottom + 1;
        }).length;
      });
      expect(visibleRows, 'history rows wholly in view at 1280×800').toBeGreaterThanOrEqual(3);
      await inWindow('#close-day', SIZES[0]);
    },
  );
});
