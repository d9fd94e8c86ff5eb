/**
 * Builds the Electron app into pos-terminal/dist: main (ESM, node), preload (CommonJS, as a
 * sandboxed preload must be), renderer (the same UI the server serves). The repo's packages
 * (@bluetill/*, TypeScript sources) are bundled; npm packages stay external (native modules are
 * rebuilt for Electron by electron-builder). So the bundled packages' own npm dependencies (the
 * protocol's @bufbuild/protobuf and lru-cache) are this package's dependencies too: they are
 * resolved from here at run time, and another major version elsewhere in the tree (electron-builder
 * brings lru-cache 6) must not be the one found.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { buildRenderer } from '../server/renderer-bundle';

export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const npmPackagesExternal: Plugin = {
  name: 'npm-packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@bluetill/') ? undefined : { path: args.path, external: true },
    );
  },
};

export async function buildElectronApp(outDir = join(PACKAGE_DIR, 'dist')): Promise<{ outDir: string }> {
  const src = join(PACKAGE_DIR, 'src');
  await build({
    entryPoints: [join(src, 'electron', 'main.ts')],
    outfile: join(outDir, 'electron', 'main.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    plugins: [npmPackagesExternal],
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __bluetillCreateRequire } from 'node:module'; const require = __bluetillCreateRequire(import.meta.url);",
    },
  });
  await build({
    entryPoints: [join(src, 'preload', 'preload.ts')],
    outfile: join(outDir, 'preload', 'preload.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'chrome120',
    external: ['electron'],
    logLevel: 'warning',
  });
  const assets = await buildRenderer();
  mkdirSync(join(outDir, 'renderer'), { recursive: true });
  for (const [name, text] of Object.entries(assets)) writeFileSync(join(outDir, 'renderer', name), text);
  return { outDir };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildElectronApp().then(
    ({ outDir }) => console.log(`built ${outDir}`),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
