import type { Migration } from '../../sqlite/migrate';
import * as m0001 from './0001-create-products';

/** The catalog's schema, one numbered migration per file (run by sqlite/migrate.ts). */
export const migrations: readonly Migration[] = [{ version: 1, name: '0001-create-products', up: m0001.up }];
