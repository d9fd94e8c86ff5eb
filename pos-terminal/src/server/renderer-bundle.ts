/**
 * Builds the cashier UI (src/renderer) with esbuild: one JS bundle for the browser, plus the page
 * and its stylesheet. Used by the server at start (in memory) and by the Electron build (to disk).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const RENDERER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'renderer');

export interface RendererAssets {
  readonly 'index.html': string;
  readonly 'app.js': string;
  readonly 'app.css': string;
}

let cached: Promise<RendererAssets> | null = null;

export function buildRenderer(): Promise<RendererAssets> {
  cached ??= (async () => {
    const out = await build({
      entryPoints: [join(RENDERER_DIR, 'main.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: ['chrome120'],
      minify: false,
      sourcemap: false,
      legalComments: 'none',
      logLevel: 'silent',
    });
    return {
      'index.html': readFileSync(join(RENDERER_DIR, 'index.html'), 'utf8'),
      'app.js': out.outputFiles[0]!.text,
      'app.css': readFileSync(join(RENDERER_DIR, 'app.css'), 'utf8'),
    };
  })();
  cached.catch(() => (cached = null));
  return cached;
}
