import { defineConfig } from 'vitest/config';

// One config for the whole monorepo: unit tests sit next to the code (src/**/x.test.ts),
// cross-package flows in tests/. Hardware tests (*.hw.test.ts) run only with BLUETILL_HW=1.
const hardware = process.env.BLUETILL_HW === '1';

export default defineConfig({
  test: {
    include: ['*/src/**/*.test.ts', 'tests/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(hardware ? [] : ['**/*.hw.test.ts'])],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
