import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ForwardOfflineRequest,
  SettleResponse,
  createDemoIssuer,
  demoOfflineTc,
  generateP256,
  prepareDemoCard,
  rawFromPublicKey,
  verifyOfflineReceipt,
  type Money,
} from '@bluetill/protocol';
import { SqliteOfflineJournal } from '../../adapters/journal/offline-journal.sqlite';
import { BackendError } from '../ports/backend-client';
import { OfflineDesk, type OfflineForwarder } from './offline-desk';

const issuer = createDemoIssuer();
const caKeys = new Map([[issuer.ca.index, issuer.ca.publicKey]]);
const alice = prepareDemoCard(issuer, {
  pan: '9990010000000017',
  expiry: '3012',
  cardholderName: 'OFF LINE',
  pin: '1234',
}).personalization;
const till = generateP256();
const LIMITS = {
  currency: 'EUR',
  floorLimitMinor: 50_00,
  perCardDailyCount: 3,
  perCardDailyAmountMinor: 60_00,
  exposureMinor: 100_00,
  timeZone: 'UTC',
};
const DAY = Date.parse('2026-12-07T10:00:00Z');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function world(forwarder?: OfflineForwarder) {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-offline-'));
  dirs.push(dir);
  const key = new Uint8Array(32).fill(7);
  const clock = { t: DAY, now: () => clock.t };
  const sent: ForwardOfflineRequest[] = [];
  const answer: OfflineForwarder = forwarder ?? {
    forwardOffline: async (req) => {
      sent.push(req);
      return { approved: true, declineReason: '', replayed: false, receipt: undefined };
    },
  };
  const open = () => {
    const journal = new SqliteOfflineJournal(join(dir, 'journal.sqlite'), { key });
    const desk = new OfflineDesk({
      terminalId: 'T-0001',
      merchantId: 'M-0001',
      merchantName: 'Corner Shop',
      terminalKey: till.privateKey,
      journal,
      limits: LIMITS,
      blockList: { has: () => false },
      caKeys,
      cardKeySecret: new Uint8Array(32).fill(9),
      forwarder: answer,
      clock,
    });
    return { journal, desk };
  };
  let atc = 1;
  const sell = (desk: OfflineDesk, minor: number, o: { requested?: 'tc' | 'arqc' } = {}) => {
    const un = OfflineDesk.unpredictableNumber();
    const amount: Money = { minor, currency: 'EUR' };
    const date = new Date(clock.t).toISOString().slice(2, 10).replaceAll('-', '');
    return desk.approve({
      request: { requested: o.requested ?? 'tc', amount, unpredictableNumber: un },
      evidence: demoOfflineTc(alice, { amount, unpredictableNumber: un, atc: atc++, date }),
      backend: 'unreachable',
      items: [{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: minor }],
    });
  };
  return { clock, sent, open, sell };
}

describe('the till offline desk', () => {
  it('approves within limits, journals before answering, and signs a receipt the phone verifies', async () => {
    const w = world();
    const { desk, journal } = w.open();
    const r = await w.sell(desk, 12_50);
    expect(r.approved).toBe(true);
    if (!r.approved) return;
    expect(journal.open().map((s) => s.offlineId)).toEqual([r.offlineId]);
    const seen = verifyOfflineReceipt(r.receipt, {
      terminalId: 'T-0001',
      publicKey: rawFromPublicKey(till.publicKey),
    });
    expect(seen).toMatchObject({
      offlineId: r.offlineId,
      status: 'approved offline, to be confirmed by the card company',
    });
    expect(desk.status()).toMatchObject({ open: 1, exposureMinor: 12_50 });
    journal.close();
  });

  it('declines "card company unreachable" over the floor limit, for a TC the till did not ask for, when merely slow', async () => {
    const w = world();
    const { desk, journal } = w.open();
    expect(await w.sell(desk, 50_01)).toMatchObject({ approved: false, reason: 'floor_limit' });
    expect(await w.sell(desk, 10_00, { requested: 'arqc' })).toMatchObject({
      approved: false,
      reason: 'not_requested',
    });
    const un = OfflineDesk.unpredictableNumber();
    const amount = { minor: 5_00, currency: 'EUR' };
    const slow = await desk.approve({
      request: { requested: 'tc', amount, unpredictableNumber: un },
      evidence: demoOfflineTc(alice, { amount, unpredictableNumber: un, atc: 90, date: '261207' }),
      backend: 'slow',
      items: [{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 5_00 }],
    });
    expect(slow).toMatchObject({
      approved: false,
      decline: 'card_company_unreachable',
      reason: 'card_company_slow',
    });
    expect(journal.open()).toEqual([]);
    journal.close();
  });

  it('a till clock set back cannot reach an earlier day’s allowance again, across a restart', async () => {
    const w = world();
    let { desk, journal } = w.open();
    for (let i = 0; i < 3; i++) expect((await w.sell(desk, 10_00)).approved).toBe(true);
    expect(await w.sell(desk, 10_00)).toMatchObject({ approved: false, reason: 'card_daily_count' });
    journal.close();
    ({ desk, journal } = w.open());
    w.clock.t = DAY - 86_400_000; // the clock set back a day
    expect(await w.sell(desk, 10_00)).toMatchObject({ approved: false, reason: 'card_daily_count' });
    w.clock.t = DAY + 86_400_000; // the next day: a new allowance
    expect((await w.sell(desk, 10_00)).approved).toBe(true);
    journal.close();
  });

  it('forwards in the order approved, each once; after an interrupted round the next one resends the same bytes', async () => {
    const seen: string[] = [];
    let failAt = 1;
    const w = world({
      forwardOffline: async (req) => {
        const bytes = Buffer.from(ForwardOfflineRequest.encode(req).finish()).toString('base64');
        seen.push(`${req.offlineId}:${bytes.length}`);
        if (seen.length - 1 === failAt) {
          failAt = -1;
          throw new BackendError('deadline', 'no answer');
        }
        return SettleResponse.fromPartial({ approved: true });
      },
    });
    let { desk, journal } = w.open();
    const heard: string[] = [];
    const ids: string[] = [];
    for (const minor of [1_00, 2_00, 3_00]) {
      const r = await w.sell(desk, minor);
      if (r.approved) ids.push(r.offlineId);
      w.clock.t += 1_000;
    }
    const first = await desk.forward();
    expect(first.stoppedBy?.code).toBe('deadline');
    expect(first.remaining).toBe(2);
    journal.close();
    ({ desk, journal } = w.open());
    desk.onForwardedSale((s) => heard.push(`${s.offlineId}:${s.state}`));
    const second = await desk.forward();
    expect(heard).toEqual([`${ids[1]}:settled`, `${ids[2]}:settled`]);
    expect(second.forwarded.map((f) => f.offlineId)).toEqual([ids[1], ids[2]]);
    expect(seen.map((s) => s.split(':')[0])).toEqual([ids[0], ids[1], ids[1], ids[2]]);
    expect(seen[1]).toBe(seen[2]);
    expect(desk.status()).toMatchObject({ open: 0, exposureMinor: 0 });
    expect(journal.since(0).every((s) => s.request.length === 0)).toBe(true); // the card's data wiped once judged
    journal.close();
  });
});
