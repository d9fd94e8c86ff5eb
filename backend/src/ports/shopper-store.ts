/**
 * Rows of the phone-direct flows (claims 1, 2, 5-8): temporary codes and merchant cards. Their
 * queries are the ShopperStore part of the store's transaction handle (ports/backend-store.ts),
 * so a code is consumed in the same commit as the settlement and ledger rows that consumed it.
 */

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
