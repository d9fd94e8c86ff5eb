import * as m0001 from './0001-create-schema';
import * as m0002 from './0002-create-terminal-certificates';
import * as m0003 from './0003-create-batches-and-adjustments';
import * as m0004 from './0004-add-authorization-cvm';
import * as m0005 from './0005-create-temporary-codes';
import * as m0006 from './0006-create-merchant-cards';
import * as m0007 from './0007-add-account-balances';
import * as m0008 from './0008-add-ledger-invariants';
import * as m0009 from './0009-allow-evicting-unused-challenges';
import * as m0010 from './0010-create-offline-sales';
import * as m0011 from './0011-add-offline-limits';
import * as m0012 from './0012-create-card-atcs';
import * as m0013 from './0013-spread-account-balances';
import * as m0014 from './0014-add-settle-record';
import * as m0015 from './0015-index-challenges';
import * as m0016 from './0016-add-settle-record-many';

export interface PostgresMigration {
  readonly version: number;
  readonly name: string;
  /** PostgreSQL DDL (several statements), run inside the migration runner's transaction. */
  readonly up: string;
}

/**
 * One numbered migration per file, applied in order; never edit one that has shipped.
 * 0001–0007 mirror the SQLite migrations of the same names; 0008 adds the invariants only the
 * PostgreSQL store needs the database to guard (the SQLite store has a single writer); 0009 lets
 * an unused challenge be evicted before it expires; 0010–0012 mirror the SQLite migrations of the
 * same names; 0013 spreads each account's running balance over slot rows (PostgreSQL only: SQLite
 * has one writer); 0014 adds the function that writes a Settle in one statement (PostgreSQL only:
 * a round trip costs nothing on SQLite); 0015 indexes challenges by terminal (SQLite's 0009) and by
 * expiry.
 */
export const postgresMigrations: readonly PostgresMigration[] = [
  { version: 1, name: '0001-create-schema', up: m0001.up },
  { version: 2, name: '0002-create-terminal-certificates', up: m0002.up },
  { version: 3, name: '0003-create-batches-and-adjustments', up: m0003.up },
  { version: 4, name: '0004-add-authorization-cvm', up: m0004.up },
  { version: 5, name: '0005-create-temporary-codes', up: m0005.up },
  { version: 6, name: '0006-create-merchant-cards', up: m0006.up },
  { version: 7, name: '0007-add-account-balances', up: m0007.up },
  { version: 8, name: '0008-add-ledger-invariants', up: m0008.up },
  { version: 9, name: '0009-allow-evicting-unused-challenges', up: m0009.up },
  { version: 10, name: '0010-create-offline-sales', up: m0010.up },
  { version: 11, name: '0011-add-offline-limits', up: m0011.up },
  { version: 12, name: '0012-create-card-atcs', up: m0012.up },
  { version: 13, name: '0013-spread-account-balances', up: m0013.up },
  { version: 14, name: '0014-add-settle-record', up: m0014.up },
  { version: 15, name: '0015-index-challenges', up: m0015.up },
  { version: 16, name: '0016-add-settle-record-many', up: m0016.up },
];

/** The version of a migration by its name, so tests and callers never hard-code numbers. */
export function versionOf(name: string): number {
  const m = postgresMigrations.find((x) => x.name === name);
  if (!m) throw new Error(`no PostgreSQL migration named ${name}`);
  return m.version;
}
