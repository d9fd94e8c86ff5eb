// The import graph's rules, checked in `make test`:
//  1. no import cycle between files, type-only imports included (madge);
//  2. every `@bluetill/<package>` a package's code or tests import is declared in that package's
//     package.json (dependencies or devDependencies), so a package cycle cannot hide behind the
//     workspace's shared node_modules;
//  3. the declared package graph itself has no cycle.
// Exits non-zero with one line per violation.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import madge from 'madge';

const PACKAGES = ['protocol', 'backend', 'pos-terminal', 'phone-agent', 'simulator', 'tests'];
const SOURCE_ROOT = { tests: 'tests' };
const problems = [];

const graph = await madge(
  PACKAGES.map((p) => SOURCE_ROOT[p] ?? `${p}/src`),
  {
    fileExtensions: ['ts'],
    tsConfig: 'tsconfig.json',
    excludeRegExp: [/\/gen\//, /node_modules/],
    detectiveOptions: { ts: { skipTypeImports: false }, tsx: { skipTypeImports: false } },
  },
);
for (const cycle of graph.circular()) problems.push(`import cycle: ${[...cycle, cycle[0]].join(' -> ')}`);

const manifest = (p) => JSON.parse(readFileSync(join(p, 'package.json'), 'utf8'));
const nameOf = new Map(PACKAGES.map((p) => [manifest(p).name, p]));
const declared = new Map(
  PACKAGES.map((p) => {
    const m = manifest(p);
    return [
      p,
      new Set(Object.keys({ ...m.dependencies, ...m.devDependencies }).filter((d) => nameOf.has(d))),
    ];
  }),
);

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'gen') continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* files(path);
    else if (/\.(ts|mts|mjs)$/.test(e.name)) yield path;
  }
}

const IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)['"](@bluetill\/[a-z-]+)/g;
for (const p of PACKAGES) {
  for (const file of files(p)) {
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = nameOf.get(spec);
      if (!target) problems.push(`${file}: imports ${spec}, which is no workspace package`);
      else if (target !== p && !declared.get(p).has(spec))
        problems.push(`${file}: imports ${spec}, not declared in ${p}/package.json`);
    }
  }
}

// The package graph from what is declared: depth-first, a back edge is a cycle.
const state = new Map();
function visit(p, path) {
  state.set(p, 'open');
  for (const dep of declared.get(p)) {
    const q = nameOf.get(dep);
    if (state.get(q) === 'open') problems.push(`package cycle: ${[...path, p, q].join(' -> ')}`);
    else if (!state.has(q)) visit(q, [...path, p]);
  }
  state.set(p, 'done');
}
for (const p of PACKAGES) if (!state.has(p)) visit(p, []);

for (const line of problems) console.error(line);
console.log(
  `check-imports: ${graph.obj ? Object.keys(graph.obj()).length : 0} files, ${problems.length} problem(s)`,
);
process.exit(problems.length ? 1 : 0);
