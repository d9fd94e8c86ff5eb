export { startBackend, type BackendOptions, type RunningBackend } from './main';
export {
  seedDemo,
  fleetCards,
  luhnCheckDigit,
  DEMO_CARDS,
  DEMO_MERCHANT,
  DEMO_MERCHANT_CARDS,
  DEMO_TERMINAL_ID,
  type SeededBackend,
  type SeedOptions,
} from './admin/demo-seed';
export type { TerminalIdentity, TrustAnchors, KeyMaterial, EmvKeyBits } from './admin/key-material';
export {
  createKeyMaterial,
  issueTerminalIdentity,
  trustAnchors,
  checkEmvKeyBits,
  emvKeyBitsOf,
  KeySizeError,
  SCHEME_KEY_BITS,
  DEMO_KEY_BITS,
} from './admin/key-material';
export { SqliteBackendStore } from './adapters/sqlite/backend-store.sqlite';
export { SoftwareKeyStore } from './adapters/key-store.file';
export { MasterKey, masterKeyFromEnv, MASTER_KEY_ENV, NEW_MASTER_KEY_ENV } from './adapters/master-key';
export { KeyStoreError, type KeyStoreErrorCode } from './adapters/key-store-error';
export { readKeysFile, writeKeysFile, rotateKeysFile, type KeysEnvelope } from './adapters/keys-file';
export {
  registerCard,
  registerMerchantCard,
  cardRecord,
  merchantCardRecord,
  merchantCardTerminalId,
  type NewMerchantCard,
} from './admin/registry';
export {
  RegistryError,
  type RegistryAdmin,
  type RegistryErrorCode,
  type CardRecord,
  type MerchantCardRecord,
  type NewMerchant,
  type NewTerminal,
  type CardSummary,
  type MerchantSummary,
  type TerminalSummary,
  type RegisteredCard,
} from './ports/registry-admin';
export { SqliteRegistryAdmin } from './adapters/sqlite/registry-admin.sqlite';
export { PostgresRegistryAdmin } from './adapters/postgres/registry-admin.postgres';
export {
  parseStoreSpec,
  resolveStoreSpec,
  openRegistryAdmin,
  describeStore,
  StoreError,
  migrateStore,
  STORE_ENV,
  type StoreSpec,
} from './adapters/store-spec';
export type { Clock } from './ports/clock';
export {
  issueCard,
  issueMerchantCard,
  writePersonalizationFile,
  type CardIssue,
  type PersonalizationFile,
} from './admin/card-issuing';
export { loadIssuer, serializeIssuer } from './admin/key-material';
export {
  readServerTls,
  readTerminalTls,
  tlsPaths,
  TlsMaterialError,
  type TlsMaterial,
  type TlsPaths,
} from './adapters/tls-files';
export {
  createBackendCa,
  issueServerCertificate,
  issueTerminalCertificate,
  type PemPair,
  type IssuedTerminalCertificate,
} from './admin/tls-material';
export { createTlsAuthority, readTlsAuthority, issueTerminalTls } from './admin/tls-issuing';
