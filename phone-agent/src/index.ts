export {
  askOutcome,
  pay,
  retrieveReceipt,
  type AskOptions,
  type CardholderVerification,
  type PaymentOutcome,
  type PayOptions,
  type ResumeTicket,
  type RetrieveOptions,
} from './core/payment-flow';
export {
  confirmOfflineSale,
  type ConfirmedOffline,
  type ConfirmOfflineOptions,
  type OfflineSaleTicket,
} from './core/offline-receipt-flow';
export type { BiometricSensor } from './ports/biometric-sensor';
export { PhoneError, type PhoneErrorCode } from './core/phone-error';
export {
  BleCentralError,
  type BleCentral,
  type BleCentralErrorCode,
  type CentralLink,
  type Advertisement,
  type ScanOptions,
} from './ports/ble-central';
export type { PaymentCard } from './ports/payment-card';
export type { Prompt } from './ports/prompt';
export { CardReaderError, type CardReader } from './ports/card-reader';
export * from './core/card/index';
export { InProcessCardReader } from './adapters/card-reader.in-process';
export { ReplayCardReader } from './adapters/card-reader.replay';
export { NfcPcscCardReader } from './adapters/card-reader.nfc-pcsc';
export { NobleCentral, type NobleCentralOptions } from './adapters/ble-central.noble';
export { bySignal, rssiAvailable, RSSI_NOT_AVAILABLE, signalText } from './core/signal';
export { runPhoneCli } from './cli/main';
export type { CliExtensions } from './cli/pay-command';
export type { Trust } from './cli/trust-file';
export {
  pickTill,
  runPaymentSession,
  TillUnreachableError,
  type PaymentSessionOptions,
  type PaymentSessionResult,
  type PaymentTrust,
  type TillChoice,
  type TillUnreachableCode,
} from './core/payment-session';
export { CliError, type CliErrorCode } from './cli/cli-error';
export { EXIT } from './cli/exit-codes';
export { requestCode, checkedPinKey, type CodeOutcome, type CodeOptions } from './core/code-flow';
export {
  payMerchantCard,
  merchantIdOfRecords,
  type MerchantPaymentOutcome,
  type MerchantPaymentOptions,
} from './core/merchant-card-flow';
export {
  ShopperBackendError,
  type ShopperBackend,
  type ShopperBackendErrorCode,
} from './ports/shopper-backend';
export { GrpcShopperBackend, type GrpcShopperBackendOptions } from './adapters/shopper-backend.grpc';
