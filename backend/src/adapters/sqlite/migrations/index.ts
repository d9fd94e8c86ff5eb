import type Database from 'better-sqlite3';
import * as m0001 from './0001-create-schema';
import * as m0002 from './0002-create-terminal-certificates';
import * as m0003 from './0003-create-batches-and-adjustments';
import * as m0004 from './0004-add-authorization-cvm';
import * as m0005 from './0005-create-temporary-codes';
import * as m0006 from './0006-create-merchant-cards';
import * as m0007 from './0007-add-account-balances';
import * as m0008 from './0008-guard-ledger-currencies';
import * as m0009 from './0009-index-challenges-by-terminal';
import * as m0010 from './0010-create-offline-sales';
import * as m0011 from './0011-add-offline-limits';
import * as m0012 from './0012-create-card-atcs';

export interface Migration {
  readonly version: number;
  readonly name: string;
  up(db: Database.Database): void;
}

/** One numbered migration per file, applied in order; never edit one that has shipped.   [SIG] */
export const migrations: readonly Migration[] = [
  { version: 1, name: '0001-create-schema', up: m0001.up },
  { version: 2, name: '0002-create-terminal-certificates', up: m0002.up },
  { version: 3, name: '0003-create-batches-and-adjustments', up: m0003.up },
  { version: 4, name: '0004-add-authorization-cvm', up: m0004.up },
  { version: 5, name: '0005-create-temporary-codes', up: m0005.up },
  { version: 6, name: '0006-create-merchant-cards', up: m0006.up },
  { version: 7, name: '0007-add-account-balances', up: m0007.up },
  { version: 8, name: '0008-guard-ledger-currencies', up: m0008.up },
  { version: 9, name: '0009-index-challenges-by-terminal', up: m0009.up },
  { version: 10, name: '0010-create-offline-sales', up: m0010.up },
  { version: 11, name: '0011-add-offline-limits', up: m0011.up },
  { version: 12, name: '0012-create-card-atcs', up: m0012.up },
];
