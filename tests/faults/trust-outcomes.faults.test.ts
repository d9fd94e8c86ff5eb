/**
 * Attacks on what the phone believes, by a modified till (its backend client's answers edited, or
 * the cryptogram kept and settled behind the shopper's back), a modified phone and anonymous
 * links, against the real backend (grpc-js over mutual TLS, SQLite), the real till core and the
 * phone's payment flow over the in-memory radio. Each attack is counted in the
 * `faults_trust_outcomes` line; `misled` counts runs where the phone's outcome and the ledger
 * disagree (the goal: 0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettleRequest } from '@bluetill/protocol';
import {
  MessageStream,
  startPhoneHandshake,
  type BleBody,
  type CancelRequest,
  type Item,
  type Payment,
  type SettleResponse,
} from '@bluetill/protocol';
import { BackendError, type BackendClient } from '@bluetill/pos-terminal';
import {
  GrpcShopperBackend,
  askOutcome,
  type PaymentOutcome,
  type ResumeTicket,
} from '@bluetill/phone-agent';
import { ledgerFacts, override, startRig, type Rig } from './rig';

const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const ALICE = { id: 'card-alice', pin: '1234' };
const DANA = { id: 'card-dana', pin: '1111' }; // 20 EUR credit limit

/** How till 2 (index 1), the dishonest one, edits what its backend client answers. */
type Mode = 'honest' | 'flip_approved' | 'drop_receipt' | 'keep_cryptogram';
let mode: Mode = 'honest';
/** Settle requests till 2 kept instead of sending (keep_cryptogram), and the Cancels it sent. */
const kept: SettleRequest[] = [];
const cancels: CancelRequest[] = [];

const counts = new Map<string, { tried: number; refused: number; misled: number }>();
const t0 = performance.now();
let rig: Rig;

function count(attack: string, misled: boolean): void {
  const c = counts.get(attack) ?? { tried: 0, refused: 0, misled: 0 };
  c.tried++;
  if (misled) c.misled++;
  else c.refused++;
  counts.set(attack, c);
}

/** The settlement row of a terminal transaction (undefined: none). */
const row = (terminalId: string, txn: string) =>
  rig.query<{ approved: number; decline_reason: string | null }>(
    'SELECT approved, decline_reason FROM settlements WHERE terminal_id = ? AND terminal_txn_id = ?',
    terminalId,
    txn,
  )[0];

const txnOf = (o: PaymentOutcome): string | undefined =>
  o.kind === 'approved'
    ? o.receipt.terminalTxnId
    : o.kind === 'failed'
      ? o.resume?.terminalTxnId
      : o.kind === 'declined' || o.kind === 'cancelled'
        ? o.receipt?.terminalTxnId
        : undefined;

/**
 * Does the phone's outcome match the ledger? Approved only when the ledger approved that
 * transaction; declined or cancelled only when the ledger holds that transaction as not approved
 * (signed); unknown is always honest (the phone says: ask).
 */
function misled(terminalId: string, o: PaymentOutcome): boolean {
  const txn = txnOf(o);
  const r = txn ? row(terminalId, txn) : undefined;
  switch (o.kind) {
    case 'approved':
      return r?.approved !== 1;
    case 'approved_offline': // the card company is reachable throughout: an offline approval here misleads
      return true;
    case 'declined':
    case 'cancelled':
      return !o.receipt || r === undefined || r.approved !== 0;
    case 'failed':
      return o.charged === 'no' && r?.approved === 1;
  }
}

/** One basket waits at the till: this one (any other still open, from an earlier attack, is cancelled). */
function basketAt(till: number, items: readonly Item[] = TEA): string {
  const book = rig.tills[till]!.till.baskets;
  for (const b of book.list()) if (b.state === 'open') book.cancel(b.id);
  return rig.ringUp(till, items);
}

beforeAll(async () => {
  rig = await startRig({
    tills: 2,
    wrap: (i, parts) =>
      i !== 1
        ? parts
        : {
            journal: parts.journal,
            backend: override<BackendClient>(parts.backend, {
              settle: async (req): Promise<SettleResponse> => {
                switch (mode) {
                  case 'honest':
                    return parts.backend.settle(req);
                  case 'flip_approved': {
                    const res = await parts.backend.settle(req);
                    return {
                      ...res,
                      approved: !res.approved,
                      declineReason: res.approved ? 'insufficient_funds' : '',
                    };
                  }
                  case 'drop_receipt': {
                    await parts.backend.settle(req); // charged; the phone is told otherwise
                    return {
                      approved: false,
                      declineReason: 'insufficient_funds',
                      receipt: undefined,
                      replayed: false,
                    };
                  }
                  case 'keep_cryptogram':
                    kept.push(structuredClone(req));
                    return {
                      approved: false,
                      declineReason: 'amount_mismatch',
                      receipt: undefined,
                      replayed: false,
                    };
                }
              },
              cancel: async (req) => {
                cancels.push(structuredClone(req));
                return parts.backend.cancel(req);
              },
            }),
          },
  });
}, 60_000);

afterAll(async () => {
  const all = [...counts.values()];
  process.stdout.write(
    `${JSON.stringify({
      bench: 'faults_trust_outcomes',
      value: all.reduce((n, c) => n + c.tried, 0),
      unit: 'attacks',
      approved: 0,
      refused: all.reduce((n, c) => n + c.refused, 0),
      misled: all.reduce((n, c) => n + c.misled, 0),
      ms: Math.round(performance.now() - t0),
      attacks: Object.fromEntries(counts),
    })}\n`,
  );
  await rig?.close();
});

describe('a till that lies about the outcome', () => {
  it('flips the unsigned approved flag of a charged sale: the phone shows the signed approval, not "declined, nothing charged"', async () => {
    mode = 'flip_approved';
    try {
      basketAt(1);
      const run = await rig.phonePays(1, ALICE.id, ALICE.pin);
      count('flipped_flag', misled('T-0002', run.outcome));
      expect(run.outcome.kind, JSON.stringify(run.outcome)).toBe('approved');
      expect(misled('T-0002', run.outcome)).toBe(false);
    } finally {
      mode = 'honest';
    }
  });

  it('drops the signed receipt of a charged sale and says declined: the outcome is unknown, never "nothing charged"', async () => {
    mode = 'drop_receipt';
    try {
      basketAt(1);
      const run = await rig.phonePays(1, ALICE.id, ALICE.pin);
      count('dropped_receipt', misled('T-0002', run.outcome));
      expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({ kind: 'failed', charged: 'unknown' });
      // The ledger did charge it; the phone did not claim otherwise.
      expect(row('T-0002', txnOf(run.outcome)!)?.approved).toBe(1);
    } finally {
      mode = 'honest';
    }
  });

  it('keeps the Payment, answers an unsigned decline and settles the cryptogram on its own later: the phone never said "nothing charged"', async () => {
    mode = 'keep_cryptogram';
    kept.length = 0;
    let run;
    try {
      basketAt(1);
      run = await rig.phonePays(1, ALICE.id, ALICE.pin);
    } finally {
      mode = 'honest';
    }
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({ kind: 'failed', charged: 'unknown' });
    expect(kept).toHaveLength(1);
    // Behind the shopper's back: the stored cryptogram, settled by the till's own client.
    const res = await rig.tills[1]!.client.settle(kept[0]!);
    expect(res.approved).toBe(true);
    count('kept_cryptogram', misled('T-0002', run.outcome));
    expect(misled('T-0002', run.outcome)).toBe(false);
    expect(ledgerFacts(rig).sum).toBe(0);
  });
});

describe('the phone asks the card company itself (Shopper.GetOutcome), with no till in between', () => {
  const shopper = () =>
    new GrpcShopperBackend({
      address: rig.inProcess()!.shopperAddress!.replace(/^127\.0\.0\.1:/, 'localhost:'),
      backendCa: Buffer.from(rig.seed.trust.backendTlsCa!),
      attempts: 1,
    });

  it('a till that dropped the signed receipt of a charged sale: the card company answers with the signed approval', async () => {
    mode = 'drop_receipt';
    let run;
    try {
      basketAt(1);
      run = await rig.phonePays(1, ALICE.id, ALICE.pin);
    } finally {
      mode = 'honest';
    }
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({ kind: 'failed', charged: 'unknown' });
    const backend = shopper();
    try {
      const asked = await askOutcome({
        backend,
        card: await rig.card(ALICE.id),
        trust: rig.trust,
        ticket: (run.outcome as { resume: ResumeTicket }).resume,
      });
      count('asked_after_dropped_receipt', misled('T-0002', asked));
      expect(asked.kind, JSON.stringify(asked)).toBe('approved');
      expect(misled('T-0002', asked)).toBe(false);
    } finally {
      backend.close();
    }
  });

  it('a till that kept the cryptogram: asked first, the card company signs "cancelled" and the till\'s later Settle of that cryptogram is refused', async () => {
    mode = 'keep_cryptogram';
    kept.length = 0;
    let run;
    try {
      basketAt(1);
      run = await rig.phonePays(1, ALICE.id, ALICE.pin);
    } finally {
      mode = 'honest';
    }
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({ kind: 'failed', charged: 'unknown' });
    const ticket = (run.outcome as { resume: ResumeTicket }).resume;
    const backend = shopper();
    let asked: PaymentOutcome;
    try {
      asked = await askOutcome({ backend, card: await rig.card(ALICE.id), trust: rig.trust, ticket });
    } finally {
      backend.close();
    }
    expect(asked, JSON.stringify(asked)).toMatchObject({
      kind: 'cancelled',
      receipt: { result: 'cancelled', atc: ticket.atc, terminalTxnId: ticket.terminalTxnId },
    });
    const before = ledgerFacts(rig).postings;
    // Behind the shopper's back, too late: the kept request (same id), and the same cryptogram under another id.
    for (const txn of [kept[0]!.terminalTxnId, `${kept[0]!.terminalTxnId}-again`]) {
      let result: string;
      try {
        const res = await rig.tills[1]!.client.settle({ ...kept[0]!, terminalTxnId: txn });
        result = res.approved ? 'approved' : res.declineReason;
      } catch (e) {
        if (!(e instanceof BackendError && e.code === 'rejected')) throw e;
        result = 'rejected';
      }
      count('settle_after_asked', result === 'approved');
      expect(result, txn).not.toBe('approved');
    }
    expect(ledgerFacts(rig).postings).toBe(before);
    count('asked_after_kept_cryptogram', misled('T-0002', asked));
    expect(misled('T-0002', asked)).toBe(false);
  });

  it('another card asking about this payment learns nothing (no receipt), and a card that cannot prove itself neither', async () => {
    basketAt(1);
    const run = await rig.phonePays(1, ALICE.id, ALICE.pin);
    expect(run.outcome.kind).toBe('approved');
    const receipt = (
      run.outcome as {
        receipt: { terminalTxnId: string; atc: number; total?: { minor: number; currency: string } };
      }
    ).receipt;
    const backend = shopper();
    try {
      const ticket: ResumeTicket = {
        terminalTxnId: receipt.terminalTxnId,
        resumeToken: new Uint8Array(16),
        terminalId: 'T-0002',
        atc: receipt.atc,
        total: receipt.total!,
      };
      const other = await askOutcome({
        backend,
        card: await rig.card(DANA.id),
        trust: rig.trust,
        ticket,
      }).then(
        (o) => o,
        (e: unknown) => e as Error,
      );
      count('asked_by_another_card', !(other instanceof Error));
      expect(other).toMatchObject({
        code: 'outcome_unknown',
        message: expect.stringContaining('authorization_invalid'),
      });
      // Alice's card data over another UN (an earlier answer replayed): the card company says nothing either.
      const ch = await backend.challenge();
      const card = await (await rig.card(ALICE.id)).read(new Uint8Array(4));
      const res = await backend.getOutcome({
        unpredictableNumber: ch.unpredictableNumber,
        card,
        terminalId: 'T-0002',
        terminalTxnId: receipt.terminalTxnId,
        atc: receipt.atc,
        amount: receipt.total!,
      });
      count('asked_with_replayed_signature', res.receipt !== undefined);
      expect(res).toMatchObject({
        approved: false,
        declineReason: 'card_authentication_failed',
        receipt: undefined,
      });
    } finally {
      backend.close();
    }
  });
});

describe('a signed decline or cancellation: that payment never settles later', () => {
  /** A till that tries to settle `cancel`'s payment anyway (same or another transaction id); returns what it got. */
  async function settleAnyway(
    c: CancelRequest,
    cryptogram: Payment['cryptogram'],
    txn: string,
  ): Promise<string> {
    try {
      const res = await rig.tills[1]!.client.settle({
        terminalId: c.terminalId,
        terminalTxnId: txn,
        merchantId: c.merchantId,
        authorizationRef: c.authorizationRef,
        card: c.card,
        amount: c.amount,
        items: c.items,
        cryptogram,
      });
      return res.approved ? 'approved' : res.declineReason;
    } catch (e) {
      if (e instanceof BackendError && e.code === 'rejected') return 'rejected';
      throw e;
    }
  }

  it("the phone changed the amount: the till's decline is the settlement server's (signed), and the genuine cryptogram then settles under no transaction id", async () => {
    cancels.length = 0;
    let sent: Payment | undefined;
    basketAt(1);
    const run = await rig.phonePays(1, ALICE.id, ALICE.pin, {
      tamper: {
        payment: (p) => void ((sent = structuredClone(p)), (p.total = { minor: 1, currency: 'EUR' })),
      },
    });
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({
      kind: 'declined',
      reason: 'amount_mismatch',
    });
    expect(run.outcome.kind === 'declined' && run.outcome.receipt?.atc).toBe(sent!.cryptogram!.atc);
    expect(cancels).toHaveLength(1);
    const c = cancels[0]!;
    const before = ledgerFacts(rig);
    for (const txn of [c.terminalTxnId, `${c.terminalTxnId}-again`]) {
      const result = await settleAnyway(c, sent!.cryptogram, txn);
      count('settle_after_signed_decline', result === 'approved');
      expect(result, txn).not.toBe('approved');
    }
    expect(ledgerFacts(rig).postings).toBe(before.postings);
    expect(misled('T-0002', run.outcome)).toBe(false);
  });

  it('a settlement declined by the card company (over the limit): its signed decline names the ATC, and that cryptogram is refused later (atc_replayed)', async () => {
    let sent: Payment | undefined;
    basketAt(1, [{ sku: 'tv', name: 'Television', quantity: 1, unitPriceMinor: 30_00 }]);
    mode = 'honest';
    const run = await rig.phonePays(1, DANA.id, DANA.pin, {
      tamper: { payment: (p) => void (sent = structuredClone(p)) },
    });
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({
      kind: 'declined',
      reason: 'insufficient_funds',
    });
    const receipt = run.outcome.kind === 'declined' ? run.outcome.receipt : undefined;
    expect(receipt?.atc).toBe(sent!.cryptogram!.atc);
    // The till's journal keeps no card data once the outcome is known, so the dishonest till's second try takes the
    // authorization it was given from the card company's own records (the latest one of this card at this till):
    const [{ ref: authorizationRef }] = rig.query<{ ref: string }>(
      "SELECT ref FROM authorizations WHERE terminal_id = 'T-0002' AND card_id = ? ORDER BY rowid DESC LIMIT 1",
      DANA.id,
    ) as [{ ref: string }];
    const res = await rig.tills[1]!.client.settle({
      terminalId: 'T-0002',
      terminalTxnId: `${receipt!.terminalTxnId}-again`,
      merchantId: receipt!.merchantId,
      authorizationRef,
      card: { ...sent!.card!, records: new Uint8Array(), signedDynamicData: new Uint8Array() },
      amount: sent!.total,
      items: sent!.items,
      cryptogram: sent!.cryptogram,
    });
    count('settle_after_signed_decline', res.approved);
    expect(res).toMatchObject({ approved: false, declineReason: 'atc_replayed' });
  });

  it('the cashier cancels a phone that holds its cryptogram: the phone gets a signed cancellation, and that cryptogram settles under no transaction id', async () => {
    cancels.length = 0;
    let sent: Payment | undefined;
    basketAt(1);
    const till = rig.tills[1]!.till;
    const run = await rig.phonePays(1, ALICE.id, ALICE.pin, {
      tamper: {
        payment: async (p) => {
          sent = structuredClone(p);
          const s = till.sessionSnapshots().find((x) => x.state === 'authorized');
          expect(s).toBeDefined();
          expect(till.cancelSession(s!.id)).toBe(true);
          await new Promise((r) => setTimeout(r, 300)); // the cancellation reaches the till's session first
        },
      },
    });
    expect(run.outcome, JSON.stringify(run.outcome)).toMatchObject({
      kind: 'cancelled',
      receipt: { result: 'cancelled' },
    });
    expect(cancels).toHaveLength(1);
    for (const txn of [cancels[0]!.terminalTxnId, `${cancels[0]!.terminalTxnId}-again`]) {
      const result = await settleAnyway(cancels[0]!, sent!.cryptogram, txn);
      count('settle_after_signed_cancel', result === 'approved');
      expect(result, txn).not.toBe('approved');
    }
    expect(misled('T-0002', run.outcome)).toBe(false);
  });
});

describe('baskets go only to phones whose card authenticated', () => {
  /** An anonymous link: Hello, then silence. Returns the HelloAck it got. */
  async function helloAndQuiet(): Promise<{
    ack: Extract<BleBody, { $case: 'helloAck' }>['value'];
    close: () => Promise<void>;
  }> {
    const radio = rig.tills[0]!.radio;
    const found = await radio.central().scan({ timeoutMs: 2_000 });
    const link = await radio.central().connect(found[0]!.id);
    let got: (b: BleBody) => void = () => undefined;
    const first = new Promise<BleBody>((r) => (got = r));
    const stream = new MessageStream({
      send: (v) => link.write(v, { unacknowledged: true }),
      mtu: () => link.mtu,
      reassemblyTimeoutMs: 5_000,
    });
    link.onValue((v) => {
      const body = stream.receive(v, Date.now());
      if (body) got(body);
    });
    await stream.send({ $case: 'hello', value: startPhoneHandshake().hello });
    const body = await first;
    if (body.$case !== 'helloAck') throw new Error(`expected helloAck, got ${body.$case}`);
    return { ack: body.value, close: () => link.disconnect().catch(() => undefined) };
  }

  it('N anonymous links that send Hello and go quiet hold no basket and learn nothing of it; the next real phone pays', async () => {
    const id = basketAt(0);
    const quiet = [];
    for (let i = 0; i < 5; i++) {
      const q = await helloAndQuiet();
      quiet.push(q);
      count('anonymous_hello', q.ack.amount !== undefined);
      expect(q.ack.amount).toBeUndefined(); // nothing of the basket in clear
    }
    const basket = rig.tills[0]!.till.baskets.get(id)!;
    count('anonymous_hold', basket.state !== 'open');
    expect(basket.state).toBe('open');
    const run = await rig.phonePays(0, ALICE.id, ALICE.pin);
    expect(run.outcome.kind, JSON.stringify(run.outcome)).toBe('approved');
    expect(rig.tills[0]!.till.baskets.get(id)!.state).toBe('paid');
    for (const q of quiet) await q.close();
  });
});
