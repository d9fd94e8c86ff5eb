import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, userVersion } from '../../sqlite/migrate';
import { migrations } from '.';

describe('0004-add-attempt-summary', () => {
  it('wipes the requests of known outcomes, keeps the unknown ones, and adds the summary columns', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0004-add-attempt-summary') + 1;
    expect(version).toBe(4);
    migrate(db, migrations, userVersion, version - 1);
    const ins = db.prepare('INSERT INTO attempts VALUES (?, ?, ?, ?, NULL, 1)');
    for (const [txn, state] of [
      ['T-1', 'approved'],
      ['T-2', 'declined'],
      ['T-3', 'abandoned'],
      ['T-4', 'pending'],
      ['T-5', 'unresolved'],
    ])
      ins.run(txn, 'B-1', state, Buffer.from('card data'));
    migrate(db, migrations, userVersion, version);
    const rows = db
      .prepare(
        'SELECT terminal_txn_id AS txn, length(request) AS n, amount_minor AS amount, masked_pan AS pan, request_hash AS hash FROM attempts ORDER BY txn',
      )
      .all();
    expect(rows).toEqual([
      { txn: 'T-1', n: 0, amount: null, pan: null, hash: null },
      { txn: 'T-2', n: 0, amount: null, pan: null, hash: null },
      { txn: 'T-3', n: 0, amount: null, pan: null, hash: null },
      { txn: 'T-4', n: 9, amount: null, pan: null, hash: null },
      { txn: 'T-5', n: 9, amount: null, pan: null, hash: null },
    ]);
    expect(() =>
      db.prepare("UPDATE attempts SET request_hash = x'00' WHERE terminal_txn_id = 'T-1'").run(),
    ).toThrow(/CHECK/);
    db.close();
  });
});
