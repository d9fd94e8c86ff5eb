/**
 * The backend's use cases over one store and key store: built here once, whether they run on the
 * gRPC thread or in the use-case worker (adapters/worker), so every write goes through the one
 * store's commit() (the shopper's and the temporary code's too). A new use case is added here and is
 * then reachable in both modes. Events (settled, refunded, …) go to `event`, which the gRPC
 * thread writes to its log.
 */
import type { BackendStore } from '../../ports/backend-store';
import type { OfflineSaleStore } from '../../ports/offline-sale-store';
import type { Clock } from '../../ports/clock';
import type { KeyStore } from '../../ports/key-store';
import { AuthorizationUseCase, type AuthorizationLimits } from '../../app/authorization-service';
import { SettlementUseCase } from '../../app/settlement-service';
import { AdjustmentUseCase } from '../../app/adjustment-service';
import { BatchUseCase } from '../../app/batch-service';
import { CodeSettlementUseCase } from '../../app/code-settlement-service';
import { OfflineForwardUseCase } from '../../app/offline-forward-service';
import { ShopperUseCase, type ShopperOptions } from '../../app/shopper-service';

/** One structured log line: fields (never card data) and a message. */
export type EventSink = (fields: Record<string, unknown>, message: string) => void;

export interface UseCases {
  readonly authorization: AuthorizationUseCase;
  readonly settlement: SettlementUseCase;
  readonly adjustments: AdjustmentUseCase;
  readonly batches: BatchUseCase;
  /** SettleWithCode (a till keys in a shopper's temporary code). */
  readonly codeSettlement: CodeSettlementUseCase;
  /** ForwardOffline (a till forwards a sale it approved offline). */
  readonly offlineForward: OfflineForwardUseCase;
  /** The shopper-facing listener's Challenge, IssueCode and PayMerchant. */
  readonly shopper: ShopperUseCase;
}

export function createUseCases(
  store: BackendStore,
  offlineSales: OfflineSaleStore,
  keys: KeyStore,
  clock: Clock,
  event: EventSink,
  shopperOptions: ShopperOptions = {},
  authorizationLimits: AuthorizationLimits = {},
): UseCases {
  const settlement = new SettlementUseCase(store, keys, clock, {
    onSettled: (e) => event({ event: 'settled', ...e }, 'settlement'),
  });
  const adjustments = new AdjustmentUseCase(store, keys, clock, {
    onAdjusted: (e) => event({ event: e.kind === 'refund' ? 'refunded' : 'voided', ...e }, e.kind),
  });
  const batches = new BatchUseCase(store, clock);
  const authorization = new AuthorizationUseCase(
    store,
    keys,
    clock,
    settlement,
    { onDecision: (e) => event({ event: 'authorized', ...e }, 'authorization') },
    authorizationLimits,
  );
  const codeSettlement = new CodeSettlementUseCase(store, keys, clock, {
    onSettled: (e) => event({ event: 'settled_with_code', ...e }, 'settlement'),
  });
  const shopper = new ShopperUseCase(store, keys, clock, shopperOptions, {
    onCodeIssued: (e) => event({ event: 'code_issued', ...e }, 'shopper'),
    onMerchantPayment: (e) => event({ event: 'merchant_card_payment', ...e }, 'shopper'),
    onOutcome: (e) => event({ event: 'outcome_asked', ...e }, 'shopper'),
    onOfflineReceipt: (e) => event({ event: 'offline_receipt_asked', ...e }, 'shopper'),
  });
  const offlineForward = new OfflineForwardUseCase(store, offlineSales, keys, clock, {
    onForwarded: (e) => event({ event: 'offline_forwarded', ...e }, 'settlement'),
  });
  return { authorization, settlement, adjustments, batches, codeSettlement, shopper, offlineForward };
}

/** A use case as seen from another thread: every method answers with a promise. */
export type Remote<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};
export type RemoteUseCases = { readonly [K in keyof UseCases]: Remote<UseCases[K]> };
