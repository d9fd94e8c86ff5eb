import { describe, expect, it } from 'vitest';
import { CashierAuth, type GatedHost } from './cashier-auth';
import { TEST_APPROVAL_LIMIT_MINOR, TEST_CASHIER, TEST_MANAGER, testCashiersFile } from './test-cashiers';

function world(totals: Record<string, number> = {}) {
  let now = 1_000_000;
  const seen: Array<[string, unknown]> = [];
  const host: GatedHost = {
    invoke: async (c, p) => (seen.push([c, p]), { ok: c }),
    saleTotalMinor: (t) => totals[t],
  };
  return { host, seen, clock: { now: () => now }, advance: (ms: number) => (now += ms) };
}
const manager = { managerId: TEST_MANAGER.id, secret: TEST_MANAGER.secret };

describe('cashier session gate', () => {
  it('refuses everything but auth:* until a cashier signs in; the approval never reaches the host', async () => {
    const w = world({ 'T-big': TEST_APPROVAL_LIMIT_MINOR + 1, 'T-small': 100 });
    const s = new CashierAuth({ cashiers: await testCashiersFile(), clock: w.clock }).session(w.host);
    await expect(s.invoke('till:snapshot', {})).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(s.invoke('no:such', {})).rejects.toMatchObject({ code: 'unknown_channel' });
    await expect(s.invoke('auth:sign-in', { cashierId: TEST_CASHIER.id })).rejects.toMatchObject({
      code: 'bad_request',
    });
    expect(
      await s.invoke('auth:sign-in', { cashierId: TEST_CASHIER.id, secret: TEST_CASHIER.secret }),
    ).toMatchObject({ role: 'cashier' });
    await s.invoke('receipt:void', { terminalTxnId: 'T-small' }); // within the limit
    await expect(s.invoke('receipt:void', { terminalTxnId: 'T-big' })).rejects.toMatchObject({
      code: 'approval_required',
    });
    await expect(s.invoke('receipt:void', { terminalTxnId: 'T-unknown' })).rejects.toMatchObject({
      code: 'approval_required',
    });
    await s.invoke('receipt:void', { terminalTxnId: 'T-big', approval: manager });
    await s.invoke('receipt:refund', { terminalTxnId: 'T-big', amountMinor: TEST_APPROVAL_LIMIT_MINOR }); // exactly the limit: no manager
    await expect(
      s.invoke('receipt:refund', { terminalTxnId: 'T-big', amountMinor: TEST_APPROVAL_LIMIT_MINOR + 1 }),
    ).rejects.toMatchObject({ code: 'approval_required' });
    expect(w.seen).toEqual([
      ['receipt:void', { terminalTxnId: 'T-small' }],
      ['receipt:void', { terminalTxnId: 'T-big' }],
      ['receipt:refund', { terminalTxnId: 'T-big', amountMinor: TEST_APPROVAL_LIMIT_MINOR }],
    ]);
  });

  it('a signed-in manager needs no separate approval; the lock after five wrong tries lifts after a minute', async () => {
    const w = world();
    const auth = new CashierAuth({ cashiers: await testCashiersFile(), clock: w.clock });
    const s = auth.session(w.host);
    for (let i = 0; i < 5; i++)
      await expect(
        s.invoke('auth:sign-in', { cashierId: TEST_MANAGER.id, secret: `wrong-${i}` }),
      ).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(
      s.invoke('auth:sign-in', { cashierId: TEST_MANAGER.id, secret: TEST_MANAGER.secret }),
    ).rejects.toMatchObject({ code: 'rate_limited' });
    w.advance(60_001);
    await s.invoke('auth:sign-in', { cashierId: TEST_MANAGER.id, secret: TEST_MANAGER.secret });
    expect(await s.invoke('batch:close', {})).toEqual({ ok: 'batch:close' });
  });

  it('a resume token signs another connection in until sign-out or 12 hours', async () => {
    const w = world();
    const auth = new CashierAuth({ cashiers: await testCashiersFile(), clock: w.clock });
    const first = auth.session(w.host);
    const { resumeToken } = (await first.invoke('auth:sign-in', {
      cashierId: TEST_CASHIER.id,
      secret: TEST_CASHIER.secret,
    })) as { resumeToken: string };
    const second = auth.session(w.host);
    expect(await second.invoke('auth:resume', { resumeToken })).toMatchObject({ cashierId: TEST_CASHIER.id });
    w.advance(12 * 3600_000 + 1);
    await expect(auth.session(w.host).invoke('auth:resume', { resumeToken })).rejects.toMatchObject({
      code: 'unauthenticated',
    });
  });

  it('the API token is compared whole', () => {
    const auth = new CashierAuth({
      cashiers: { version: 1, approvalLimitMinor: 0, cashiers: [] },
      apiToken: 'a'.repeat(43),
    });
    expect(auth.checkToken('a'.repeat(43))).toBe(true);
    expect(auth.checkToken('a'.repeat(42))).toBe(false);
    expect(auth.checkToken(undefined)).toBe(false);
    expect(
      new CashierAuth({
        cashiers: { version: 1, approvalLimitMinor: 0, cashiers: [] },
        apiToken: null,
      }).checkToken(''),
    ).toBe(false);
  });
});
