/**
 * The group committer on real SQLite files (WAL, synchronous=FULL): concurrent transactions share
 * one commit, each in its own savepoint; a failing one is undone alone and gets its own error; a
 * duplicate in the same batch sees the first's row; nothing is answered before it is durable
 * (another connection sees it); and a process killed with SIGKILL mid-batch leaves all of a batch
 * or none, and never a response for a lost commit.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommitError } from '../../ports/backend-store';
import { seedDemo } from '../../admin/demo-seed';
import { MasterKey } from '../master-key';
import { openDatabase, type Db } from './open-database';
import { GroupCommitter, type CommitStats } from './group-committer';
import { DeadlineExceededError, withDeadline } from '../call-deadline';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'bluetill-group-commit-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('GroupCommitter', () => {
  let path: string;
  let db: Db;
  let other: Database.Database; // a second connection: sees only what is committed
  let commits: CommitStats[];
  let committer: GroupCommitter;
  const rows = (c: { prepare: Db['prepare'] } = other) =>
    c.prepare('SELECT k, v FROM kv ORDER BY k').all() as Array<{ k: string; v: number }>;
  /** Inserts k once; a second request for k returns the stored value (exactly once, by reading first). */
  const put = (k: string, v: number) => () => {
    const prior = db.prepare('SELECT v FROM kv WHERE k = ?').get(k) as { v: number } | undefined;
    if (prior) return { v: prior.v, replayed: true };
    db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run(k, v);
    return { v, replayed: false };
  };

  beforeEach(() => {
    path = join(tempDir(), 'kv.sqlite');
    db = openDatabase(path);
    db.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))');
    other = new Database(path, { readonly: true });
    commits = [];
    committer = new GroupCommitter(db, { onCommit: (s) => commits.push(s) });
  });
  afterEach(() => {
    committer.close();
    other.close();
    db.close();
  });

  it('commits the transactions of one turn of the event loop together, once', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => committer.commit(put(`k${String(i).padStart(2, '0')}`, i))),
    );
    expect(results.map((r) => r.v)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(commits).toEqual([expect.objectContaining({ size: 50, failed: 0 })]);
    expect(rows()).toHaveLength(50);
  });

  it('drops a transaction whose call deadline passed while it was queued: DeadlineExceededError, nothing written', async () => {
    const soon = Date.now() + 30;
    const late = withDeadline(soon, () => committer.commit(put('late', 1)));
    const onTime = withDeadline(Date.now() + 60_000, () => committer.commit(put('onTime', 2)));
    const none = committer.commit(put('none', 3));
    while (Date.now() < soon) {
      /* the queue waits: the event loop is held past the first deadline */
    }
    await expect(late).rejects.toBeInstanceOf(DeadlineExceededError);
    await expect(onTime).resolves.toEqual({ v: 2, replayed: false });
    await expect(none).resolves.toEqual({ v: 3, replayed: false });
    expect(rows().map((r) => r.k)).toEqual(['none', 'onTime']);
    expect(commits).toEqual([expect.objectContaining({ size: 2, failed: 0 })]);
  });

  it('undoes only the failing transaction of a batch, which gets its own error', async () => {
    const outcomes = await Promise.allSettled([
      committer.commit(put('a', 1)),
      committer.commit(() => {
        db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run('b', 2); // written, then undone
        throw new Error('rule broken after a write');
      }),
      committer.commit(put('c', -1)), // CHECK constraint: SQLite error inside the savepoint
      committer.commit(put('d', 4)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({
      message: 'rule broken after a write',
    });
    expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_CHECK' });
    expect(commits).toEqual([expect.objectContaining({ size: 4, failed: 2 })]);
    expect(rows()).toEqual([
      { k: 'a', v: 1 },
      { k: 'd', v: 4 },
    ]);
  });

  it('runs a batch without savepoints when nothing throws, and again with them when one does: callers get what was committed', async () => {
    // A second writing connection whose every statement SQLite reports (better-sqlite3's verbose hook).
    const statements: string[] = [];
    const traced = new Database(path, { verbose: (sql) => statements.push(String(sql)) });
    traced.pragma('synchronous = FULL');
    const tracedCommitter = new GroupCommitter(traced, { onCommit: (s) => commits.push(s) });
    const runs: Record<string, number> = {};
    const draw = (k: string) => () => {
      runs[k] = (runs[k] ?? 0) + 1;
      const v = runs[k]! * 100; // differs between a first and a second run
      traced.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run(k, v);
      return v;
    };
    // A batch where nothing throws: one run, and no savepoint among SQLite's statements.
    statements.length = 0;
    expect(
      await Promise.all([tracedCommitter.commit(draw('p1')), tracedCommitter.commit(draw('p2'))]),
    ).toEqual([100, 100]);
    expect(commits.at(-1)).toMatchObject({ size: 2, failed: 0, rerun: false });
    expect(statements.map((q) => q.split(' ')[0])).toEqual(['BEGIN', 'INSERT', 'INSERT', 'COMMIT']);
    // A batch where the middle one throws after a write: all run again, each in its own savepoint.
    const outcomes = await Promise.allSettled([
      tracedCommitter.commit(draw('r1')),
      tracedCommitter.commit(() => {
        traced.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run('r2', 1);
        throw new Error('declined after a write');
      }),
      tracedCommitter.commit(draw('r3')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(commits.at(-1)).toMatchObject({ size: 3, failed: 1, rerun: true });
    expect(runs).toMatchObject({ r1: 2, r3: 1 }); // r1 ran before the throw and again; r3 only in the rerun
    expect(statements.filter((q) => q.startsWith('SAVEPOINT'))).toHaveLength(3);
    // What r1's caller got is the committed run's value, and what the file holds.
    expect((outcomes[0] as PromiseFulfilledResult<number>).value).toBe(200);
    expect(rows().filter((r) => r.k.startsWith('r'))).toEqual([
      { k: 'r1', v: 200 },
      { k: 'r3', v: 100 },
    ]);
    tracedCommitter.close();
    traced.close();
  });

  it('lets a duplicate in the same batch see the first request row (exactly once)', async () => {
    const [first, retry, other2] = await Promise.all([
      committer.commit(put('txn-1', 10)),
      committer.commit(put('txn-1', 99)),
      committer.commit(put('txn-2', 20)),
    ]);
    expect(commits).toHaveLength(1);
    expect(first).toEqual({ v: 10, replayed: false });
    expect(retry).toEqual({ v: 10, replayed: true });
    expect(other2).toEqual({ v: 20, replayed: false });
    expect(rows()).toEqual([
      { k: 'txn-1', v: 10 },
      { k: 'txn-2', v: 20 },
    ]);
  });

  it('answers only after COMMIT: inside the batch another connection sees nothing, at resolution it sees the row', async () => {
    const seenInside: number[] = [];
    const order: string[] = [];
    committer = new GroupCommitter(db, { onCommit: () => order.push('commit') });
    const p = committer
      .commit(() => {
        put('x', 1)();
        seenInside.push(rows().length);
        order.push('fn');
      })
      .then(() => {
        order.push('resolved');
        return rows().length;
      });
    expect(rows()).toHaveLength(0); // nothing runs before the next macrotask
    expect(await p).toBe(1);
    expect(seenInside).toEqual([0]);
    expect(order).toEqual(['fn', 'commit', 'resolved']);
  });

  it('bounds a batch by maxBatch and runs the rest in the next one at once', async () => {
    committer = new GroupCommitter(db, { maxBatch: 4, onCommit: (s) => commits.push(s) });
    await Promise.all(Array.from({ length: 10 }, (_, i) => committer.commit(put(`m${i}`, i))));
    expect(commits.map((c) => c.size)).toEqual([4, 4, 2]);
    expect(rows()).toHaveLength(10);
  });

  it('with flushAt, commits inside commit() once that many wait: a burst is answered in parts, the first part before the rest has run', async () => {
    committer = new GroupCommitter(db, { flushAt: 3, onCommit: (s) => commits.push(s) });
    const seen: string[] = [];
    let durableWhenB3Ran: string[] = [];
    const burst = Array.from({ length: 7 }, (_, i) => {
      const p = committer.commit(async () => {
        // The third commit() started the first three's batch at once: durable before b3 runs.
        if (i === 3) durableWhenB3Ran = rows().map((r) => r.k);
        return put(`b${i}`, i)();
      });
      if (i === 2) expect(committer.pending).toBe(0); // taken by the batch already, not left for the next turn
      void p.then(() => seen.push(`b${i}`));
      return p;
    });
    await Promise.all(burst);
    expect(durableWhenB3Ran).toEqual(['b0', 'b1', 'b2']);
    expect(commits.map((c) => c.size)).toEqual([3, 3, 1]); // the last one at the next turn
    expect(seen).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
    expect(rows()).toHaveLength(7);
  });

  it('gathers the next batch while one runs (no request waits more than one batch behind)', async () => {
    const sizes: number[] = [];
    committer = new GroupCommitter(db, { onCommit: (s) => sizes.push(s.size) });
    // Three waves: the second and third are queued from inside the first batch's resolution.
    const wave = (n: number, tag: string) =>
      Promise.all(Array.from({ length: n }, (_, i) => committer.commit(put(`${tag}${i}`, i))));
    await wave(5, 'w1').then(() => Promise.all([wave(7, 'w2'), wave(3, 'w3')]));
    expect(sizes).toEqual([5, 10]);
    expect(rows()).toHaveLength(15);
  });

  it('runs asynchronous transactions one after the other: a duplicate awaiting between its read and its write still sees the first', async () => {
    /** As put, with the await between read and write that a store port's queries bring. */
    const putAsync = (k: string, v: number) => async () => {
      const prior = await Promise.resolve(
        db.prepare('SELECT v FROM kv WHERE k = ?').get(k) as { v: number } | undefined,
      );
      if (prior) return { v: prior.v, replayed: true };
      await Promise.resolve();
      db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run(k, v);
      return { v, replayed: false };
    };
    const outcomes = await Promise.allSettled([
      committer.commit(putAsync('s1', 1)),
      committer.commit(putAsync('s1', 9)),
      committer.commit(async () => {
        await Promise.resolve();
        throw new Error('refused');
      }),
      committer.commit(putAsync('s2', 2)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(outcomes.slice(0, 2).map((o) => (o as PromiseFulfilledResult<unknown>).value)).toEqual([
      { v: 1, replayed: false },
      { v: 1, replayed: true },
    ]);
    expect(rows()).toEqual([
      { k: 's1', v: 1 },
      { k: 's2', v: 2 },
    ]);
    expect(commits).toEqual([expect.objectContaining({ size: 4, failed: 1, rerun: true })]);
  });

  it('runs exclusive() between batches: a read asked while a batch runs sees only what that batch committed', async () => {
    let readDuringBatch: Promise<number> | undefined;
    const read = () => (db.prepare('SELECT COUNT(*) AS n FROM kv').get() as { n: number }).n;
    const first = committer.commit(async () => {
      put('x1', 1)();
      readDuringBatch = committer.exclusive(read); // asked with the batch's row written but not committed
      await Promise.resolve();
      return put('x2', 2)();
    });
    await first;
    expect(await readDuringBatch).toBe(2); // after the COMMIT, never the half-written batch
    expect(await committer.exclusive(read)).toBe(2);
  });

  it('rejects every request of a batch whose COMMIT fails, and stores none of it', async () => {
    // A deferred foreign key is checked at COMMIT: the batch's COMMIT fails as a full disk would.
    db.exec(
      'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)',
    );
    const outcomes = await Promise.allSettled([
      committer.commit(put('f1', 1)),
      committer.commit(() => db.prepare('INSERT INTO child (p) VALUES (42)').run()),
      committer.commit(put('f2', 2)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const o of outcomes)
      expect((o as PromiseRejectedResult).reason).toMatchObject({
        name: 'CommitError',
        code: 'commit_failed',
      });
    expect(commits).toEqual([]);
    expect(rows()).toEqual([]);
    expect(db.inTransaction).toBe(false);
    // The next batch commits normally.
    expect(await committer.commit(put('f3', 3))).toEqual({ v: 3, replayed: false });
    expect(rows()).toEqual([{ k: 'f3', v: 3 }]);
  });

  it('rejects what is queued when closed, and everything after', async () => {
    const queued = committer.commit(put('q', 1));
    committer.close();
    await expect(queued).rejects.toMatchObject({ name: 'CommitError', code: 'store_closed' });
    await expect(committer.commit(put('r', 1))).rejects.toBeInstanceOf(CommitError);
    expect(rows()).toEqual([]);
  });
});

describe('group commit under SIGKILL', () => {
  const SIZE = 8;
  const child = join(import.meta.dirname, '..', '..', 'test-support', 'group-commit-child.ts');

  /** Runs the child until it is killed after `ms`; returns what it printed. */
  function runAndKill(dbPath: string, first: number, ms: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', child, dbPath, String(first), String(SIZE)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      let timer: NodeJS.Timeout | undefined;
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // Start the clock once it is committing, so the kill lands in the steady state.
        if (!timer && out.includes('done')) timer = setTimeout(() => p.kill('SIGKILL'), ms);
      });
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') reject(new Error(`child exited ${code ?? signal}: ${err}`));
        else resolve(out.split('\n').filter(Boolean));
      });
    });
  }

  it('leaves all of a batch or none, and a row for every answered request', async () => {
    const masterKey = MasterKey.generate();
    const seed = await seedDemo(tempDir(), [], [], { masterKey });
    let first = 0;
    let midBatch = 0;
    const log: string[] = [];
    for (const ms of [150, 260, 370, 480]) {
      const lines = await runAndKill(seed.dbPath, first, ms);
      const begun = lines.filter((l) => l.startsWith('begin ')).map((l) => Number(l.slice(6)));
      const done = new Set(lines.filter((l) => l.startsWith('done ')).map((l) => Number(l.slice(5))));
      const db = new Database(seed.dbPath); // read-write: recovers the WAL as the next server would
      try {
        const count = db.prepare('SELECT COUNT(*) AS n FROM settlements WHERE terminal_txn_id LIKE ?');
        const postings = db.prepare(
          'SELECT COUNT(*) AS n FROM postings p JOIN settlements s ON s.id = p.settlement_id WHERE s.terminal_txn_id LIKE ?',
        );
        for (const b of begun) {
          const n = (count.get(`crash-${b}-%`) as { n: number }).n;
          expect([0, SIZE], `batch ${b}`).toContain(n); // all or none
          expect((postings.get(`crash-${b}-%`) as { n: number }).n, `batch ${b} postings`).toBe(2 * n);
          if (done.has(b)) expect(n, `answered batch ${b}`).toBe(SIZE); // never an answer for a lost commit
        }
        const last = begun[begun.length - 1]!;
        if (!done.has(last)) midBatch++;
        const lost = (count.get(`crash-${last}-%`) as { n: number }).n === 0;
        log.push(
          `killed after ${ms} ms: ${begun.length} batches begun, ${done.size} answered, last ${done.has(last) ? 'answered' : lost ? 'lost (rolled back)' : 'committed, not answered'}`,
        );
        expect(
          (db.prepare('SELECT COALESCE(SUM(amount_minor), 0) AS s FROM postings').get() as { s: number }).s,
        ).toBe(0);
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        first = last + 1;
      } finally {
        db.close();
      }
    }
    console.log(`group commit under SIGKILL: ${log.join('; ')}`);
    expect(midBatch, 'at least one kill landed inside a batch').toBeGreaterThan(0);
  }, 60_000);
});
