/**
 * Unpredictable numbers are 4 bytes, so one repeats for a terminal after tens of thousands of
 * challenges. It was a bug: the repeat failed the challenges table's key and the till got INTERNAL.
 * Now the server draws again; each challenge stays a row of its own. A terminal's challenges are
 * bounded (MAX_CHALLENGES_PER_TERMINAL, the oldest evicted) and its expired ones purged at each
 * issue, counted in rows. Real SQLite, seeded keys.
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
import { randomBytes } from 'node:crypto';
import { AuthorizationUseCase, MAX_CHALLENGES_PER_TERMINAL } from './authorization-service';
import { CHALLENGE_LIFETIME_MS } from '../domain/rules';

async function setUp(draws: number[][] | 'random') {
  const masterKey = MasterKey.generate();
  const seed = await seedDemo(mkdtempSync(join(tmpdir(), 'bluetill-challenge-')), ['T-0002'], [], {
    masterKey,
  });
  const store = new SqliteBackendStore(seed.dbPath);
  const keys = SoftwareKeyStore.fromFile(seed.keysPath, masterKey);
  const clock = { t: Date.UTC(2026, 10, 24, 12), now: () => clock.t };
  const queue = draws === 'random' ? [] : draws.map((d) => Uint8Array.from(d));
  const useCase = new AuthorizationUseCase(
    store,
    keys,
    clock,
    {
      settle: async () => {
        throw new Error('not used');
      },
      cancel: async () => {
        throw new Error('not used');
      },
    },
    {},
    {
      drawUn: () =>
        draws === 'random' ? new Uint8Array(randomBytes(4)) : (queue.shift() ?? Uint8Array.of(9, 9, 9, 9)),
    },
  );
  const caller = { kind: 'terminal', terminalId: 'T-0001' } as const;
  const rows = (terminalId = 'T-0001') =>
    (
      store.db.prepare('SELECT un FROM challenges WHERE terminal_id = ? ORDER BY un').all(terminalId) as {
        un: string;
      }[]
    ).map((r) => r.un);
  const count = () => (store.db.prepare('SELECT COUNT(*) AS n FROM challenges').get() as { n: number }).n;
  return { store, useCase, caller, rows, count, clock };
}

describe('Challenge', () => {
  it('was a bug — a repeated unpredictable number is drawn again, not answered with INTERNAL', async () => {
    const t = await setUp([
      [1, 2, 3, 4],
      [1, 2, 3, 4],
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
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

  it('keeps at most MAX_CHALLENGES_PER_TERMINAL per terminal: 3x that many Challenges leave that many rows, the newest, other terminals untouched', async () => {
    const t = await setUp('random');
    await t.useCase.challenge({ terminalId: 'T-0002' }, { kind: 'terminal', terminalId: 'T-0002' });
    const issued: string[] = [];
    for (let i = 0; i < 3 * MAX_CHALLENGES_PER_TERMINAL; i++) {
      t.clock.t += 1; // each later than the one before
      issued.push(toHex((await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller)).unpredictableNumber));
    }
    expect(t.rows()).toHaveLength(MAX_CHALLENGES_PER_TERMINAL);
    expect(t.rows()).toEqual(issued.slice(-MAX_CHALLENGES_PER_TERMINAL).sort());
    expect(t.rows('T-0002')).toHaveLength(1);
    // The oldest was evicted: taking it now finds nothing (an Authorize with it declines).
    expect(t.store.takeChallenge(issued[0]!, 'T-0001', t.clock.t)).toBe('unknown');
    expect(t.store.takeChallenge(issued.at(-1)!, 'T-0001', t.clock.t)).toBe('ok');
    t.store.close();
  });

  it("purges a terminal's expired challenges when it asks for the next one, used ones too", async () => {
    const t = await setUp('random');
    const first = await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    for (let i = 0; i < 9; i++) await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    expect(t.store.takeChallenge(toHex(first.unpredictableNumber), 'T-0001', t.clock.t)).toBe('ok');
    expect(t.rows()).toHaveLength(10);
    t.clock.t += CHALLENGE_LIFETIME_MS + 1;
    await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    expect(t.rows()).toHaveLength(1);
    t.store.purgeChallenges(t.clock.t + CHALLENGE_LIFETIME_MS + 1);
    expect(t.count()).toBe(0);
    t.store.close();
  });
});
