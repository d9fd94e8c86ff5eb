export { pay, type PaymentOutcome, type PayOptions } from './core/payment-flow';
export { PhoneError, type PhoneErrorCode } from './core/phone-error';
export type { BleCentral, CentralLink, Advertisement, ScanOptions } from './ports/ble-central';
export type { PaymentCard } from './ports/payment-card';
export type { Prompt } from './ports/prompt';
export { CardReaderError, type CardReader } from './ports/card-reader';
