import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrations } from './migrations';
import { SqliteJournal, migrateJournal } from './journal.sqlite';

const key = new Uint8Array(32).fill(3);

describe('till journal migrations', () => {
  it('2 (pending operations): a journal at version 1 keeps its attempts and gains pending refunds and closes', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bluetill-journal-')), 'journal.sqlite');
    const v1 = new Database(path);
    migrateJournal(v1, 1);
    v1.prepare(
      "INSERT INTO attempts (terminal_txn_id, basket_id, state, request, updated_at) VALUES ('T-1', 'B-1', 'approved', x'00', 5)",
    ).run();
    expect(v1.pragma('user_version', { simple: true })).toBe(1);
    v1.close();

    const journal = new SqliteJournal(path, { key }); // migrates to the latest version
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare("SELECT state FROM attempts WHERE basket_id = 'B-1'").all()).toEqual([
      { state: 'approved' },
    ]);
    expect(raw.pragma('user_version', { simple: true })).toBe(migrations.length);
    raw.close();
    journal.recordPendingOperation('refund', 'T-1:500', 'R-1', 6);
    journal.recordPendingOperation('refund', 'T-1:500', 'R-2', 7); // the first id stays
    expect(journal.pendingOperation('refund', 'T-1:500')).toBe('R-1');
    journal.clearPendingOperation('refund', 'T-1:500');
    expect(journal.pendingOperation('refund', 'T-1:500')).toBeUndefined();
    journal.close();
  });
});

describe('till journal migration 5 (waiting baskets, the sale, basket numbering)', () => {
  const tea = { sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 };

  it('5: a journal at version 4 keeps its attempts and gains kept baskets, the sale being rung up and the last basket number', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bluetill-journal-')), 'journal.sqlite');
    const v4 = new Database(path);
    migrateJournal(v4, 4);
    v4.prepare(
      "INSERT INTO attempts (terminal_txn_id, basket_id, state, request, updated_at) VALUES ('T-1', 'B-0001', 'approved', x'', 5)",
    ).run();
    v4.close();
    const v5 = new Database(path);
    migrateJournal(v5, 5);
    expect(v5.pragma('user_version', { simple: true })).toBe(5);
    expect(v5.prepare('SELECT basket_id AS b FROM attempts').all()).toEqual([{ b: 'B-0001' }]);
    expect(() => v5.prepare("INSERT INTO till_state (key, value) VALUES ('other', 'x')").run()).toThrow(
      /CHECK/,
    );
    v5.close();

    const journal = new SqliteJournal(path, { key });
    expect(journal.loadBaskets()).toEqual({ baskets: [], lastNumber: 0, draft: [] });
    journal.writeBaskets({ put: { id: 'B-0002', items: [tea] }, lastNumber: 2, draft: [] });
    journal.writeBaskets({ put: { id: 'B-0003', items: [{ ...tea, quantity: 1 }] }, lastNumber: 3 });
    journal.writeBaskets({ remove: 'B-0002', draft: [tea] });
    journal.close();
    const again = new SqliteJournal(path, { key });
    expect(again.loadBaskets()).toEqual({
      baskets: [{ id: 'B-0003', items: [{ ...tea, quantity: 1 }] }],
      lastNumber: 3,
      draft: [tea],
    });
    again.close();
  });
});

describe('no card data once the outcome is known (migration 4)', () => {
  const fresh = () => join(mkdtempSync(join(tmpdir(), 'bluetill-journal-')), 'journal.sqlite');
  const files = (path: string) =>
    [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f));
  const sealedOf = (path: string, txn: string) => {
    const raw = new Database(path, { readonly: true });
    const row = raw.prepare('SELECT request FROM attempts WHERE terminal_txn_id = ?').get(txn) as {
      request: Buffer;
    };
    raw.close();
    return row.request;
  };

  it('4: a journal at version 3 keeps the requests of attempts whose outcome is unknown and wipes the others', () => {
    const path = fresh();
    const v3 = new Database(path);
    migrateJournal(v3, 3);
    const insert = v3.prepare(
      "INSERT INTO attempts (terminal_txn_id, basket_id, state, request, updated_at) VALUES (?, 'B-1', ?, x'0102030405', 5)",
    );
    for (const [txn, state] of [
      ['T-a', 'approved'],
      ['T-d', 'declined'],
      ['T-x', 'abandoned'],
      ['T-p', 'pending'],
      ['T-u', 'unresolved'],
    ])
      insert.run(txn, state);
    v3.close();
    const v4 = new Database(path);
    migrateJournal(v4, 4);
    const rows = v4
      .prepare(
        'SELECT terminal_txn_id AS txn, length(request) AS n, amount_minor AS amount, masked_pan AS masked FROM attempts ORDER BY txn',
      )
      .all();
    expect(rows).toEqual([
      { txn: 'T-a', n: 0, amount: null, masked: null },
      { txn: 'T-d', n: 0, amount: null, masked: null },
      { txn: 'T-p', n: 5, amount: null, masked: null },
      { txn: 'T-u', n: 5, amount: null, masked: null },
      { txn: 'T-x', n: 0, amount: null, masked: null },
    ]);
    expect(v4.pragma('user_version', { simple: true })).toBe(4);
    v4.close();
  });

  it('keeps the sealed request while the outcome is unknown; once approved, declined or abandoned only the amount, masked PAN and request hash stay, and the sealed bytes are gone from the database, its free pages and the WAL', async () => {
    const path = fresh();
    const journal = new SqliteJournal(path, { key });
    const request = new Uint8Array(
      Buffer.from('PAN 6799998900000000011 NAME TEST/CARDHOLDER track2 6799998900000000011D3012', 'latin1'),
    );
    for (const txn of ['T-1', 'T-2', 'T-3'])
      await journal.begin({
        terminalTxnId: txn,
        basketId: `B-${txn}`,
        request,
        at: 1,
        amountMinor: 700,
        maskedPan: '679999*********0011',
      });
    const sealed = ['T-1', 'T-2', 'T-3'].map((t) => sealedOf(path, t));
    journal.transition('T-2', 'unresolved', null, 2);
    expect(journal.get('T-2')?.request).toEqual(request); // unknown outcome: kept
    journal.transition('T-1', 'approved', new Uint8Array([9]), 3);
    journal.transition('T-2', 'abandoned', null, 3);
    journal.transition('T-3', 'declined', new Uint8Array([8]), 3);
    for (const txn of ['T-1', 'T-2', 'T-3']) {
      expect(journal.get(txn)).toMatchObject({
        request: new Uint8Array(),
        amountMinor: 700,
        maskedPan: '679999*********0011',
        requestHash: new Uint8Array(createHash('sha256').update(request).digest()),
      });
    }
    journal.close(); // checkpoints and truncates the WAL
    expect(existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0).toBe(0);
    for (const s of sealed) for (const f of files(path)) expect(f.includes(s.subarray(12, 44))).toBe(false);
  });

  it('wipes the WAL soon after an outcome, without waiting for close', async () => {
    const path = fresh();
    const journal = new SqliteJournal(path, { key });
    await journal.begin({
      terminalTxnId: 'T-1',
      basketId: 'B-1',
      request: new Uint8Array(64).fill(0x41),
      at: 1,
    });
    const sealed = sealedOf(path, 'T-1');
    journal.transition('T-1', 'approved', null, 2);
    await new Promise((r) => setTimeout(r, 600));
    expect(statSync(`${path}-wal`).size).toBe(0);
    for (const f of files(path)) expect(f.includes(sealed.subarray(12, 44))).toBe(false);
    journal.close();
  });
});

describe('resume tokens in the journal (migration 3)', () => {
  it("keeps a token's hash (never the token) with its basket, across a reopen; purges the old ones", () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bluetill-journal-')), 'journal.sqlite');
    const hash = (n: number) => new Uint8Array(32).fill(n);
    const journal = new SqliteJournal(path, { key });
    journal.recordResumeToken({
      terminalTxnId: 'T-1',
      basketId: 'B-1',
      tokenHash: hash(1),
      at: 100,
      purgeBefore: 0,
    });
    journal.close();
    const again = new SqliteJournal(path, { key });
    expect(again.resumeToken('T-1')).toEqual({ basketId: 'B-1', tokenHash: hash(1) });
    again.recordResumeToken({
      terminalTxnId: 'T-2',
      basketId: 'B-2',
      tokenHash: hash(2),
      at: 500,
      purgeBefore: 200,
    });
    expect(again.resumeToken('T-1')).toBeUndefined();
    expect(again.resumeToken('T-2')?.basketId).toBe('B-2');
    expect(() =>
      again.recordResumeToken({
        terminalTxnId: 'T-3',
        basketId: 'B-3',
        tokenHash: new Uint8Array(16),
        at: 600,
        purgeBefore: 0,
      }),
    ).toThrow(/CHECK/);
    again.close();
  });
});

describe('journal durability per write', () => {
  const synchronous = (j: SqliteJournal): number =>
    (j as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true }) as number;

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
    const begun = journal.begin({
      terminalTxnId: 'T-1',
      basketId: 'B-1',
      request: new Uint8Array([1]),
      at: 1,
    });
    expect(journal.get('T-1')?.state).toBe('pending'); // visible at once
    expect(journal.walSyncs).toBe(0); // on disk only once the promise resolves
    await begun;
    expect(journal.walSyncs).toBe(1);
    journal.recordResumeToken({
      terminalTxnId: 'T-1',
      basketId: 'B-1',
      tokenHash: new Uint8Array(32),
      at: 1,
      purgeBefore: 0,
    });
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
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(r.signal).toBe('SIGKILL');
    const journal = new SqliteJournal(path, { key });
    expect(journal.get('T-1')).toMatchObject({ state: 'approved', response: new Uint8Array([7]) });
    expect(journal.resumeToken('T-1')?.tokenHash).toEqual(new Uint8Array(32).fill(9));
    journal.close();
  });
});
