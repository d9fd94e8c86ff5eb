export { startBackend, type BackendOptions, type RunningBackend } from './adapters/grpc/server';
export { seedDemo, DEMO_CARDS, DEMO_MERCHANT, DEMO_TERMINAL_ID, type SeededBackend } from './admin/demo-seed';
export type { TerminalIdentity, TrustAnchors, KeyMaterial } from './admin/key-material';
export { createKeyMaterial, issueTerminalIdentity, trustAnchors } from './admin/key-material';
export { SqliteBackendStore } from './adapters/sqlite/backend-store.sqlite';
export { SoftwareKeyStore } from './adapters/key-store.file';
export { registerCard, registerMerchant, registerTerminal, setCardStatus, unlockPin } from './admin/registry';
export type { Clock } from './ports/clock';
