import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';
import { SqliteBackendStore } from '../backend-store.sqlite';
import { migrations } from './index';

const version = migrations.findIndex((m) => m.name === '0012-create-card-atcs') + 1;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const CARDS = `
  INSERT INTO accounts (id, kind, currency) VALUES ('acct-C-1', 'cardholder', 'EUR'), ('acct-C-2', 'cardholder', 'EUR');
  INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier,
                     credit_limit_minor, currency, account_id, last_atc)
    VALUES ('C-1', 'h1', x'00', '679999******0019', '2912', 'A', 'active', x'00', x'00', 1000, 'EUR', 'acct-C-1', 12),
           ('C-2', 'h2', x'00', '679999******0027', '2912', 'B', 'active', x'00', x'00', 1000, 'EUR', 'acct-C-2', -1);`;

describe('migration 0012-create-card-atcs', () => {
  it('keeps a database one version older: each card’s floor is its last ATC then, and a card’s ATC is stored once', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, version - 1);
    db.exec(CARDS);
    migrate(db, version);
    expect(db.pragma('user_version', { simple: true })).toBe(version);
    expect(
      db.prepare('SELECT id, atc_floor AS floor, last_atc AS last FROM cards ORDER BY id').all(),
    ).toEqual([
      { id: 'C-1', floor: 12, last: 12 },
      { id: 'C-2', floor: -1, last: -1 },
    ]);
    const use = db.prepare('INSERT INTO card_atcs (card_id, atc) VALUES (?, ?)');
    use.run('C-1', 20);
    use.run('C-2', 20);
    expect(() => use.run('C-1', 20)).toThrow(/UNIQUE/);
    expect(() => use.run('C-1', 65_536)).toThrow(/CHECK/);
    expect(() => use.run('C-9', 1)).toThrow(/FOREIGN KEY/);
    db.close();
  });

  it('an upgraded store refuses the ATCs at or below a card’s floor and takes each one above it once, in any order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bluetill-m0012-'));
    dirs.push(dir);
    const path = join(dir, 'backend.db');
    const db = new Database(path);
    db.pragma('foreign_keys = ON');
    migrate(db, version - 1);
    db.exec(CARDS);
    db.close();
    const store = new SqliteBackendStore(path);
    try {
      const use = (card: string, atc: number) => store.commit((tx) => tx.useAtc(card, atc));
      expect(await use('C-1', 12)).toBe(false);
      expect(await use('C-1', 3)).toBe(false);
      expect(await use('C-1', 15)).toBe(true);
      expect(await use('C-1', 13)).toBe(true);
      expect(await use('C-1', 15)).toBe(false);
      expect(await use('C-2', 3)).toBe(true);
      expect((await store.read((tx) => tx.findCardById('C-1')))!.lastAtc).toBe(15);
    } finally {
      await store.close();
    }
  });
});
