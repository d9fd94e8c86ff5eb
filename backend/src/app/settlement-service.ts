/**
 * The settlement server's use case: exactly once per (terminal, terminal transaction id).
 * As one atomic step (answered once durable): look up an earlier result (a retry returns it
 * unchanged), check the rules, store the result, post balanced ledger entries, mark the
 * authorization used. The decision is a function of the facts read (`decide`), so a store can run
 * the step as a transaction (readSettleFacts, decide, writeSettle; SQLite group-commits it with
 * concurrent requests) or as one read and one checked write (BackendStore.settleOnce, PostgreSQL).
 */
import {
  CARD_CDOL1_ENTRIES,
  CancelRequest,
  SettleRequest,
  encodeProto,
  SettleResponse,
  maskPan,
  equalBytes,
  fromHex,
  decodeIad,
  splitDolData,
  type DeclineCode,
} from '@bluetill/protocol';
import type {
  BackendStore,
  SettleDecision,
  SettleFacts,
  SettleQuery,
  SettleWrites,
  StoreTx,
} from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import { MAX_PIN_TRIES, checkSettlement } from '../domain/rules';
import { verifyCryptogram } from '../domain/card-authentication';
import { requestHash as requestHash_ } from './request-hash';
import { RequestError } from './request-error';
import { replayOf } from './exactly-once';
import { checkCaller, type Caller } from './caller';
import { recordSale, saleRecord, writeSale } from './record-sale';

export type { Caller } from './caller';

export interface SettlementEvents {
  onSettled?(outcome: { approved: boolean; decline: DeclineCode | null; replayed: boolean }): void;
}

/**
 * What a Settle needs that is pure CPU work on the request and the keys (no store): the request's
 * hash, the PAN's lookup hash, and the ARQC check made with the inputs the request claims (the
 * card's PAN sequence number, the UN inside the CDOL1 data). Made before the transaction (by a
 * crypto worker, or inline); inside it the ARQC result is used only when the stored card and
 * authorization have exactly those inputs, otherwise it is checked again there — so the outcome
 * is the one the check inside the transaction would give.
 */
export interface PreparedSettle {
  readonly requestHash: Uint8Array;
  readonly panHash: string;
  readonly cryptogram: {
    readonly panSequence: number;
    readonly unpredictableNumber: Uint8Array;
    readonly result: DeclineCode | null;
  } | null;
}

export function prepareSettle(keys: KeyStore, req: SettleRequest, caller: Caller): PreparedSettle {
  checkCaller(req.terminalId, caller);
  const requestHash = requestHash_(encodeProto(SettleRequest, req));
  const card = req.card!;
  const un = req.cryptogram
    ? splitDolData(CARD_CDOL1_ENTRIES, req.cryptogram.cdolData)?.get('9F37')
    : undefined;
  const cryptogram = un
    ? {
        panSequence: card.panSequence,
        unpredictableNumber: un,
        result: verifyCryptogram({
          cryptogram: req.cryptogram,
          pan: card.pan,
          panSequence: card.panSequence,
          amount: req.amount!,
          unpredictableNumber: un,
          acMasterKeys: keys.acMasterKeys,
          cardKeys: keys.cardKeys,
        }),
      }
    : null;
  return { requestHash, panHash: keys.panHash(card.pan), cryptogram };
}

export class SettlementUseCase {
  constructor(
    private readonly store: BackendStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    private readonly events: SettlementEvents = {},
  ) {}

  /** `prepared`: made by a crypto worker (prepareSettle); made here when absent. */
  async settle(req: SettleRequest, caller: Caller, prepared?: PreparedSettle): Promise<SettleResponse> {
    checkCaller(req.terminalId, caller);
    const p = prepared ?? prepareSettle(this.keys, req, caller);
    const q: SettleQuery = {
      terminalId: req.terminalId,
      terminalTxnId: req.terminalTxnId,
      panHash: p.panHash,
      authorizationRef: req.authorizationRef,
      atc: req.cryptogram?.atc ?? -1,
    };
    const decide = (facts: SettleFacts) => this.decide(req, p, facts);
    // A networked store decides in one read and one write when it can; else (SQLite, or a card
    // that kept changing under the optimistic write) in a transaction that holds the card's lock.
    const once = await this.store.settleOnce?.(q, decide);
    const response =
      once?.answer ??
      (await this.store.commit(async (tx) => {
        const decision = decide(await readSettleFacts(tx, q));
        if (decision.writes) await writeSettle(tx, decision.writes);
        return decision.answer;
      }));
    this.events.onSettled?.({
      approved: response.approved,
      decline: (response.declineReason || null) as DeclineCode | null,
      replayed: response.replayed,
    });
    return response;
  }

  /**
   * The Settle's decision on its facts (pure but for the clock and the receipt's signature): the
   * stored answer of an earlier request with this id, or the rules' outcome, signed, with what to
   * write for it.
   */
  private decide(req: SettleRequest, p: PreparedSettle, f: SettleFacts): SettleDecision<SettleResponse> {
    const replay = replayOf(
      f.prior,
      p.requestHash,
      (b) => SettleResponse.decode(b),
      'terminal transaction id',
    );
    if (replay) return { answer: replay };
    const now = this.clock.now();
    const { card, authorization, terminal, merchant } = f;
    const amount = req.amount!;
    const atc = req.cryptogram?.atc ?? -1;
    let cryptogram: DeclineCode | null = null;
    if (card && authorization) {
      const un = fromHex(authorization.un);
      const pre = p.cryptogram;
      cryptogram =
        pre && pre.panSequence === card.panSequence && equalBytes(pre.unpredictableNumber, un)
          ? pre.result
          : verifyCryptogram({
              cryptogram: req.cryptogram,
              pan: req.card!.pan,
              panSequence: card.panSequence,
              amount,
              unpredictableNumber: un,
              acMasterKeys: this.keys.acMasterKeys,
              cardKeys: this.keys.cardKeys,
            });
    }
    const cvr = decodeIad(req.cryptogram?.iad ?? new Uint8Array())?.cvr;
    // A genuine cryptogram uses up its ATC even when declined (funds, limits): it cannot be replayed.
    const genuine = card && authorization && cryptogram === null && atc >= 0 ? card : undefined;
    const decline = checkSettlement({
      terminal,
      merchant,
      requestMerchantId: req.merchantId,
      authorization,
      card,
      amount,
      items: req.items,
      availableMinor: card ? card.creditLimitMinor + f.balanceMinor : 0,
      atcUsed: genuine ? f.atcUsed : false,
      cryptogram,
      cvr,
      now,
    });
    const record = saleRecord(this.keys, {
      terminalId: req.terminalId,
      terminalTxnId: req.terminalTxnId,
      requestHash: p.requestHash,
      terminalMerchantId: terminal?.merchantId ?? '',
      merchant,
      card,
      maskedPan: maskPan(req.card!.pan),
      items: req.items,
      amount,
      decline,
      now,
      atc: Math.max(0, atc),
    });
    return {
      answer: record.response,
      writes: {
        settlement: record.settlement,
        postings: record.postings,
        ...(genuine && !f.atcUsed ? { useAtc: { cardId: genuine.id, atc } } : {}),
        // The card signed that its PIN is locked: online PIN (and so every method) locks here too.
        ...(card && cryptogram === null && cvr?.pinTryLimitExceeded && card.pinTries < MAX_PIN_TRIES
          ? { pinTries: { cardId: card.id, tries: MAX_PIN_TRIES } }
          : {}),
        ...(record.response.approved ? { settleAuthorization: req.authorizationRef } : {}),
      },
    };
  }

  /**
   * A till ends a payment before settling it (Settlement.Cancel). In one transaction: an id that
   * already has a result gets that result back (a settled payment stays settled, and the till
   * learns it); otherwise the id is recorded as declined (the till's reason) or cancelled, signed,
   * with no postings; the authorization is used up, so its single-use UN, and with it any
   * cryptogram over it, can no longer settle; and a genuine cryptogram's ATC is used up, so no
   * cryptogram with it settles later. A later Settle of this id is refused (already_exists).
   */
  async cancel(req: CancelRequest, caller: Caller): Promise<SettleResponse> {
    checkCaller(req.terminalId, caller);
    const hash = requestHash_(encodeProto(CancelRequest, req));
    const panHash = this.keys.panHash(req.card!.pan);
    const response = await this.store.commit(async (tx): Promise<SettleResponse> => {
      const prior = await tx.findSettlement(req.terminalId, req.terminalTxnId);
      if (prior) return { ...SettleResponse.decode(prior.response), replayed: true };
      const now = this.clock.now();
      const terminal = await tx.findTerminal(req.terminalId);
      const merchant = terminal && (await tx.findMerchant(terminal.merchantId));
      const card = await tx.findCardByPanHash(panHash);
      const found = await tx.findAuthorization(req.authorizationRef);
      // Only this terminal's authorization of this card is used up (a till cannot spend another's).
      const authorization =
        found && card && found.cardId === card.id && found.terminalId === req.terminalId ? found : undefined;
      let atc = 0;
      if (card && authorization && req.cryptogram) {
        const genuine =
          verifyCryptogram({
            cryptogram: req.cryptogram,
            pan: req.card!.pan,
            panSequence: card.panSequence,
            amount: req.amount!,
            unpredictableNumber: fromHex(authorization.un),
            acMasterKeys: this.keys.acMasterKeys,
            cardKeys: this.keys.cardKeys,
          }) === null;
        if (genuine) {
          atc = req.cryptogram.atc;
          await tx.useAtc(card.id, atc);
        }
      }
      const reason = req.reason as DeclineCode;
      const { response: result } = await recordSale(tx, this.keys, {
        terminalId: req.terminalId,
        terminalTxnId: req.terminalTxnId,
        requestHash: hash,
        terminalMerchantId: terminal?.merchantId ?? '',
        merchant: merchant ?? undefined,
        card,
        maskedPan: maskPan(req.card!.pan),
        items: req.items,
        amount: req.amount!,
        decline: reason,
        now,
        atc,
        cancelled: reason === 'cancelled',
      });
      if (authorization && !authorization.settled) await tx.markAuthorizationSettled(authorization.ref);
      return result;
    });
    this.events.onSettled?.({
      approved: response.approved,
      decline: (response.declineReason || null) as DeclineCode | null,
      replayed: response.replayed,
    });
    return response;
  }

  /** What became of a settlement; NOT_FOUND when it never reached the ledger. */
  async get(terminalId: string, terminalTxnId: string, caller: Caller): Promise<SettleResponse> {
    checkCaller(terminalId, caller);
    const prior = await this.store.read((tx) => tx.findSettlement(terminalId, terminalTxnId));
    if (!prior) throw new RequestError('not_found', 'no such settlement');
    return { ...SettleResponse.decode(prior.response), replayed: true };
  }
}

/**
 * A Settle's facts, read in the caller's transaction (on PostgreSQL the card's row is read
 * FOR UPDATE: the card's state cannot change before the transaction ends). The reads of each group
 * are asked for together: on PostgreSQL they pipeline on the transaction's connection.
 */
export async function readSettleFacts(tx: StoreTx, q: SettleQuery): Promise<SettleFacts> {
  const [prior, terminal, card, authorization] = await Promise.all([
    tx.findSettlement(q.terminalId, q.terminalTxnId),
    tx.findTerminal(q.terminalId),
    tx.findCardByPanHash(q.panHash),
    tx.findAuthorization(q.authorizationRef),
  ]);
  if (prior)
    return { prior, terminal, merchant: undefined, card, balanceMinor: 0, authorization, atcUsed: false };
  const [merchant, balanceMinor, atcUsed] = await Promise.all([
    terminal ? tx.findMerchant(terminal.merchantId) : undefined,
    card ? tx.accountBalance(card.accountId) : 0,
    card && q.atc >= 0 ? tx.atcUsed(card.id, q.atc) : false,
  ]);
  return { prior, terminal, merchant, card, balanceMinor, authorization, atcUsed };
}

/** A Settle's writes in the caller's transaction, after readSettleFacts in the same one. */
export async function writeSettle(tx: StoreTx, w: SettleWrites): Promise<void> {
  if (w.useAtc && !(await tx.useAtc(w.useAtc.cardId, w.useAtc.atc)))
    throw new Error(
      `ATC ${w.useAtc.atc} of card ${w.useAtc.cardId} was used by another request under the card's lock`,
    );
  await writeSale(tx, w);
  await Promise.all([
    w.pinTries ? tx.setPinTries(w.pinTries.cardId, w.pinTries.tries) : undefined,
    w.settleAuthorization ? tx.markAuthorizationSettled(w.settleAuthorization) : undefined,
  ]);
}
