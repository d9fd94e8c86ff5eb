/**
 * The built Electron main under plain Node with a stand-in `electron` module (the Electron binary
 * cannot be downloaded here): it composes a till with the real adapters against a seeded backend,
 * opens one sandboxed window on the built page, serves every contract channel over IPC, forwards
 * events, and quits cleanly.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '@bluetill/simulator';
import { REQUEST_CHANNELS } from '../../pos-terminal/src/common/ipc/channels';
import { generateTillKey } from '../../pos-terminal/src/adapters/journal/journal-key';
import { buildElectronApp, PACKAGE_DIR } from '../../pos-terminal/src/electron/build';
import { writeTestCashiersFile } from '../../pos-terminal/src/host/test-cashiers';

const FAKE_ELECTRON = `
const listeners = {};
const log = (...a) => console.log(JSON.stringify(a));
export const app = { isPackaged: false, getPath: () => process.env.FAKE_USER_DATA, enableSandbox() { log('sandbox'); }, whenReady: () => Promise.resolve(),
  on(e, f) { listeners[e] = f; }, exit(c) { log('exit', c); process.exit(c); } };
const handlers = {};
export const ipcMain = { handle(c, f) { handlers[c] = f; log('handle', c); } };
export const session = { defaultSession: { setPermissionRequestHandler() {} } };
export const shell = { openExternal() {} };
export class BrowserWindow {
  constructor(o) { log('window', o.webPreferences); this.webContents = { on() {}, setWindowOpenHandler() {}, send(e) { log('event', e); } }; }
  once() {} isDestroyed() { return false; }
  async loadURL(u) {
    log('load', u);
    const ev = { senderFrame: { url: u } };
    const answer = (r) => (r.ok ? 'ok' : r.error.code);
    log('before sign-in', answer(await handlers['till:snapshot'](ev, {})));
    log('wrong PIN', answer(await handlers['auth:sign-in'](ev, { cashierId: 'cora', secret: '0000' })));
    log('sign-in', answer(await handlers['auth:sign-in'](ev, { cashierId: 'cora', secret: '2468' })));
    log('after sign-in', answer(await handlers['till:snapshot'](ev, {})));
    log('close without a manager', answer(await handlers['batch:close'](ev, {})));
    log('draft', answer(await handlers['draft:clear'](ev, {})));
    setTimeout(() => listeners['before-quit']({ preventDefault() {} }), 1500);
  }
}`;

describe('Electron main (built, with a stand-in electron module)', () => {
  let world: World;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bluetill-electron-main-'));
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('composes the till, opens one sandboxed window, serves the contract over IPC and quits cleanly', async () => {
    // Built inside the package so that the bundle resolves npm packages from the repo's node_modules, as in development.
    const { outDir } = await buildElectronApp(join(PACKAGE_DIR, 'dist', `smoke-${process.pid}`));
    writeFileSync(join(dir, 'fake-electron.mjs'), FAKE_ELECTRON);
    writeFileSync(
      join(dir, 'hooks.mjs'),
      `export async function resolve(s, c, next) { return s === 'electron' ? { url: ${JSON.stringify(pathToFileURL(join(dir, 'fake-electron.mjs')).href)}, shortCircuit: true } : next(s, c); }`,
    );
    writeFileSync(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});`,
    );
    try {
      const child = spawn(
        process.execPath,
        [
          '--import',
          pathToFileURL(join(dir, 'register.mjs')).href,
          join(outDir, 'electron', 'main.mjs'),
          '--terminal',
          join(world.dir, 'terminal-T-0001.json'),
          '--backend',
          world.backend.address,
          '--ble',
          'none',
          '--data',
          join(dir, 'data'),
          '--cashiers',
          await writeTestCashiersFile(join(dir, 'cashiers.json')),
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, FAKE_USER_DATA: join(dir, 'user'), BLUETILL_TILL_KEY: generateTillKey() },
        },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += String(d)));
      child.stderr.on('data', (d) => (out += String(d)));
      const code = await new Promise((r) => child.once('exit', r));
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('['))
        .map((l) => JSON.parse(l) as [string, unknown]);
      expect(code, out).toBe(0);
      expect(lines.find(([k]) => k === 'window')?.[1]).toMatchObject({
        contextIsolation: true,
        nodeIntegration: false,
        sandbox: true,
        preload: join(outDir, 'preload', 'preload.cjs'),
      });
      expect(lines.find(([k]) => k === 'load')?.[1]).toBe(
        pathToFileURL(join(outDir, 'renderer', 'index.html')).href,
      );
      expect(lines.filter(([k]) => k === 'handle').map(([, c]) => c)).toEqual([...REQUEST_CHANNELS]);
      // The same sign-in as the browser's: nothing before it, a wrong PIN refused, a manager needed for the close.
      expect(Object.fromEntries(lines.filter(([k]) => /sign-in|PIN|manager/.test(k)))).toEqual({
        'before sign-in': 'unauthenticated',
        'wrong PIN': 'unauthenticated',
        'sign-in': 'ok',
        'after sign-in': 'ok',
        'close without a manager': 'approval_required',
      });
      expect(lines.filter(([k]) => k === 'event').map(([, e]) => e)).toContain('till:changed');
      // No event reached the window before a cashier signed in.
      expect(lines.findIndex(([k]) => k === 'event')).toBeGreaterThan(
        lines.findIndex(([k]) => k === 'sign-in'),
      );
      expect(lines.at(-1)).toEqual(['exit', 0]);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});
