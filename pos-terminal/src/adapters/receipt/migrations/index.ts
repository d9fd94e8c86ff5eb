import type { Migration } from '../../sqlite/migrate';
import * as m0001 from './0001-create-receipts';
import * as m0002 from './0002-create-batch-closes';

/** The receipt store's schema, one numbered migration per file (run by sqlite/migrate.ts). */
export const migrations: readonly Migration[] = [
  { version: 1, name: '0001-create-receipts', up: m0001.up },
  { version: 2, name: '0002-create-batch-closes', up: m0002.up },
];
