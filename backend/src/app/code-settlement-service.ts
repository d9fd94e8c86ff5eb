/**
 * The settlement server's side of the temporary password (claims 1, 5, 6): a till sends the sale
 * with the code the cashier keyed in. Exactly once per (terminal, terminal transaction id), like
 * Settle (the same settlements table, so GetSettlement finds it and a retry returns the first
 * result). In one transaction: the earlier result if any; else the rules (terminal and merchant
 * per the caller's certificate; failed codes — wrong, used or expired — counted per merchant and
 * per terminal, each with its limit; code live, card, merchant's currency, limit, funds),
 * the stored result, the ledger pair, and the code marked used.
 */
import { SettleResponse, SettleWithCodeRequest, type DeclineCode } from '@bluetill/protocol';
import type { BackendStore } from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import {
  WRONG_CODE_WINDOW_MS,
  checkCodeRedemption,
  isFailedCodeGuess,
  lookupCode,
} from '../domain/temporary-code';
import { replayOf } from './exactly-once';
import { requestHash } from './request-hash';
import { checkCaller, type Caller } from './caller';
import { recordSale } from './record-sale';

export interface CodeSettlementEvents {
  onSettled?(outcome: { approved: boolean; decline: DeclineCode | null; replayed: boolean }): void;
}

export class CodeSettlementUseCase {
  constructor(
    private readonly store: BackendStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    private readonly events: CodeSettlementEvents = {},
  ) {}

  async settleWithCode(req: SettleWithCodeRequest, caller: Caller): Promise<SettleResponse> {
    checkCaller(req.terminalId, caller);
    const hash = requestHash(SettleWithCodeRequest.encode(req).finish());
    const codeHash = this.keys.codeHash(req.code);
    const response = await this.store.commit(async (tx): Promise<SettleResponse> => {
      const replay = replayOf(
        await tx.findSettlement(req.terminalId, req.terminalTxnId),
        hash,
        (b) => SettleResponse.decode(b),
        'terminal transaction id',
      );
      if (replay) return replay;
      const now = this.clock.now();
      const terminal = await tx.findTerminal(req.terminalId);
      const merchant = terminal && (await tx.findMerchant(terminal.merchantId));
      const wrong = merchant
        ? await tx.countWrongCodes(merchant.id, req.terminalId, now - WRONG_CODE_WINDOW_MS)
        : { merchant: 0, terminal: 0 };
      const code = lookupCode(await tx.findCodes(codeHash), now);
      const card = code.kind === 'live' ? await tx.findCardById(code.code.cardId) : undefined;
      const amount = req.amount!;
      const available = card ? card.creditLimitMinor + (await tx.accountBalance(card.accountId)) : 0;
      const decline = checkCodeRedemption({
        terminal,
        merchant,
        requestMerchantId: req.merchantId,
        wrongCodes: wrong.merchant,
        wrongCodesAtTerminal: wrong.terminal,
        code,
        card,
        amount,
        items: req.items,
        availableMinor: available,
        now,
      });
      if (isFailedCodeGuess(decline) && merchant) await tx.recordWrongCode(merchant.id, req.terminalId, now);
      const approved = decline === null;
      const { response: result, settlementId } = await recordSale(tx, this.keys, {
        terminalId: req.terminalId,
        terminalTxnId: req.terminalTxnId,
        requestHash: hash,
        terminalMerchantId: terminal?.merchantId ?? '',
        merchant,
        card,
        maskedPan: card ? card.panMasked : '',
        items: req.items,
        amount,
        decline: approved && code.kind === 'live' ? null : (decline ?? 'code_invalid'),
        now,
      });
      if (result.approved && code.kind === 'live') await tx.markCodeUsed(code.code.id, settlementId, now);
      return result;
    });
    this.events.onSettled?.({
      approved: response.approved,
      decline: (response.declineReason || null) as DeclineCode | null,
      replayed: response.replayed,
    });
    return response;
  }
}
