// Generates TypeScript for the .proto schemas into src/gen (never edited by hand).
// buf (npm @bufbuild/buf, a binary inside the package) drives ts-proto's protoc plugin.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, '..', 'node_modules', '.bin');
rmSync(join(root, 'src', 'gen'), { recursive: true, force: true });
execFileSync(join(bin, 'buf'), ['generate'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
});
