/**
 * The cashier's screen in Debian's Chromium for the till's browser tests: a simulated world, the
 * headless till server over it (its catalog and receipts in one SQLite file), and a persistent
 * Chromium profile driven by playwright-core. Chromium is part of the machine `make setup` builds
 * (scripts/setup-system.sh): without it the test fails, saying so, rather than skipping.
 *
 * @example
 *   const ui = await openCashierBrowser({ prefix: 'bluetill-ui-', world: { limits: { lingerMs: 500 } } });
 *   await ui.signIn();
 *   …
 *   await ui.close();
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startWorld, type World, type WorldOptions } from '@bluetill/simulator';
import { SqliteCatalog } from '../../pos-terminal/src/adapters/catalog/catalog.sqlite';
import { SqliteReceiptStore } from '../../pos-terminal/src/adapters/receipt/receipt-store.sqlite';
import { startTillServer, type TillServer } from '../../pos-terminal/src/server/till-server';
import { TEST_CASHIER, testCashierAuth } from '../../pos-terminal/src/host/test-cashiers';

export const CHROMIUM = '/usr/bin/chromium';
/** Every browser test's screenshots (the CI keeps artifacts/). */
export const SHOTS = resolve(import.meta.dirname, '../../artifacts/screenshots');
/** A till's screen. */
export const TILL_VIEWPORT = { width: 1280, height: 800 } as const;
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

type TillServerExtras = Omit<Parameters<typeof startTillServer>[0], 'till' | 'catalog' | 'receipts' | 'auth'>;

export interface CashierBrowserOptions {
  /** The temporary directory's name prefix (the till's file, the Chromium profile). */
  readonly prefix: string;
  readonly world?: WorldOptions;
  /** What the till server takes besides the till, its stores and the cashiers (probe period, printer…); `dir` is the test's directory. */
  readonly server?: (dir: string) => TillServerExtras;
  /** Runs after the world is up and before the browser opens (sales to show, say). */
  readonly before?: (world: World) => Promise<void>;
  readonly viewport?: { readonly width: number; readonly height: number };
}

export interface CashierBrowser {
  readonly world: World;
  readonly server: TillServer;
  readonly receipts: SqliteReceiptStore;
  readonly dir: string;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Opens the till's page and signs the test cashier in; resolves once the sale screen is ready. */
  signIn(): Promise<void>;
  close(): Promise<void>;
}

export async function openCashierBrowser(o: CashierBrowserOptions): Promise<CashierBrowser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: run make setup (scripts/setup-system.sh installs Debian's chromium)`,
    );
  mkdirSync(SHOTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), o.prefix));
  const closers: Array<() => unknown> = [() => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const world = await startWorld(o.world ?? {});
    closers.push(() => world.close());
    const catalog = new SqliteCatalog(join(dir, 'till.sqlite'));
    closers.push(() => catalog.close());
    const receipts = new SqliteReceiptStore(join(dir, 'till.sqlite'));
    closers.push(() => receipts.close());
    const server = await startTillServer({
      till: world.till,
      catalog,
      receipts,
      auth: (await testCashierAuth()).auth,
      ...o.server?.(dir),
    });
    closers.push(() => server.close());
    await o.before?.(world);
    const context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: o.viewport ?? TILL_VIEWPORT,
      deviceScaleFactor: 1,
    });
    closers.push(() => context.close());
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      world,
      server,
      receipts,
      dir,
      context,
      page,
      signIn: async () => {
        await page.goto(server.url);
        await page.getByLabel('Cashier', { exact: true }).fill(TEST_CASHIER.id);
        await page.getByLabel('PIN or password', { exact: true }).fill(TEST_CASHIER.secret);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.locator('body[data-ready="true"]').waitFor();
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
