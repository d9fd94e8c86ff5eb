import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Till } from './till';
import { BackendError, type BackendClient } from './ports/backend-client';
import type { BlePeripheral } from './ports/ble-peripheral';
import type { Journal } from './ports/journal';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJournal } from '../adapters/journal/journal.sqlite';

const peripheral: BlePeripheral = {
  start: async () => undefined,
  onConnect: () => undefined,
  stop: async () => undefined,
};
const journalPath = () => join(mkdtempSync(join(tmpdir(), 'bluetill-till-')), 'journal.sqlite');
const openJournal = (path = journalPath()) => new SqliteJournal(path, { key: new Uint8Array(32).fill(1) });

function till(
  getSettlement: BackendClient['getSettlement'],
  more: Partial<BackendClient> = {},
  journal: Journal = openJournal(),
): Till {
  const backend = { getSettlement, ...more } as unknown as BackendClient;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return new Till({
    terminalId: 'T-1',
    merchantId: 'M-1',
    counterName: 'C',
    currency: 'EUR',
    identity: { terminalKey: privateKey, terminalCertificate: new Uint8Array(), merchantName: 'Shop' },
    peripheral,
    backend,
    journal,
    resolveEveryMs: 0,
  });
}

describe('Till.probeBackend', () => {
  it('is true when the network answers (not found is an answer), false on a BackendError', async () => {
    const asked: string[] = [];
    expect(await till(async (id) => (asked.push(id), null)).probeBackend()).toBe(true);
    expect(asked).toEqual(['T-1-probe']);
    expect(
      await till(async () => Promise.reject(new BackendError('unavailable', 'down'))).probeBackend(),
    ).toBe(false);
    await expect(till(async () => Promise.reject(new TypeError('bug'))).probeBackend()).rejects.toThrow(
      TypeError,
    );
  });

  it("uses the client's health probe when it has one, and looks up no settlement", async () => {
    const asked: string[] = [];
    const lookup = async (id: string) => (asked.push(id), null);
    expect(await till(lookup, { probe: async () => undefined }).probeBackend()).toBe(true);
    expect(
      await till(lookup, {
        probe: async () => Promise.reject(new BackendError('unavailable', 'not serving')),
      }).probeBackend(),
    ).toBe(false);
    expect(asked).toEqual([]);
  });
});

describe('Till.info', () => {
  it('names the terminal, merchant, counter and currency', () => {
    expect(till(async () => null).info()).toEqual({
      terminalId: 'T-1',
      merchantId: 'M-1',
      merchantName: 'Shop',
      counterName: 'C',
      currency: 'EUR',
    });
  });
});

describe('Till.refund and Till.closeBatch after a lost answer', () => {
  it('asks again with the same refund id and close id (never refunds or closes twice), and a new one once answered', async () => {
    const refundIds: string[] = [];
    const closeIds: string[] = [];
    let down = true;
    const t = till(async () => null, {
      refund: async (req) => {
        refundIds.push(req.refundTxnId);
        if (down) throw new BackendError('deadline', 'no answer');
        return {
          approved: true,
          declineReason: '',
          receipt: undefined,
          replayed: false,
          refundableLeft: { minor: 0, currency: 'EUR' },
        };
      },
      closeBatch: async (id) => {
        closeIds.push(id);
        if (down) throw new BackendError('unavailable', 'down');
        return {
          batchId: 1,
          terminalId: 'T-1',
          openedAtMs: 0,
          closedAtMs: 1,
          totals: undefined,
          replayed: false,
        };
      },
    });
    await expect(t.refund('S-1', 500)).rejects.toThrow(BackendError);
    await expect(t.closeBatch()).rejects.toThrow(BackendError);
    down = false;
    await t.refund('S-1', 500);
    await t.refund('S-1', 500); // answered before: a new refund
    await t.closeBatch();
    await t.closeBatch();
    expect(refundIds[1]).toBe(refundIds[0]);
    expect(refundIds[2]).not.toBe(refundIds[0]);
    expect(closeIds[1]).toBe(closeIds[0]);
    expect(closeIds[2]).not.toBe(closeIds[0]);
  });
});

describe('Till.refund after a lost answer and a till restart', () => {
  it('the journal keeps the refund id: the restarted till asks again with it, so the backend refunds once', async () => {
    const path = journalPath();
    const ids: string[] = [];
    const refund: BackendClient['refund'] = async (req) => {
      ids.push(req.refundTxnId);
      if (ids.length === 1) throw new BackendError('deadline', 'no answer');
      return {
        approved: true,
        declineReason: '',
        receipt: undefined,
        replayed: true,
        refundableLeft: { minor: 0, currency: 'EUR' },
      };
    };
    const first = openJournal(path);
    await expect(till(async () => null, { refund }, first).refund('S-9', 700)).rejects.toThrow(BackendError);
    first.close(); // the till stops (or crashes) here
    const again = openJournal(path);
    await till(async () => null, { refund }, again).refund('S-9', 700);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(ids[0]);
    expect(again.pendingOperation('refund', 'S-9:700')).toBeUndefined();
    again.close();
  });
});

describe('Till.payWithCode', () => {
  const items = [{ sku: 'a', name: 'A', quantity: 2, unitPriceMinor: 250 }];

  it('sends the basket with the code, journaled without the code; declined, the basket waits again', async () => {
    const journal = openJournal();
    const sent: string[] = [];
    const t = till(
      async () => null,
      {
        settleWithCode: async (req) => {
          sent.push(`${req.terminalId} ${req.merchantId} ${req.code} ${req.amount!.minor}`);
          // While the backend decides, no phone can take the basket.
          expect(t.baskets.assign('phone-1')).toBeUndefined();
          return { approved: false, declineReason: 'code_used', receipt: undefined, replayed: false };
        },
      },
      journal,
    );
    const b = t.baskets.add(items);
    expect(await t.payWithCode(b.id, '12345678')).toMatchObject({
      approved: false,
      declineReason: 'code_used',
    });
    expect(sent).toEqual(['T-1 M-1 12345678 500']);
    const [attempt] = journal.forBasket(b.id);
    expect(attempt).toMatchObject({ state: 'declined' });
    expect(Buffer.from(attempt!.request).toString('latin1')).not.toContain('12345678');
    expect(t.baskets.get(b.id)).toMatchObject({ state: 'open', sessionId: null });
  });

  it('refuses a malformed code, an unknown basket and one a phone has, before anything leaves', async () => {
    let calls = 0;
    const t = till(async () => null, {
      settleWithCode: async () => (
        calls++,
        { approved: true, declineReason: '', receipt: undefined, replayed: false }
      ),
    });
    const b = t.baskets.add(items);
    await expect(t.payWithCode(b.id, '1234')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(t.payWithCode('B-9999', '12345678')).rejects.toMatchObject({ code: 'not_found' });
    t.baskets.assign('phone-1', b.id);
    await expect(t.payWithCode(b.id, '12345678')).rejects.toMatchObject({ code: 'conflict' });
    expect(calls).toBe(0);
  });

  it('no answer: the attempt is unresolved and the basket stays held; asked later and found approved, the basket is paid', async () => {
    const journal = openJournal();
    let found: Awaited<ReturnType<BackendClient['getSettlement']>> = null;
    const t = till(
      async () => found,
      { settleWithCode: async () => Promise.reject(new BackendError('deadline', 'no answer')) },
      journal,
    );
    const b = t.baskets.add(items);
    await expect(t.payWithCode(b.id, '12345678')).rejects.toThrow(BackendError);
    expect(journal.forBasket(b.id)[0]).toMatchObject({ state: 'unresolved' });
    expect(t.baskets.get(b.id)).toMatchObject({
      state: 'held_for_code',
      holder: { kind: 'code' },
      sessionId: null,
    });
    found = { approved: true, declineReason: '', receipt: undefined, replayed: true };
    await t.resolveUnresolved();
    expect(journal.forBasket(b.id)[0]).toMatchObject({ state: 'approved' });
    expect(t.baskets.get(b.id)).toMatchObject({ state: 'paid' });
  });
});
