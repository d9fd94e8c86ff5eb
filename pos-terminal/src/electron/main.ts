/**
 * The Electron main process: owns the till core (same composition as `serve`), hosts the TillApi
 * over IPC for one sandboxed cashier window behind the same session gate as `serve` (a cashier
 * signs in on the page; a manager approves refunds and voids above the limit and the day's close),
 * and forwards the host's events to the window while a cashier is signed in.
 *
 *   BLUETILL_TILL_KEY=… npm run pos -w @bluetill/pos-terminal -- --terminal FILE --backend HOST:PORT --cashiers FILE --ble none|uart:PATH|socket:N [--data DIR] [--printer SPEC]
 *     [--offline on|off (BLUETILL_OFFLINE; default on)] [--trust FILE (BLUETILL_TRUST; default trust.json beside the terminal file)]
 *     [--time-zone ZONE (BLUETILL_TIME_ZONE; default the machine's)]
 *
 * Offline mode as in `serve` (server/cli.ts): on unless turned off, under the card company's signed limits.
 */
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { app, BrowserWindow, ipcMain, session, shell } from 'electron';
import { REQUEST_CHANNELS } from '../common/ipc/channels';
import { ApiError } from '../common/ipc/till-api';
import { CashierHost } from '../host/cashier-host';
import { CashierAuth } from '../host/cashier-auth';
import { readCashiersFile } from '../adapters/auth/cashiers-file';
import { composeTill, type ComposedTill } from '../compose-till';
import { readOfflineTrust } from '../adapters/trust/trust-file';
import { isTimeZone, machineTimeZone } from '../common/business-day';
import { CASHIER_WEB_PREFERENCES, CASHIER_WINDOW } from './window-options';

/** Where the build put the bundles (dist/electron/main.mjs → dist/preload, dist/renderer). */
const DIST = join(import.meta.dirname, '..');

function config() {
  const { values } = parseArgs({
    args: process.argv.slice(app.isPackaged ? 1 : 2),
    strict: false,
    options: {
      terminal: { type: 'string' },
      backend: { type: 'string' },
      settlement: { type: 'string' },
      ble: { type: 'string' },
      data: { type: 'string' },
      printer: { type: 'string' },
      counter: { type: 'string' },
      currency: { type: 'string' },
      'tls-dir': { type: 'string' },
      insecure: { type: 'boolean' },
      cashiers: { type: 'string' },
      offline: { type: 'string' },
      trust: { type: 'string' },
      'time-zone': { type: 'string' },
    },
  });
  const s = (k: keyof typeof values, env: string, fallback?: string) =>
    typeof values[k] === 'string' ? (values[k] as string) : (process.env[env] ?? fallback);
  const terminalFile = s('terminal', 'BLUETILL_TERMINAL');
  const backend = s('backend', 'BLUETILL_BACKEND');
  const cashiersFile = s('cashiers', 'BLUETILL_CASHIERS');
  if (!terminalFile || !backend || !cashiersFile)
    throw new Error(
      'give --terminal FILE, --backend HOST:PORT[,HOST:PORT…] and --cashiers FILE (or BLUETILL_TERMINAL, BLUETILL_BACKEND, BLUETILL_CASHIERS)',
    );
  const settlement = s('settlement', 'BLUETILL_SETTLEMENT');
  const printer = s('printer', 'BLUETILL_PRINTER');
  const tlsDir = s('tls-dir', 'BLUETILL_TLS_DIR');
  const insecure = values.insecure === true || process.env.BLUETILL_INSECURE === '1';
  const offlineMode = s('offline', 'BLUETILL_OFFLINE', 'on');
  if (offlineMode !== 'on' && offlineMode !== 'off')
    throw new Error(`--offline (BLUETILL_OFFLINE) must be on or off, not "${offlineMode}"`);
  const timeZone = s('time-zone', 'BLUETILL_TIME_ZONE', machineTimeZone())!;
  if (!isTimeZone(timeZone)) throw new Error(`--time-zone: unknown time zone "${timeZone}"`);
  const offline =
    offlineMode === 'on'
      ? {
          ...readOfflineTrust(s('trust', 'BLUETILL_TRUST', join(dirname(terminalFile), 'trust.json'))!),
          timeZone,
        }
      : undefined;
  if (insecure)
    console.error(
      'WARNING: --insecure: the backend connection has no TLS and no client certificate (local debugging only)',
    );
  return {
    cashiersFile,
    terminalFile,
    backend,
    ...(settlement ? { settlement } : {}),
    ...(printer ? { printer } : {}),
    ...(tlsDir ? { tlsDir } : {}),
    insecure,
    ...(offline ? { offline } : {}),
    timeZone,
    dataDir: s('data', 'BLUETILL_DATA', join(app.getPath('userData'), 'till'))!,
    ble: s('ble', 'BLUETILL_BLE', 'none')!,
    counterName: s('counter', 'BLUETILL_COUNTER', 'Counter 1')!,
    currency: s('currency', 'BLUETILL_CURRENCY', 'EUR')!,
  };
}

async function start(): Promise<void> {
  const { cashiersFile, timeZone, ...tillConfig } = config();
  const cashiers = readCashiersFile(cashiersFile);
  const composed: ComposedTill = await composeTill(tillConfig);
  const host = new CashierHost({
    till: composed.till,
    catalog: composed.catalog,
    receipts: composed.receipts,
    printer: composed.printer,
    pdfDir: composed.pdfDir,
    timeZone,
  });
  // One window, one session: signed out until a cashier signs in on the page. No API token here.
  const gate = new CashierAuth({ cashiers, apiToken: null }).session({
    invoke: (c, p) => host.invoke(c, p),
    saleTotalMinor: (txn) => composed.receipts.get(txn)?.receipt.total?.minor,
  });
  const pageUrl = new URL(`file://${join(DIST, 'renderer', 'index.html')}`).href;

  // Nothing from the web: no permissions, no navigation, no new windows.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, done) => done(false));
  const win = new BrowserWindow({
    ...CASHIER_WINDOW,
    show: false,
    webPreferences: { ...CASHIER_WEB_PREFERENCES, preload: join(DIST, 'preload', 'preload.cjs') },
  });
  win.webContents.on('will-navigate', (e) => e.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });

  for (const channel of REQUEST_CHANNELS) {
    ipcMain.handle(channel, async (event, payload: unknown) => {
      if (event.senderFrame?.url !== pageUrl) throw new Error('not the cashier window');
      try {
        return { ok: true, result: await gate.invoke(channel, payload) };
      } catch (error) {
        if (error instanceof ApiError)
          return { ok: false, error: { code: error.code, message: error.message } };
        return { ok: false, error: { code: 'internal', message: 'the till could not do that' } };
      }
    });
  }
  const off = host.subscribe((event, payload) => {
    if (gate.principal && !win.isDestroyed()) win.webContents.send(event, payload);
  });

  win.once('ready-to-show', () => win.show());
  await win.loadURL(pageUrl);

  let stopping = false;
  app.on('before-quit', (e) => {
    if (stopping) return;
    stopping = true;
    e.preventDefault();
    off();
    void host
      .close()
      .then(() => composed.close())
      .finally(() => app.exit(0));
  });
}

app.enableSandbox();
app
  .whenReady()
  .then(start, () => undefined)
  .catch((error: unknown) => {
    console.error(`bluetill till: ${(error as Error).message}`);
    app.exit(1);
  });
app.on('window-all-closed', () => app.quit());
