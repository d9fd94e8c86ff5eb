export { Till, type TillOptions } from './common/till';
export type { TillEvent, TillLimits } from './common/till-context';
export type { SessionSnapshot, SessionState } from './common/session';
export { BasketBook, checkAgainstBasket, type Basket } from './common/basket';
export type { BlePeripheral, PeripheralLink, PeripheralOptions } from './common/ports/ble-peripheral';
export { BackendError, type BackendClient } from './common/ports/backend-client';
export type { Journal, AttemptRecord } from './common/ports/journal';
export type { BasketStore, BasketChange, StoredBasket } from './common/ports/basket-store';
export type { AttemptState } from './common/payment-attempt';
export { GrpcBackendClient, type GrpcBackendOptions } from './adapters/backend/backend-client.grpc';
export { parseBackendAddresses, type NodeCounts } from './adapters/backend/backend-nodes';
export { SqliteJournal } from './adapters/journal/journal.sqlite';
export { SqliteOfflineJournal } from './adapters/journal/offline-journal.sqlite';
export type { OfflineJournal, OfflineSaleRecord, OfflineSaleState } from './common/ports/offline-journal';
export {
  OfflineDesk,
  type OfflineDeskOptions,
  type OfflineForwarder,
  type OfflineApprovalResult,
  type ForwardReport,
  type OfflineStatus,
} from './common/offline/offline-desk';
export {
  journalKey,
  generateTillKey,
  parseTillKey,
  tillKeyFromEnv,
  TillKeyError,
  TILL_KEY_ENV,
  TILL_KEY_FD_ENV,
} from './adapters/journal/journal-key';
export { BlenoPeripheral, type BlenoPeripheralOptions } from './adapters/ble/ble-peripheral.bleno';
export type { AclPolicy, AclStats } from './adapters/ble/acl-scheduler';
export type { HciTransport } from './adapters/ble/hci-transport';
export {
  composeTill,
  readTerminalFile,
  bleFromSpec,
  type TillConfig,
  type TillOverrides,
  type ComposedTill,
  type TerminalFile,
} from './compose-till';
export { DraftSale, MAX_QUANTITY, type SaleProduct } from './common/sale/draft-sale';
export { TillError } from './common/till-error';
export type { BasketState, BasketHolder } from './common/basket';
