export { CardReadError, type CardReadErrorCode } from './card-read-error';
export type { CardCertificate, CardPrefix, CardRead, Cryptogram, TransactionData } from './card-read-types';
export { CardReadingFlow, type Step as CardReadingStep } from './card-reading-flow';
export {
  externalAuthenticate,
  generateCryptogram,
  readCard,
  readCardPrefix,
  restartTransaction,
  verifyCardholder,
  verifyOfflinePin,
  type CardVerification,
  type CardVerificationResult,
  type IssuerAuthenticationResult,
  type OfflinePinResult,
} from './card-exchange';
export { transactionValues } from './transaction-values';
export { currencyNumeric, EmvPaymentCard } from './emv-payment-card';
export { writeCard, type WrittenCard } from './write-card';
