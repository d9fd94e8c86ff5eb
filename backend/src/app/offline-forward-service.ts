/**
 * The settlement server's side of an offline sale (Settlement.ForwardOffline): a till that
 * approved a sale while the card company was unreachable forwards the card's TC once the network
 * is back. Exactly once per (terminal, offline id), which shares the settlements' terminal
 * transaction ids (GetSettlement finds it; the same request gets the stored answer, another
 * request under the id ALREADY_EXISTS). In one transaction: the earlier answer if any; else the
 * terminal and merchant, the card's TC checked again (classifyForwardedTc: chain, CDA,
 * cryptogram under the card's key, an ATC the card never used before online or offline, the
 * card's status at the time of the sale, its expiry, currency and credit), then either the
 * settled sale (receipt, ledger pair) or the merchant's loss with its reason (a declined receipt that
 * names it); and the offline row beside it, for the report. Nothing is dropped silently.
 */
import {
  ForwardOfflineRequest,
  SettleResponse,
  basketTotal,
  encodeProto,
  maskPan,
  verifyOfflineTc,
  type DeclineCode,
  type OfflineTcEvidence,
} from '@bluetill/protocol';
import type { BackendStore, CardRow, StoreTx } from '../ports/backend-store';
import type { OfflineSaleQueries, OfflineSaleStore } from '../ports/offline-sale-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import { classifyForwardedTc, type CardAtSale, type OfflineLossReason } from '../domain/offline-tc';
import { MAX_TRANSACTION_MINOR } from '../domain/rules';
import { replayOf } from './exactly-once';
import { requestHash } from './request-hash';
import { checkCaller, type Caller } from './caller';
import { recordSale } from './record-sale';

export interface OfflineForwardEvents {
  onForwarded?(outcome: {
    outcome: 'settled' | 'merchant_loss' | 'declined';
    reason: string | null;
    replayed: boolean;
  }): void;
}

/** Why a forwarded sale is the merchant's loss: classifyForwardedTc's reasons, and the basket's. */
export type ForwardLossReason = OfflineLossReason | 'items_mismatch' | 'amount_limit_exceeded';

export class OfflineForwardUseCase {
  constructor(
    private readonly store: BackendStore,
    private readonly offlineSales: OfflineSaleStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    private readonly events: OfflineForwardEvents = {},
  ) {}

  async forwardOffline(req: ForwardOfflineRequest, caller: Caller): Promise<SettleResponse> {
    checkCaller(req.terminalId, caller);
    const hash = requestHash(encodeProto(ForwardOfflineRequest, req));
    const evidence: OfflineTcEvidence = {
      records: req.tc!.records,
      pdolData: req.tc!.pdolData,
      cdol1Data: req.tc!.cdol1Data,
      response: req.tc!.response,
    };
    // Which card the TC names (its certificates, whatever their expiry): looked up before deciding.
    const named = verifyOfflineTc({ evidence, caKeys: this.keys.caPublicKeys, now: null });
    const panHash = named.ok ? this.keys.panHash(named.tc.pan) : undefined;
    let outcome: 'settled' | 'merchant_loss' | 'declined' = 'declined';
    let reason: string | null = null;
    const response = await this.store.commit(async (tx): Promise<SettleResponse> => {
      const replay = replayOf(
        await tx.findSettlement(req.terminalId, req.offlineId),
        hash,
        (b) => SettleResponse.decode(b),
        'offline id',
      );
      if (replay) return replay;
      const now = this.clock.now();
      const offline = this.offlineSales.within(tx);
      const terminal = await tx.findTerminal(req.terminalId);
      const merchant = terminal && (await tx.findMerchant(terminal.merchantId));
      const amount = req.amount!;
      const card = panHash ? await tx.findCardByPanHash(panHash) : undefined;
      const base = {
        terminalId: req.terminalId,
        terminalTxnId: req.offlineId,
        requestHash: hash,
        terminalMerchantId: terminal?.merchantId ?? '',
        merchant,
        items: req.items,
        amount,
        now,
      };
      // A terminal the card company does not know for this merchant has no merchant to bear a loss.
      const refused: DeclineCode | null =
        !terminal || terminal.status !== 'active' || !merchant || merchant.id !== req.merchantId
          ? 'terminal_unknown'
          : merchant.status !== 'active'
            ? 'merchant_inactive'
            : null;
      if (refused) {
        outcome = 'declined';
        reason = refused;
        return (
          await recordSale(tx, this.keys, {
            ...base,
            card,
            maskedPan: card?.panMasked ?? '',
            decline: refused,
            offline: { lossReason: '' },
          })
        ).response;
      }
      const judged = await this.judge(tx, offline, evidence, req, card);
      const atc = judged.tc?.atc ?? null;
      const lossReason: ForwardLossReason | null =
        judged.kind === 'settle'
          ? amount.currency !== merchant!.currency
            ? 'currency_mismatch'
            : basketTotal(req.items, amount.currency).minor !== amount.minor
              ? 'items_mismatch'
              : amount.minor > MAX_TRANSACTION_MINOR
                ? 'amount_limit_exceeded'
                : null
          : judged.reason;
      const settled = lossReason === null;
      const { response: result, settlementId } = await recordSale(tx, this.keys, {
        ...base,
        card,
        maskedPan: card?.panMasked ?? (judged.tc ? maskPan(judged.tc.pan) : ''),
        decline: settled ? null : 'offline_merchant_loss',
        atc: atc ?? 0,
        offline: { lossReason: lossReason ?? '' },
      });
      await offline.insertOfflineSale({
        settlementId,
        terminalId: req.terminalId,
        offlineId: req.offlineId,
        cardId: card?.id ?? null,
        atc,
        outcome: settled ? 'settled' : 'merchant_loss',
        lossReason,
        amountMinor: amount.minor,
        currency: amount.currency,
        approvedAt: req.approvedAtMs,
        forwardedAt: now,
      });
      outcome = settled ? 'settled' : 'merchant_loss';
      reason = lossReason;
      return result;
    });
    this.events.onForwarded?.({
      outcome: response.replayed ? (response.approved ? 'settled' : 'declined') : outcome,
      reason: response.replayed ? null : reason,
      replayed: response.replayed,
    });
    return response;
  }

  /** classifyForwardedTc over what the store knows of the card at the time of the sale. */
  private async judge(
    tx: StoreTx,
    offline: OfflineSaleQueries,
    evidence: OfflineTcEvidence,
    req: ForwardOfflineRequest,
    card: CardRow | undefined,
  ) {
    let cardAtSale: CardAtSale | undefined;
    let seen = new Set<number>();
    if (card) {
      const at = await offline.cardStatusAt(card.id, req.approvedAtMs);
      const blocked = at !== undefined && at.status !== 'active';
      cardAtSale = {
        ...(blocked ? { blockedSinceMs: at.sinceMs } : {}),
        availableMinor: card.creditLimitMinor + (await tx.accountBalance(card.accountId)),
        currency: card.currency,
      };
      // The card signed this ATC (its CDA verified): it is used up now, whatever the verdict, and
      // one the card used before (online or offline, on any node) is a replay.
      const named = verifyOfflineTc({ evidence, caKeys: this.keys.caPublicKeys, now: null });
      if (named.ok && named.tc.psn === card.panSequence && !(await tx.useAtc(card.id, named.tc.atc)))
        seen = new Set([named.tc.atc]);
    }
    return classifyForwardedTc({
      forwarded: { evidence, amount: req.amount!, approvedAtMs: req.approvedAtMs },
      caKeys: this.keys.caPublicKeys,
      acMasterKeys: this.keys.acMasterKeys,
      ...(this.keys.cardKeys ? { cardKeys: this.keys.cardKeys } : {}),
      cardAtSale: (pan, psn) =>
        card && cardAtSale && this.keys.panHash(pan) === card.panHash && psn === card.panSequence
          ? cardAtSale
          : undefined,
      atcSeen: (_pan, _psn, atc) => seen.has(atc),
    });
  }
}
