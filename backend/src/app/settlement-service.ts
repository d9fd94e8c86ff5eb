/**
 * The settlement server's use case: exactly once per (terminal, terminal transaction id).
 * In one transaction (group-committed with concurrent requests; answered once durable): look up an earlier result (a retry returns it unchanged), check the
 * rules, store the result, post balanced ledger entries, mark the authorization used.
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
import type { BackendStore } from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import { MAX_PIN_TRIES, checkSettlement } from '../domain/rules';
import { verifyCryptogram } from '../domain/card-authentication';
import { requestHash as requestHash_ } from './request-hash';
import { RequestError } from './request-error';
import { replayOf } from './exactly-once';
import { checkCaller, type Caller } from './caller';
import { recordSale } from './record-sale';

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
    const {
      requestHash: hash,
      panHash,
      cryptogram: precomputed,
    } = prepared ?? prepareSettle(this.keys, req, caller);
    const response = await this.store.commit(async (tx): Promise<SettleResponse> => {
      // The reads are asked for together, each group at once: on PostgreSQL they pipeline on the
      // transaction's connection (one round trip per group instead of one per read). The card's
      // row is locked in the first group, before the merchant's balance is touched.
      const [prior, terminal, card, authorization] = await Promise.all([
        tx.findSettlement(req.terminalId, req.terminalTxnId),
        tx.findTerminal(req.terminalId),
        tx.findCardByPanHash(panHash),
        tx.findAuthorization(req.authorizationRef),
      ]);
      const replay = replayOf(prior, hash, (b) => SettleResponse.decode(b), 'terminal transaction id');
      if (replay) return replay;
      const now = this.clock.now();
      const [merchant, balance] = await Promise.all([
        terminal ? tx.findMerchant(terminal.merchantId) : undefined,
        card ? tx.accountBalance(card.accountId) : 0,
      ]);
      const amount = req.amount!;
      const atc = req.cryptogram?.atc ?? -1;
      const available = card ? card.creditLimitMinor + balance : 0;
      let cryptogram: DeclineCode | null = null;
      if (card && authorization) {
        const un = fromHex(authorization.un);
        cryptogram =
          precomputed &&
          precomputed.panSequence === card.panSequence &&
          equalBytes(precomputed.unpredictableNumber, un)
            ? precomputed.result
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
      const atcUsed =
        card && authorization && cryptogram === null && atc >= 0 ? !(await tx.useAtc(card.id, atc)) : false;
      const decline = checkSettlement({
        terminal,
        merchant,
        requestMerchantId: req.merchantId,
        authorization,
        card,
        amount,
        items: req.items,
        availableMinor: available,
        atcUsed,
        cryptogram,
        cvr,
        now,
      });
      const { response: result } = await recordSale(tx, this.keys, {
        terminalId: req.terminalId,
        terminalTxnId: req.terminalTxnId,
        requestHash: hash,
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
      // The last writes, sent together (pipelined on PostgreSQL).
      await Promise.all([
        // The card signed that its PIN is locked: online PIN (and so every method) locks here too.
        card && cryptogram === null && cvr?.pinTryLimitExceeded && card.pinTries < MAX_PIN_TRIES
          ? tx.setPinTries(card.id, MAX_PIN_TRIES)
          : undefined,
        result.approved ? tx.markAuthorizationSettled(req.authorizationRef) : undefined,
      ]);
      return result;
    });
    this.events.onSettled?.({
      approved: response.approved,
      decline: (response.declineReason || null) as DeclineCode | null,
      replayed: response.replayed,
    });
    return response;
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
