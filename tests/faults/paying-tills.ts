/**
 * Tills paying in a loop against backend nodes over PostgreSQL, and the checks of the books
 * afterwards — the load and the invariants of the cluster fault suites.
 *
 * A till pays basket after basket with its own fleet card (real card cryptography: DDA over the
 * UN, the sealed PIN, the ARQC over the amount) through a `GrpcBackendClient` balancing over the
 * nodes' addresses. An outcome it does not know it asks about (GetSettlement), and when the card
 * company has nothing it cancels the payment for good (a signed cancellation) and pays the basket
 * again under a new id — what the till core does. `checkBooks` then reads the database: every
 * settlement a till was told succeeded is in the ledger once, no basket is charged twice, and each
 * currency's postings sum to zero.
 */
import { join } from 'node:path';
import postgres from 'postgres';
import {
  pinSealContext,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
  type Item,
  type SettleResponse,
} from '@bluetill/protocol';
import { readTerminalTls, type SeededBackend } from '@bluetill/backend';
import { BackendError, GrpcBackendClient } from '@bluetill/pos-terminal';
import { TestCard } from '../../backend/src/test-support/test-card';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a run's choices, from its printed seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const terminalIdOf = (index: number) => `T-${String(index + 1).padStart(4, '0')}`;

export interface TillFacts {
  /** Settlements the till was told were approved (terminal/txn). */
  readonly acknowledged: string[];
  /** When each acknowledgement arrived (ms since the epoch), in the order of `acknowledged`. */
  readonly acknowledgedAt: number[];
  /** Baskets paid (each must be charged once). */
  baskets: number;
  /** Outcomes the till did not know and asked about; those still unknown after asking. */
  asked: number;
  unresolved: number;
  /** Payments tried again because a call before Settle failed (nothing could settle). */
  errors: number;
}

export interface TillOptions {
  readonly seed: SeededBackend;
  /** host:port of every node the till balances over. */
  readonly addresses: () => readonly string[];
  readonly stop: { now: boolean };
  readonly deadlineMs?: number;
  /** Called with each acknowledged settlement (for a run that stops after enough payments). */
  readonly onAcknowledged?: () => void;
}

/** One till (index 0…) paying basket after basket with its own card until `stop.now`. */
export async function payingTill(index: number, o: TillOptions): Promise<TillFacts> {
  const terminalId = terminalIdOf(index);
  const card = TestCard.fromFile(
    join(o.seed.cardsDir, `card-fleet-${String(index + 1).padStart(3, '0')}.json`),
  );
  const pin = String(1001 + index);
  const client = new GrpcBackendClient({
    authorizationAddress: [...o.addresses()],
    terminalId,
    tls: readTerminalTls(o.seed.tlsDir, terminalId),
    deadlineMs: o.deadlineMs ?? 2_000,
    attempts: 3,
    backoffMs: 100,
    log: { warn: () => undefined, info: () => undefined },
  });
  const root = publicKeyFromRaw(Buffer.from(o.seed.trust.cardCompanyRoot, 'base64'));
  const facts: TillFacts = {
    acknowledged: [],
    acknowledgedAt: [],
    baskets: 0,
    asked: 0,
    unresolved: 0,
    errors: 0,
  };
  const { stop } = o;
  try {
    for (let basket = 0; !stop.now; basket++) {
      const minor = 100 + ((basket * 37 + index) % 400);
      const items: Item[] = [{ sku: `b${basket}`, name: 'Goods', quantity: 1, unitPriceMinor: minor }];
      const amount = { minor, currency: 'EUR' };
      for (let attempt = 0; !stop.now; attempt++) {
        const txn = `${terminalId}-${basket}-${attempt}`;
        let outcome: SettleResponse | null | 'unknown';
        let request: Parameters<GrpcBackendClient['settle']>[0] | undefined;
        try {
          const ch = await client.challenge();
          const un = ch.unpredictableNumber;
          const pinKey = verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
          const auth = await client.authorize({
            terminalId,
            unpredictableNumber: un,
            sealedPinBlock: sealPin({
              pin,
              pan: card.p.pan,
              pinKey: pinKey.publicKey,
              pinKeyId: pinKey.subjectId,
              context: pinSealContext(un, terminalId),
            }),
            card: card.cardData(un),
          });
          if (!auth.approved) throw new Error(`authorization declined: ${auth.declineReason}`);
          request = {
            terminalId,
            terminalTxnId: txn,
            merchantId: 'M-0001',
            authorizationRef: auth.authorizationRef,
            card: card.cardData(un),
            amount,
            items,
            cryptogram: card.arqc(amount, un),
          };
        } catch (e) {
          // Nothing of this payment can settle yet (no Settle was sent): the basket is tried again.
          if (!(e instanceof BackendError)) throw e;
          facts.errors++;
          await sleep(50);
          continue;
        }
        try {
          outcome = await client.settle(request);
        } catch (e) {
          if (!(e instanceof BackendError)) throw e;
          outcome = 'unknown';
        }
        if (outcome === 'unknown') {
          // The till's rule: ask; if the card company has nothing, cancel it for good, then pay again.
          facts.asked++;
          outcome = await resolveByAsking(client, request);
          if (outcome === 'unknown') {
            facts.unresolved++;
            break;
          }
        }
        if (outcome?.approved) {
          facts.acknowledged.push(`${terminalId}/${txn}`);
          facts.acknowledgedAt.push(Date.now());
          facts.baskets++;
          o.onAcknowledged?.();
          break;
        }
        if (outcome && !outcome.approved && outcome.declineReason !== 'cancelled')
          throw new Error(`${txn} declined: ${outcome.declineReason}`);
      }
    }
  } finally {
    client.close();
  }
  return facts;
}

/** GetSettlement until a node answers; NOT_FOUND → a signed cancellation (the stored answer wins a race). */
export async function resolveByAsking(
  client: GrpcBackendClient,
  request: Parameters<GrpcBackendClient['settle']>[0],
): Promise<SettleResponse | null | 'unknown'> {
  for (let i = 0; i < 40; i++) {
    try {
      const found = await client.getSettlement(request.terminalTxnId);
      if (found) return found;
      return await client.cancel({ ...request, reason: 'cancelled' });
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
      await sleep(250);
    }
  }
  return 'unknown';
}

export interface Books {
  /** Acknowledged settlements not in the ledger exactly once. */
  readonly lost: number;
  /** Baskets with more than one approved settlement. */
  readonly doubleCharges: number;
  /** Sum over currencies of |sum of postings|. */
  readonly ledgerSum: number;
  readonly approvedSettlements: number;
}

/** Reads the database after the run: what the tills were told against what is in the ledger. */
export async function checkBooks(url: string, acknowledged: readonly string[]): Promise<Books> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const rows = await sql<{ key: string; approved: boolean }[]>`
      SELECT terminal_id || '/' || terminal_txn_id AS key, approved FROM settlements`;
    const approved = new Map<string, number>();
    for (const r of rows) if (r.approved) approved.set(r.key, (approved.get(r.key) ?? 0) + 1);
    const lost = acknowledged.filter((k) => approved.get(k) !== 1).length;
    // A basket charged twice: two approved settlements of one till's basket (its id's prefix).
    const perBasket = new Map<string, number>();
    for (const key of approved.keys()) {
      const basket = key.replace(/-\d+$/, '');
      perBasket.set(basket, (perBasket.get(basket) ?? 0) + 1);
    }
    const doubleCharges = [...perBasket.values()].filter((n) => n > 1).length;
    const sums = await sql<{ currency: string; s: string }[]>`
      SELECT currency, SUM(amount_minor)::text AS s FROM postings GROUP BY currency`;
    const ledgerSum = sums.reduce((a, r) => a + Math.abs(Number(r.s)), 0);
    return { lost, doubleCharges, ledgerSum, approvedSettlements: approved.size };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
