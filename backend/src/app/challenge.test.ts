/**
 * Unpredictable numbers are 4 bytes, so one repeats for a terminal after tens of thousands of
 * challenges. It was a bug: the repeat failed the challenges table's key and the till got INTERNAL.
 * Now the server draws again; each challenge stays a row of its own. Real SQLite, seeded keys.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '@bluetill/protocol';
import { seedDemo } from '../admin/demo-seed';
import { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';
import { SoftwareKeyStore } from '../adapters/key-store.file';
import { MasterKey } from '../adapters/master-key';
import { AuthorizationUseCase, CHALLENGE_RETENTION_MS } from './authorization-service';

async function setUp(draws: number[][]) {
  const masterKey = MasterKey.generate();
  const seed = await seedDemo(mkdtempSync(join(tmpdir(), 'bluetill-challenge-')), [], [], { masterKey });
  const store = new SqliteBackendStore(seed.dbPath);
  const keys = SoftwareKeyStore.fromFile(seed.keysPath, masterKey);
  const now = Date.UTC(2026, 10, 24, 12);
  const queue = draws.map((d) => Uint8Array.from(d));
  const useCase = new AuthorizationUseCase(store, keys, { now: () => now }, { settle: async () => { throw new Error('not used'); }, cancel: async () => { throw new Error('not used'); } }, {}, {
    drawUn: () => queue.shift() ?? Uint8Array.of(9, 9, 9, 9),
  });
  const caller = { kind: 'terminal', terminalId: 'T-0001' } as const;
  const rows = () => (store.db.prepare("SELECT un FROM challenges WHERE terminal_id = 'T-0001' ORDER BY un").all() as { un: string }[]).map((r) => r.un);
  return { store, useCase, caller, rows };
}

describe('Challenge', () => {
  it('was a bug — a repeated unpredictable number is drawn again, not answered with INTERNAL', async () => {
    const t = await setUp([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [5, 6, 7, 8]]);
    const first = await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    const second = await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    expect(toHex(first.unpredictableNumber)).toBe('01020304');
    expect(toHex(second.unpredictableNumber)).toBe('05060708');
    expect(t.rows()).toEqual(['01020304', '05060708']);
    t.store.close();
  });

  it('gives up with an error (not a reused UN) when every draw is taken', async () => {
    const t = await setUp([[1, 1, 1, 1]]);
    await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    // the default draw after the queue is always 09090909: take it once, then every draw repeats
    await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    await expect(t.useCase.challenge({ terminalId: 'T-0001' }, t.caller)).rejects.toThrow(/already taken/);
    expect(t.rows()).toEqual(['01010101', '09090909']);
    t.store.close();
  });

  it('purges only challenges expired longer ago than the retention', async () => {
    const t = await setUp([[1, 1, 1, 1]]);
    await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    t.store.purgeChallenges(Date.UTC(2026, 10, 24, 12) - CHALLENGE_RETENTION_MS);
    expect(t.rows()).toEqual(['01010101']);
    t.store.purgeChallenges(Date.UTC(2026, 10, 24, 13));
    expect(t.rows()).toEqual([]);
    t.store.close();
  });
});
