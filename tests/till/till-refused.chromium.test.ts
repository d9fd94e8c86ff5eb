/**
 * The cashier's screen, in Chromium, when the card company refuses this till (its certificate
 * revoked at a real backend): the status pill says the refusal, as the banner does — never
 * "UNREACHABLE" — and a phone that tries to pay meanwhile does not turn it into "unreachable".
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteRegistryAdmin } from '@bluetill/backend';
import type { World } from '@bluetill/simulator';
import { SHOTS, openCashierBrowser, type CashierBrowser } from './cashier-browser';

describe('a refused till in Chromium', () => {
  let ui: CashierBrowser;
  let world: World;
  let page: Page;

  beforeAll(async () => {
    ui = await openCashierBrowser({
      prefix: 'bluetill-refused-ui-',
      world: { limits: { lingerMs: 500 } },
      server: () => ({ probeEveryMs: 300 }),
    });
    ({ world, page } = ui);
  }, 60_000);

  afterAll(() => ui?.close());

  it('the pill and the banner both say the card company refused this till', { timeout: 60_000 }, async () => {
    await ui.signIn();
    await expect
      .poll(() => page.locator('#backend').textContent(), { timeout: 10_000 })
      .toBe('Payment network: connected');

    expect(await new SqliteRegistryAdmin(world.backend.store.db).revokeTerminalCertificates('T-0001')).toBe(
      1,
    );
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
  });
});
