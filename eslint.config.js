import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const APP_PACKAGES = ['@bluetill/backend', '@bluetill/pos-terminal', '@bluetill/phone-agent', '@bluetill/simulator', '@bluetill/protocol/*', '!@bluetill/protocol/proto-path'];
const APP_MESSAGE = 'Apps import only @bluetill/protocol (its entry point) and never each other.';

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
      'no-restricted-imports': ['error', {
        paths: ['node:fs', 'node:net', 'node:http', 'node:child_process', 'fs', 'net'].map((name) => ({
          name, message: 'protocol has no I/O: pass bytes in and out.' })),
        patterns: [{ group: ['@bluetill/*'], message: 'protocol imports nothing from the repo.' }],
      }],
    },
  },
  // Apps import only @bluetill/protocol (its entry point) and never each other.
  {
    files: ['backend/src/**/*.ts', 'pos-terminal/src/**/*.ts', 'phone-agent/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', adapterOnly(
        APP_PACKAGES, APP_MESSAGE)],
    },
  },
  // Tests of an app may drive it with the simulator's peers (the simulator depends on the apps, not the reverse).
  {
    files: ['backend/src/**/*.test.ts', 'pos-terminal/src/**/*.test.ts', 'phone-agent/src/**/*.test.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  // The cashier UI runs in a browser or Electron's sandboxed renderer: no Node, no drivers, no Electron.   [SIG, VSC]
  {
    files: ['pos-terminal/src/renderer/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'net', 'path', 'child_process', 'electron', '@grpc/*', 'better-sqlite3', '@stoprocent/*', 'nfc-pcsc', 'pino', 'ws'],
            message: 'The renderer is UI only: it talks to the till through the typed API (preload or WebSocket).' },
          { group: APP_PACKAGES, message: APP_MESSAGE },
        ],
      }],
    },
  },
  // Pure cores also import no drivers: those belong in adapter files (this block repeats the app
  // rule because ESLint's flat config keeps only the last setting of a rule).     [STYLE: dependency direction]
  {
    files: ['backend/src/domain/**/*.ts', 'pos-terminal/src/common/**/*.ts', 'phone-agent/src/core/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['@grpc/*', 'better-sqlite3', '@stoprocent/*', 'nfc-pcsc', 'node:fs', 'node:net', 'electron', 'pino'],
            message: 'A pure core talks to the world through ports; drivers belong in adapter files.' },
          { group: APP_PACKAGES, message: APP_MESSAGE },
        ],
      }],
    },
  },
);
