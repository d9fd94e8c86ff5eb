/**
 * The settlement server's use case: exactly once per (terminal, terminal transaction id).
 * In one transaction (group-committed with concurrent requests; answered once durable): look up an earlier result (a retry returns it unchanged), check the
 * rules, store the result, post balanced ledger entries, mark the authorization used.
 */
import {
  SettleRequest, SettleResponse, maskPan, equalBytes, fromHex, decodeIad,
  type DeclineCode,
} from '@bluetill/protocol';
import type { BackendStore } from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import { checkSettlement } from '../domain/rules';
import { verifyCryptogram } from '../domain/card-authentication';
import { requestHash } from './request-hash';
import { RequestError } from './request-error';
import { checkCaller, type Caller } from './caller';
import { recordSale } from './record-sale';

export type { Caller } from './caller';

export interface SettlementEvents {
  onSettled?(outcome: { approved: boolean; decline: DeclineCode | null; replayed: boolean }): void;
}

export class SettlementUseCase {
  constructor(
    private readonly store: BackendStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    private readonly events: SettlementEvents = {},
  ) {}

  async settle(req: SettleRequest, caller: Caller): Promise<SettleResponse> {
    checkCaller(req.terminalId, caller);
    const hash = requestHash(SettleRequest.encode(req).finish());
    const panHash = this.keys.panHash(req.card!.pan);
    const response = await this.store.commit((): SettleResponse => {
      const prior = this.store.findSettlement(req.terminalId, req.terminalTxnId);
      if (prior) {
        if (!equalBytes(prior.requestHash, hash))
          throw new RequestError('already_exists', 'terminal transaction id already used for a different request');
        return { ...SettleResponse.decode(prior.response), replayed: true };
      }
      const now = this.clock.now();
      const terminal = this.store.findTerminal(req.terminalId);
      const merchant = terminal && this.store.findMerchant(terminal.merchantId);
      const card = this.store.findCardByPanHash(panHash);
      const authorization = this.store.findAuthorization(req.authorizationRef);
      const amount = req.amount!;
      const atc = req.cryptogram?.atc ?? -1;
      const available = card ? card.creditLimitMinor + this.store.accountBalance(card.accountId) : 0;
      const cryptogram =
        card && authorization
          ? verifyCryptogram({ cryptogram: req.cryptogram, pan: req.card!.pan, panSequence: card.panSequence, amount, unpredictableNumber: fromHex(authorization.un), acMasterKeys: this.keys.acMasterKeys })
          : null;
      const cvr = decodeIad(req.cryptogram?.iad ?? new Uint8Array())?.cvr;
      const decline = checkSettlement({ terminal, merchant, requestMerchantId: req.merchantId, authorization, card, amount, items: req.items, availableMinor: available, atc, cryptogram, cvr, now });
      const { response: result } = recordSale(this.store, this.keys, {
        terminalId: req.terminalId, terminalTxnId: req.terminalTxnId, requestHash: hash, requestMerchantId: req.merchantId, merchant, card,
        maskedPan: maskPan(req.card!.pan), items: req.items, amount, decline, now,
      });
      // A genuine cryptogram uses up its ATC even when declined (funds, limits): it cannot be replayed.
      if (card && atc > card.lastAtc && cryptogram === null) this.store.setLastAtc(card.id, atc);
      if (result.approved) this.store.markAuthorizationSettled(req.authorizationRef);
      return result;
    });
    this.events.onSettled?.({ approved: response.approved, decline: (response.declineReason || null) as DeclineCode | null, replayed: response.replayed });
    return response;
  }

  /** What became of a settlement; NOT_FOUND when it never reached the ledger. */
  get(terminalId: string, terminalTxnId: string, caller: Caller): SettleResponse {
    checkCaller(terminalId, caller);
    const prior = this.store.findSettlement(terminalId, terminalTxnId);
    if (!prior) throw new RequestError('not_found', 'no such settlement');
    return { ...SettleResponse.decode(prior.response), replayed: true };
  }
}
