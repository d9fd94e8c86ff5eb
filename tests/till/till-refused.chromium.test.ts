/**
 * The cashier's screen, in Chromium, when the card company refuses this till (its certificate
 * revoked at a real backend): the status pill says the refusal, as the banner does — never
 * "UNREACHABLE" — and a phone that tries to pay meanwhile does not turn it into "unreachable".
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteRegistryAdmin } from '@bluetill/backend';
import { startWorld, type World } from '@bluetill/simulator';
import { SqliteCatalog } from '../../pos-terminal/src/adapters/catalog/catalog.sqlite';
import { SqliteReceiptStore } from '../../pos-terminal/src/adapters/receipt/receipt-store.sqlite';
import { startTillServer, type TillServer } from '../../pos-terminal/src/server/till-server';
import { TEST_CASHIER, testCashierAuth } from '../../pos-terminal/src/host/test-cashiers';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = resolve(import.meta.dirname, '../../artifacts/screenshots');

describe.skipIf(!existsSync(CHROMIUM))(
  'a refused till in Chromium (skipped only when /usr/bin/chromium is missing: scripts/setup-system.sh installs it)',
  () => {
    let world: World;
    let server: TillServer;
    let dir: string;
    let context: BrowserContext;
    let page: Page;
    let catalog: SqliteCatalog;
    let receipts: SqliteReceiptStore;

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      dir = mkdtempSync(join(tmpdir(), 'bluetill-refused-ui-'));
      world = await startWorld({ limits: { lingerMs: 500 } });
      catalog = new SqliteCatalog(join(dir, 'till.sqlite'));
      receipts = new SqliteReceiptStore(join(dir, 'till.sqlite'));
      server = await startTillServer({
        till: world.till,
        catalog,
        receipts,
        probeEveryMs: 300,
        auth: (await testCashierAuth()).auth,
      });
      context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
        viewport: { width: 1280, height: 800 },
        deviceScaleFactor: 1,
      });
      page = context.pages()[0] ?? (await context.newPage());
    }, 60_000);

    afterAll(async () => {
      await context?.close();
      await server?.close();
      catalog?.close();
      receipts?.close();
      await world?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it(
      'the pill and the banner both say the card company refused this till',
      { timeout: 60_000 },
      async () => {
        await page.goto(server.url);
        await page.getByLabel('Cashier', { exact: true }).fill(TEST_CASHIER.id);
        await page.getByLabel('PIN or password', { exact: true }).fill(TEST_CASHIER.secret);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.locator('body[data-ready="true"]').waitFor();
        await expect
          .poll(() => page.locator('#backend').textContent(), { timeout: 10_000 })
          .toBe('Payment network: connected');

        expect(
          await new SqliteRegistryAdmin(world.backend.store.db).revokeTerminalCertificates('T-0001'),
        ).toBe(1);
        await expect
          .poll(() => page.locator('#backend').textContent(), { timeout: 15_000 })
          .toBe('Payment network: refused this till');
        expect(await page.locator('#backend').getAttribute('class')).toContain('pill-refused');
        const banner = page.locator('#alerts .alert-bad');
        await expect
          .poll(() => banner.textContent())
          .toBe(
            'The card company refused this till (certificate revoked): payments cannot be taken. Ask the card company for a new till certificate.',
          );
        await page.screenshot({ path: join(SHOTS, '8b-refused.png') });

        // A phone tries to pay meanwhile: it is failed in words, and the pill still says refused.
        world.ringUp([{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 350 }]);
        const run = await world.phonePays('card-alice', '1234');
        expect(run.outcome.kind).toBe('failed');
        await page.locator('#sessions li.session').first().waitFor();
        expect(await page.locator('#sessions').textContent()).not.toMatch(/[a-z]+_[a-z]+/);
        await new Promise((r) => setTimeout(r, 700)); // two more probes
        expect(await page.locator('#backend').textContent()).toBe('Payment network: refused this till');
        expect(await page.locator('body').textContent()).not.toContain('UNREACHABLE');
      },
    );
  },
);
