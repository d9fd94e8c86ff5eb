/** A whole sale against a backend fixture, as a till would relay it: challenge, authorize, settle. */
import type { Item, SettleResponse } from '@bluetill/protocol';
import type { BackendFixture } from './backend-fixture';
import type { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';
import type { PostgresBackendStore } from '../adapters/postgres/backend-store.postgres';

export async function sell(
  f: Pick<BackendFixture<SqliteBackendStore | PostgresBackendStore>, 'card' | 'authorizeCard' | 'settle'>,
  o: { cardId: string; pin: string; txn: string; minor: number; terminalId?: string },
): Promise<SettleResponse> {
  const terminalId = o.terminalId ?? 'T-0001';
  const card = f.card(o.cardId);
  const { un, res } = await f.authorizeCard(card, o.pin, terminalId);
  if (!res.approved) throw new Error(`authorization declined: ${res.declineReason}`);
  const amount = { minor: o.minor, currency: 'EUR' };
  const items: Item[] = [{ sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: o.minor }];
  return f.settle({
    terminalId,
    terminalTxnId: o.txn,
    merchantId: 'M-0001',
    authorizationRef: res.authorizationRef,
    card: card.cardData(un),
    amount,
    items,
    cryptogram: card.arqc(amount, un),
  });
}
