/**
 * Storage of the phone-direct flows (claims 1, 2, 5-8): shopper challenges, temporary codes,
 * wrong-code attempts and merchant cards. Synchronous like BackendStore, and used inside
 * BackendStore.transaction() (same database), so a code is consumed in the same commit as the
 * settlement and ledger rows that consumed it.
 *
 * @example
 *   await store.transaction(() => {
 *     const code = shopper.findLiveCode(hash, now);
 *     ...; const id = store.insertSettlement(row); shopper.markCodeUsed(code.id, id, now);
 *   });
 */
import type { ChallengeState, TransactionListRow } from './backend-store';

export interface TemporaryCodeRow {
  readonly id: number;
  readonly codeHash: string;
  readonly cardId: string;
  readonly limitMinor: number;
  readonly currency: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

export type MerchantCardStatus = 'active' | 'blocked';

export interface MerchantCardRow {
  readonly id: string;
  readonly panHash: string;
  readonly panMasked: string;
  readonly panSequence: number;
  readonly expiry: string;
  readonly merchantId: string;
  /** The merchant card's own terminal row: its sales settle and list under it. */
  readonly terminalId: string;
  readonly status: MerchantCardStatus;
}

export interface ShopperStore {
  /** False (and nothing stored) when this UN is already issued: the caller draws another. */
  insertShopperChallenge(un: string, expiresAt: number): boolean;
  /** Marks the challenge used if it is valid now; says what it found. */
  takeShopperChallenge(un: string, now: number): ChallengeState;
  /** What takeShopperChallenge would find, changing nothing: a read, to refuse a request before any cryptography is spent on it. */
  peekShopperChallenge(un: string, now: number): ChallengeState;
  /** Drops challenges that expired before `before` (used ones stay until then, so a reuse is still seen). */
  purgeShopperChallenges(before: number): void;
  insertCode(row: Omit<TemporaryCodeRow, 'id' | 'usedAt'>): number;
  /** Every code with this hash (newest first): a live one, or what became of earlier ones. */
  findCodes(codeHash: string): TemporaryCodeRow[];
  markCodeUsed(id: number, settlementId: number, now: number): void;
  recordWrongCode(merchantId: string, terminalId: string, at: number): void;
  /** Failed codes (wrong, used or expired) keyed in since `since`: at all this merchant's terminals, and at this one terminal of it. */
  countWrongCodes(
    merchantId: string,
    terminalId: string,
    since: number,
  ): { merchant: number; terminal: number };
  findMerchantCardByPanHash(panHash: string): MerchantCardRow | undefined;
  /** Sales, refunds and voids of every terminal of a merchant (tills and merchant cards) in [fromMs, toMs), oldest first. */
  listMerchantTransactions(
    merchantId: string,
    fromMs: number,
    toMs: number,
    limit: number,
  ): Array<TransactionListRow & { readonly terminalId: string }>;
}
