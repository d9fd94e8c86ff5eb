import type { Migration } from '../../sqlite/migrate';
import * as m0001 from './0001-create-attempts';
import * as m0002 from './0002-create-pending-operations';
import * as m0003 from './0003-create-resume-tokens';
import * as m0004 from './0004-add-attempt-summary';
import * as m0005 from './0005-create-baskets';
import * as m0006 from './0006-create-offline-sales';
import * as m0007 from './0007-create-offline-parameters';

/** The journal's schema, one numbered migration per file (run by sqlite/migrate.ts). */
export const migrations: readonly Migration[] = [
  { version: 1, name: '0001-create-attempts', up: m0001.up },
  { version: 2, name: '0002-create-pending-operations', up: m0002.up },
  { version: 3, name: '0003-create-resume-tokens', up: m0003.up },
  { version: 4, name: '0004-add-attempt-summary', up: m0004.up },
  { version: 5, name: '0005-create-baskets', up: m0005.up },
  { version: 6, name: '0006-create-offline-sales', up: m0006.up },
  { version: 7, name: '0007-create-offline-parameters', up: m0007.up },
];
