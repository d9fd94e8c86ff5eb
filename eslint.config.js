import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const APP_PACKAGES = [
  '@bluetill/backend',
  '@bluetill/pos-terminal',
  '@bluetill/phone-agent',
  '@bluetill/simulator',
  '@bluetill/protocol/*',
  '!@bluetill/protocol/proto-path',
];
const APP_MESSAGE = 'Apps import only @bluetill/protocol (its entry point) and never each other.';

/** Packages that do I/O: only adapter files (and composition roots) import them. */
const DRIVERS = [
  '@grpc/*',
  'better-sqlite3',
  'postgres',
  'pg',
  '@stoprocent/*',
  'nfc-pcsc',
  'electron',
  'pino',
];

const adapterOnly = (names, message) => ({
  patterns: [{ group: names, message }],
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'protocol/src/gen/**', '**/dist/**', '**/out/**', 'artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // protocol: no I/O, no imports of the apps.
  {
    files: ['protocol/src/**/*.ts'],
    ignores: ['protocol/src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['node:fs', 'node:net', 'node:http', 'node:child_process', 'fs', 'net'].map((name) => ({
            name,
            message: 'protocol has no I/O: pass bytes in and out.',
          })),
          patterns: [{ group: ['@bluetill/*'], message: 'protocol imports nothing from the repo.' }],
        },
      ],
    },
  },
  // Apps import only @bluetill/protocol (its entry point) and never each other.
  {
    files: ['backend/src/**/*.ts', 'pos-terminal/src/**/*.ts', 'phone-agent/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', adapterOnly(APP_PACKAGES, APP_MESSAGE)],
    },
  },
  // Tests of an app may drive it with the simulator's peers (the simulator depends on the apps, not the reverse).
  {
    files: ['backend/src/**/*.test.ts', 'pos-terminal/src/**/*.test.ts', 'phone-agent/src/**/*.test.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  // Pure cores also import no drivers: those belong in adapter files (this block repeats the app
  // rule because ESLint's flat config keeps only the last setting of a rule).     [STYLE: dependency direction]
  {
    files: ['backend/src/domain/**/*.ts', 'pos-terminal/src/common/**/*.ts', 'phone-agent/src/core/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@grpc/*',
                'better-sqlite3',
                '@stoprocent/*',
                'nfc-pcsc',
                'node:fs',
                'node:net',
                'electron',
                'pino',
              ],
              message: 'A pure core talks to the world through ports; drivers belong in adapter files.',
            },
            { group: APP_PACKAGES, message: APP_MESSAGE },
          ],
        },
      ],
    },
  },

  // The till's layers, by folder (pos-terminal README, "Layout"): imports point inward, from
  // electron/ and server/ through host/ and adapters/ to common/.                     [VSC, SIG]
  {
    files: ['pos-terminal/src/common/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@grpc/*',
                'better-sqlite3',
                '@stoprocent/*',
                'nfc-pcsc',
                'node:fs',
                'node:net',
                'electron',
                'pino',
              ],
              message: 'A pure core talks to the world through ports; drivers belong in adapter files.',
            },
            {
              regex: '(^|/)(adapters|host|server|electron|preload|renderer)(/|$)|(^|/)compose-till$',
              message:
                'The till core (common/) imports no adapters, host, server, Electron or UI: they are wired to it through ports in compose-till.ts.',
            },
            { group: APP_PACKAGES, message: APP_MESSAGE },
          ],
        },
      ],
    },
  },
  {
    files: ['pos-terminal/src/adapters/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(host|server|electron|preload|renderer)(/|$)|(^|/)compose-till$',
              message:
                'An adapter implements a port of the core (common/); it knows no host, server, Electron or UI.',
            },
            { group: APP_PACKAGES, message: APP_MESSAGE },
          ],
        },
      ],
    },
  },
  {
    files: ['pos-terminal/src/host/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(server|electron|preload|renderer)(/|$)',
              message:
                'The cashier host is shared by the HTTP server and Electron main: it imports neither (nor the UI).',
            },
            { group: APP_PACKAGES, message: APP_MESSAGE },
          ],
        },
      ],
    },
  },
  {
    files: ['pos-terminal/src/server/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '(^|/)(electron|preload)(/|$)', message: 'The headless server runs without Electron.' },
            { group: APP_PACKAGES, message: APP_MESSAGE },
          ],
        },
      ],
    },
  },
  // The backend's layers (backend README, "Layout"): domain ← ports ← app ← adapters, admin ← cli,
  // main.ts (the composition root). A layer imports none of those outside it.          [VSC, SIG]
  innerLayer(
    'backend/src/ports/**/*.ts',
    '(^|/)(app|adapters|admin|cli)(/|$)|(^|/)main$',
    'A port is a contract: it names domain types, never a use case, an adapter or a command.',
    DRIVERS,
  ),
  innerLayer(
    'backend/src/app/**/*.ts',
    '(^|/)(adapters|admin|cli)(/|$)|(^|/)main$',
    'A use case reaches storage, keys and the clock through ports: adapters are wired to it in main.ts.',
    DRIVERS,
  ),
  innerLayer(
    'backend/src/adapters/**/*.ts',
    '(^|/)(admin|cli)(/|$)|(^|/)main$',
    'An adapter implements a port; it knows no operator command and no composition root.',
  ),
  innerLayer(
    'backend/src/admin/**/*.ts',
    '(^|/)cli(/|$)|(^|/)main$',
    "The operator's operations are the CLI's library: they import no command and no server.",
  ),
  // The phone's: core ← ports ← adapters ← cli.
  innerLayer(
    'phone-agent/src/ports/**/*.ts',
    '(^|/)(adapters|cli)(/|$)',
    "A port is a contract of the phone's core: no adapter, no command.",
    DRIVERS,
  ),
  innerLayer(
    'phone-agent/src/adapters/**/*.ts',
    '(^|/)cli(/|$)',
    'An adapter implements a port of the phone; it knows no command.',
  ),
  // The cashier UI runs in a browser or Electron's sandboxed renderer: no Node, no drivers, no
  // Electron; it reaches the till only through the typed contract (common/ipc). Panels sit one
  // folder deeper: for them the rest of the till is two levels up.   [SIG, VSC]
  rendererLayer('pos-terminal/src/renderer/*.ts', '^\\.\\./(?!common/ipc/)'),
  rendererLayer('pos-terminal/src/renderer/panels/**/*.ts', '^\\.\\./\\.\\./(?!common/ipc/)'),
);

/** The renderer's rule for files at one depth: `outside` matches an import that leaves the renderer for anything but common/ipc. */
function rendererLayer(files, outside) {
  return {
    files: [files],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'net',
                'path',
                'child_process',
                'electron',
                '@grpc/*',
                'better-sqlite3',
                '@stoprocent/*',
                'nfc-pcsc',
                'pino',
                'ws',
              ],
              message:
                'The renderer is UI only: it talks to the till through the typed API (preload or WebSocket).',
            },
            {
              regex: outside,
              message: 'The renderer imports only the IPC contract (common/ipc) from the rest of the till.',
            },
            { group: APP_PACKAGES, message: APP_MESSAGE },
          ],
        },
      ],
    },
  };
}

/** An inner layer's rule: `outward` matches an import of a layer outside it (a relative path); `drivers`, packages it may not import either. */
function innerLayer(files, outward, message, drivers = []) {
  return {
    files: [files],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: outward, message },
            ...(drivers.length > 0
              ? [{ group: drivers, message: 'Drivers belong in adapter files, behind a port.' }]
              : []),
            { group: APP_PACKAGES, message: APP_MESSAGE },
          ],
        },
      ],
    },
  };
}
