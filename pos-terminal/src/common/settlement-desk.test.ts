import { SettleResponse } from '@bluetill/protocol';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BasketBook } from './basket';
import type { BackendClient } from './ports/backend-client';
import type { Journal } from './ports/journal';
import { SettlementDesk } from './settlement-desk';
import { SqliteJournal } from '../adapters/journal/journal.sqlite';

const journalPath = () => join(mkdtempSync(join(tmpdir(), 'bluetill-desk-')), 'journal.sqlite');
const openJournal = (path = journalPath()) => new SqliteJournal(path, { key: new Uint8Array(32).fill(1) });
const desk = (journal: Journal, backend: Partial<BackendClient> = {}) =>
  new SettlementDesk({
    terminalId: 'T-1',
    merchantId: 'M-1',
    currency: 'EUR',
    backend: backend as BackendClient,
    journal,
    baskets: new BasketBook('EUR'),
    clock: { now: () => Date.now() },
    emit: () => undefined,
  });

describe("SettlementDesk: a phone's resume token after a till restart", () => {
  it('was a bug — the restarted till still answers the phone that shows its token, and refuses another token', async () => {
    const path = journalPath();
    const first = openJournal(path);
    const t1 = desk(first);
    const token = t1.issueResumeToken('T-1-x', 'B-0001');
    // The payment was settled and journaled; then the till stopped (or crashed).
    await first.begin({ terminalTxnId: 'T-1-x', basketId: 'B-0001', request: Uint8Array.of(1), at: 1 });
    const response = SettleResponse.encode({
      approved: true,
      declineReason: '',
      receipt: undefined,
      replayed: false,
    }).finish();
    first.transition('T-1-x', 'approved', response, 2);
    first.close();
    const again = openJournal(path);
    const t2 = desk(again);
    expect(await t2.lookupOutcome('T-1-x', token)).toMatchObject({
      kind: 'settled',
      response: { approved: true },
    });
    expect(await t2.lookupOutcome('T-1-x', new Uint8Array(16))).toEqual({ kind: 'refused' });
    expect(await t2.lookupOutcome('T-1-y', token)).toEqual({ kind: 'refused' });
    again.close();
  });
});
