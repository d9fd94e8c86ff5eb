/**
 * What the till sends in Settle (and keeps in its journal) of the card a phone showed: the PAN,
 * expiry and PAN sequence the settlement checks, not the card's records or its signed dynamic
 * data (kilobytes that only the authorization needed), on real parts (rig: backend over gRPC,
 * SQLite journal, simulated phone and card).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SettleRequest, type Item } from '@bluetill/protocol';
import type { BackendClient, Journal } from '@bluetill/pos-terminal';
import { override, startRig, type Rig } from '../faults/rig';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
let rig: Rig;
const sent: SettleRequest[] = [];
const journaled: Uint8Array[] = [];

beforeAll(async () => {
  rig = await startRig({
    wrap: (_i, parts) => ({
      journal: override<Journal>(parts.journal, {
        begin: (a) => (journaled.push(a.request), parts.journal.begin(a)),
      }),
      backend: override<BackendClient>(parts.backend, {
        settle: (req) => (sent.push(req), parts.backend.settle(req)),
      }),
    }),
  });
}, 60_000);
afterAll(async () => rig?.close());

describe('Settle carries only what the settlement needs of the card', () => {
  it('sends and journals PAN, expiry and PAN sequence, without the records or signed dynamic data', async () => {
    rig.ringUp(0, TEA);
    const run = await rig.phonePays(0, 'card-alice', '1234');
    expect(run.outcome.kind).toBe('approved');
    expect(sent).toHaveLength(1);
    const card = sent[0]!.card!;
    expect(card.pan).toMatch(/^\d{12,19}$/);
    expect(card.expiry).toMatch(/^\d{4}$/);
    expect(card.panSequence).toBeGreaterThan(0);
    expect(card.records).toHaveLength(0);
    expect(card.signedDynamicData).toHaveLength(0);
    expect(card.cardholderName).toBe('');
    // The write-ahead record (kept until the outcome is known) holds the same small request.
    expect(journaled).toHaveLength(1);
    const kept = SettleRequest.decode(journaled[0]!);
    expect(kept.card?.records).toHaveLength(0);
    expect(kept.card?.pan).toBe(card.pan);
    expect(journaled[0]!.length).toBeLessThan(1024);
  }, 60_000);
});
