/**
 * Unpredictable numbers are 4 bytes, so one repeats for a terminal after tens of thousands of
 * challenges. It was a bug: the repeat failed the challenges table's key and the till got INTERNAL.
 * Now the server draws again; each challenge stays a row of its own. A terminal's challenges are
 * bounded (MAX_CHALLENGES_PER_TERMINAL, the oldest evicted) and its expired ones purged at each
 * issue, counted in rows. Over each store (SQLite, PostgreSQL), seeded keys.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { toHex } from '@bluetill/protocol';
import { randomBytes } from 'node:crypto';
import { storeFactories, stopStoreServers, type StoreFactory } from '../test-support/store-factories';
import { AuthorizationUseCase, MAX_CHALLENGES_PER_TERMINAL } from './authorization-service';
import { CHALLENGE_LIFETIME_MS } from '../domain/rules';

afterAll(stopStoreServers, 30_000);

async function setUp(factory: StoreFactory, draws: number[][] | 'random') {
  const opened = await factory.open({ extraTerminals: ['T-0002'] });
  const { store, keys } = opened;
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
  const rows = async (terminalId = 'T-0001') =>
    (
      await opened.select<{ un: string }>(
        'SELECT un FROM challenges WHERE terminal_id = ? ORDER BY un',
        terminalId,
      )
    ).map((r) => r.un);
  const count = () => opened.count('challenges');
  return { store, useCase, caller, rows, count, clock, close: () => opened.close() };
}

describe.each(storeFactories)('Challenge: $name', (factory) => {
  it('was a bug — a repeated unpredictable number is drawn again, not answered with INTERNAL', async () => {
    const t = await setUp(factory, [
      [1, 2, 3, 4],
      [1, 2, 3, 4],
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    const first = await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    const second = await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    expect(toHex(first.unpredictableNumber)).toBe('01020304');
    expect(toHex(second.unpredictableNumber)).toBe('05060708');
    expect(await t.rows()).toEqual(['01020304', '05060708']);
    await t.close();
  });

  it('gives up with an error (not a reused UN) when every draw is taken', async () => {
    const t = await setUp(factory, [[1, 1, 1, 1]]);
    await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    // the default draw after the queue is always 09090909: take it once, then every draw repeats
    await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    await expect(t.useCase.challenge({ terminalId: 'T-0001' }, t.caller)).rejects.toThrow(/already taken/);
    expect(await t.rows()).toEqual(['01010101', '09090909']);
    await t.close();
  });

  it('keeps at most MAX_CHALLENGES_PER_TERMINAL per terminal: 3x that many Challenges leave that many rows, the newest, other terminals untouched', async () => {
    const t = await setUp(factory, 'random');
    await t.useCase.challenge({ terminalId: 'T-0002' }, { kind: 'terminal', terminalId: 'T-0002' });
    const issued: string[] = [];
    for (let i = 0; i < 3 * MAX_CHALLENGES_PER_TERMINAL; i++) {
      t.clock.t += 1; // each later than the one before
      issued.push(toHex((await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller)).unpredictableNumber));
    }
    expect(await t.rows()).toHaveLength(MAX_CHALLENGES_PER_TERMINAL);
    expect(await t.rows()).toEqual(issued.slice(-MAX_CHALLENGES_PER_TERMINAL).sort());
    expect(await t.rows('T-0002')).toHaveLength(1);
    // The oldest was evicted: taking it now finds nothing (an Authorize with it declines).
    expect(await t.store.commit((tx) => tx.takeChallenge(issued[0]!, 'T-0001', t.clock.t))).toBe('unknown');
    expect(await t.store.commit((tx) => tx.takeChallenge(issued.at(-1)!, 'T-0001', t.clock.t))).toBe('ok');
    await t.close();
  });

  it("purges a terminal's expired challenges when it asks for the next one, used ones too", async () => {
    const t = await setUp(factory, 'random');
    const first = await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    for (let i = 0; i < 9; i++) await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    expect(
      await t.store.commit((tx) => tx.takeChallenge(toHex(first.unpredictableNumber), 'T-0001', t.clock.t)),
    ).toBe('ok');
    expect(await t.rows()).toHaveLength(10);
    t.clock.t += CHALLENGE_LIFETIME_MS + 1;
    await t.useCase.challenge({ terminalId: 'T-0001' }, t.caller);
    expect(await t.rows()).toHaveLength(1);
    await t.store.commit((tx) => tx.purgeChallenges(t.clock.t + CHALLENGE_LIFETIME_MS + 1));
    expect(await t.count()).toBe(0);
    await t.close();
  });
});
