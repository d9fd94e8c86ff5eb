/**
 * The Electron app builds without the Electron binary (it is not downloadable here): main, a
 * sandbox-ready CommonJS preload and the renderer. The preload is run against a stand-in for
 * electron's contextBridge/ipcRenderer to check the one object it exposes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildElectronApp } from './build';
import { CASHIER_WEB_PREFERENCES } from './window-options';
import type { TillApi } from '../common/ipc/till-api';

describe('Electron build', () => {
  let out: string;
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'bluetill-electron-'));
    await buildElectronApp(out);
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('isolates the renderer: context isolation and sandbox on, no Node', () => {
    expect(CASHIER_WEB_PREFERENCES).toMatchObject({
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
    });
    const main = readFileSync(join(out, 'electron', 'main.mjs'), 'utf8');
    expect(main).toMatch(/from "electron"/);
    expect(main).not.toMatch(/from "@bluetill\//); // the repo's TypeScript is bundled
    expect(main).toContain('sandbox: true');
    expect(readFileSync(join(out, 'renderer', 'index.html'), 'utf8')).toContain('Content-Security-Policy');
    expect(readFileSync(join(out, 'renderer', 'app.js'), 'utf8')).not.toMatch(/require\(|from "node:/);
  });

  it('preload exposes exactly one TillApi object and only the contract channels', async () => {
    const code = readFileSync(join(out, 'preload', 'preload.cjs'), 'utf8');
    const required: string[] = [];
    const exposed = new Map<string, unknown>();
    const handlers = new Map<string, (e: unknown, p: unknown) => void>();
    const invoked: Array<[string, unknown]> = [];
    const electron = {
      contextBridge: { exposeInMainWorld: (k: string, v: unknown) => exposed.set(k, v) },
      ipcRenderer: {
        invoke: async (c: string, p: unknown) => {
          invoked.push([c, p]);
          return c === 'draft:add'
            ? { ok: false, error: { code: 'not_found', message: 'no product x' } }
            : { ok: true, result: { counterName: 'C1' } };
        },
        on: (c: string, h: (e: unknown, p: unknown) => void) => handlers.set(c, h),
        removeListener: (c: string) => handlers.delete(c),
      },
    };
    const module = { exports: {} };
    runInNewContext(code, {
      module,
      exports: module.exports,
      require: (name: string) => (required.push(name), name === 'electron' ? electron : undefined),
    });
    expect(required).toEqual(['electron']);
    expect([...exposed.keys()]).toEqual(['bluetill']);
    const api = exposed.get('bluetill') as TillApi;
    expect(await api.invoke('till:snapshot', {})).toEqual({ counterName: 'C1' });
    await expect(api.invoke('draft:add', { sku: 'x' })).rejects.toThrow('no product x');
    await expect(api.invoke('shell:exec' as never, {} as never)).rejects.toThrow(/no channel/);
    expect(invoked.map(([c]) => c)).toEqual(['till:snapshot', 'draft:add']);
    const seen: unknown[] = [];
    const off = api.on('receipt:issued', (r) => seen.push(r));
    handlers.get('receipt:issued')!({}, { terminalTxnId: 't1' });
    off();
    expect(handlers.has('receipt:issued')).toBe(false);
    expect(seen).toEqual([{ terminalTxnId: 't1' }]);
    expect(() => api.on('ipc:anything' as never, () => undefined)).toThrow(/no event/);
  });
});

describe('electron-builder.yml', () => {
  it("passes electron-builder's own validation, with Linux AppImage+deb, Windows NSIS and macOS dmg", async () => {
    const { getConfig, validateConfiguration } = await import('app-builder-lib/out/util/config/config.js');
    const { DebugLogger } = await import('builder-util');
    const root = join(import.meta.dirname, '..', '..', '..');
    const config = await getConfig(join(root, 'pos-terminal'), join(root, 'electron-builder.yml'), null);
    await validateConfiguration(config, new DebugLogger(false));
    expect([config.linux?.target, config.win?.target, config.mac?.target]).toEqual([
      ['AppImage', 'deb'],
      ['nsis'],
      ['dmg'],
    ]);
    expect(JSON.stringify(config.files)).toContain('dist/preload/**');
    expect(config.extraMetadata?.main).toBe('dist/electron/main.mjs');
  });
});
