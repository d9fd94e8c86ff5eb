import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteJournal, migrateJournal } from './journal.sqlite';

const key = new Uint8Array(32).fill(3);

describe('till journal migrations', () => {
  it('2 (pending operations): a journal at version 1 keeps its attempts and gains pending refunds and closes', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bluetill-journal-')), 'journal.sqlite');
    const v1 = new Database(path);
    migrateJournal(v1, 1);
    v1.prepare("INSERT INTO attempts (terminal_txn_id, basket_id, state, request, updated_at) VALUES ('T-1', 'B-1', 'approved', x'00', 5)").run();
    expect(v1.pragma('user_version', { simple: true })).toBe(1);
    v1.close();

    const journal = new SqliteJournal(path, { key }); // migrates to the latest version
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare("SELECT state FROM attempts WHERE basket_id = 'B-1'").all()).toEqual([{ state: 'approved' }]);
    expect(raw.pragma('user_version', { simple: true })).toBe(3);
    raw.close();
    journal.recordPendingOperation('refund', 'T-1:500', 'R-1', 6);
    journal.recordPendingOperation('refund', 'T-1:500', 'R-2', 7); // the first id stays
    expect(journal.pendingOperation('refund', 'T-1:500')).toBe('R-1');
    journal.clearPendingOperation('refund', 'T-1:500');
    expect(journal.pendingOperation('refund', 'T-1:500')).toBeUndefined();
    journal.close();
  });
});

describe('resume tokens in the journal (migration 3)', () => {
  it('keeps a token\'s hash (never the token) with its basket, across a reopen; purges the old ones', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bluetill-journal-')), 'journal.sqlite');
    const hash = (n: number) => new Uint8Array(32).fill(n);
    const journal = new SqliteJournal(path, { key });
    journal.recordResumeToken({ terminalTxnId: 'T-1', basketId: 'B-1', tokenHash: hash(1), at: 100, purgeBefore: 0 });
    journal.close();
    const again = new SqliteJournal(path, { key });
    expect(again.resumeToken('T-1')).toEqual({ basketId: 'B-1', tokenHash: hash(1) });
    again.recordResumeToken({ terminalTxnId: 'T-2', basketId: 'B-2', tokenHash: hash(2), at: 500, purgeBefore: 200 });
    expect(again.resumeToken('T-1')).toBeUndefined();
    expect(again.resumeToken('T-2')?.basketId).toBe('B-2');
    expect(() => again.recordResumeToken({ terminalTxnId: 'T-3', basketId: 'B-3', tokenHash: new Uint8Array(16), at: 600, purgeBefore: 0 })).toThrow(/CHECK/);
    again.close();
  });
});

describe('journal durability per write', () => {
  const synchronous = (j: SqliteJournal): number => (j as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true }) as number;

  it('no write fsyncs on the event loop (NORMAL); begin resolves after a WAL fsync on the thread pool; FULL again after each, also after a failed one', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bluetill-journal-')), 'journal.sqlite');
    const journal = new SqliteJournal(path, { key });
    expect(synchronous(journal)).toBe(2);
    const seen: number[] = [];
    const db = (journal as unknown as { db: Database.Database }).db;
    const pragma = db.pragma.bind(db);
    db.pragma = ((source: string, options?: Database.PragmaOptions) => {
      if (/^synchronous = /.test(source)) seen.push(source.endsWith('NORMAL') ? 1 : 2);
      return pragma(source, options);
    }) as typeof db.pragma;
    const begun = journal.begin({ terminalTxnId: 'T-1', basketId: 'B-1', request: new Uint8Array([1]), at: 1 });
    expect(journal.get('T-1')?.state).toBe('pending'); // visible at once
    expect(journal.walSyncs).toBe(0); // on disk only once the promise resolves
    await begun;
    expect(journal.walSyncs).toBe(1);
    journal.recordResumeToken({ terminalTxnId: 'T-1', basketId: 'B-1', tokenHash: new Uint8Array(32), at: 1, purgeBefore: 0 });
    journal.transition('T-1', 'approved', new Uint8Array([2]), 2);
    expect(seen).toEqual([1, 2, 1, 2, 1, 2]);
    expect(journal.walSyncs).toBe(1);
    expect(() => journal.transition('T-404', 'approved', null, 3)).toThrow(/no attempt/);
    expect(synchronous(journal)).toBe(2);
    journal.close();
  });

  it('they survive a SIGKILL of the till right after they return', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bluetill-journal-')), 'journal.sqlite');
    const script = `
      import { SqliteJournal } from ${JSON.stringify(join(import.meta.dirname, 'journal.sqlite.ts'))};
      const j = new SqliteJournal(${JSON.stringify(path)}, { key: new Uint8Array(32).fill(3) });
      await j.begin({ terminalTxnId: 'T-1', basketId: 'B-1', request: new Uint8Array([1]), at: 1 });
      j.recordResumeToken({ terminalTxnId: 'T-1', basketId: 'B-1', tokenHash: new Uint8Array(32).fill(9), at: 1, purgeBefore: 0 });
      j.transition('T-1', 'approved', new Uint8Array([7]), 2);
      process.kill(process.pid, 'SIGKILL');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.signal).toBe('SIGKILL');
    const journal = new SqliteJournal(path, { key });
    expect(journal.get('T-1')).toMatchObject({ state: 'approved', response: new Uint8Array([7]) });
    expect(journal.resumeToken('T-1')?.tokenHash).toEqual(new Uint8Array(32).fill(9));
    journal.close();
  });
});
