import { describe, expect, it } from 'vitest';
import type { SessionSnapshot } from '../common/session';
import { mismatchView, scrubDigits, sessionRow } from './view-mapping';

const snap = (o: Partial<SessionSnapshot>): SessionSnapshot => ({
  id: 's1',
  state: 'connected',
  basketId: null,
  maskedPan: null,
  decline: null,
  detail: '',
  ...o,
});

describe('session rows', () => {
  it('name each phase for the cashier', () => {
    expect(sessionRow(snap({ state: 'authorized', basketId: 'B-1' }), undefined, 1)).toMatchObject({
      phase: 'awaiting_payment',
      basketId: 'B-1',
      closed: false,
    });
    expect(sessionRow(snap({ state: 'declined', decline: 'pin_incorrect' }), undefined, 1).label).toBe(
      'Declined: Incorrect PIN',
    );
    expect(sessionRow(snap({ state: 'failed', decline: 'backend_unavailable' }), undefined, 1).label).toBe(
      'Failed: payment network unreachable',
    );
    expect(
      sessionRow(
        snap({ state: 'failed', decline: 'cancelled', detail: 'by the cashier; nothing was charged' }),
        undefined,
        1,
      ).label,
    ).toBe('Cancelled: by the cashier; nothing was charged');
  });

  it('keep the outcome when the phone hangs up before the core records it', () => {
    const authorizing = sessionRow(snap({ state: 'authorizing' }), undefined, 1);
    expect(sessionRow(snap({ state: 'closed', decline: 'pin_incorrect' }), authorizing, 2)).toMatchObject({
      phase: 'declined',
      label: 'Declined: Incorrect PIN',
      closed: true,
    });
    const paying = sessionRow(snap({ state: 'paying', basketId: 'B-1' }), undefined, 1);
    expect(sessionRow(snap({ state: 'closed', basketId: 'B-1' }), paying, 2, true)).toMatchObject({
      phase: 'approved',
      closed: true,
    });
    expect(sessionRow(snap({ state: 'closed', detail: 'disconnected: gone' }), paying, 2)).toMatchObject({
      phase: 'failed',
      label: 'Phone left: the connection dropped',
    });
    const approved = sessionRow(snap({ state: 'approved' }), undefined, 1);
    expect(sessionRow(snap({ state: 'closed' }), approved, 2).phase).toBe('approved');
  });

  it('never show a card number, and say "nothing was charged" on a mismatch', () => {
    expect(scrubDigits('card 6799990100000000019 failed, code 1234')).toBe(
      'card ******************* failed, code 1234',
    );
    expect(
      sessionRow(snap({ state: 'failed', detail: 'bad 6799990100000000019' }), undefined, 1).label,
    ).not.toMatch(/\d{12}/);
    expect(mismatchView('s1', 'B-1', 'items_mismatch', 1).message).toBe(
      "The phone's items differ from the basket: payment declined, nothing was charged.",
    );
  });
});
