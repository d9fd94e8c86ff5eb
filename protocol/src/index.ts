// The only import path for the other packages.
export * from './errors';
export * from './bytes';
export * from './money';
export * from './redact';
export * from './decline-codes';
export * from './ble/gatt';
export * from './ble/gatt-database';
export * from './ble/frame';
export * from './ble/messages';
export * from './ble/secure-channel';
export * from './ble/message-stream';
export * from './ble/disconnect-reason';
export * from './pki/keys';
export * from './pki/certificate';
export * from './pki/terminal-statement';
export * from './pki/offline-receipt';
export * from './pki/offline-parameters';
export * from './pin/pin-block';
export * from './pin/pin-seal';
export {
  CardData,
  Cryptogram,
  CvmMethod,
  Item,
  Money,
  OfflineTc,
  Receipt,
  SignedReceipt,
} from './gen/bluetill/v1/common';
export {
  AuthResult,
  BleMessage,
  CardAuth,
  Certificate,
  CertificateBody,
  Error as ErrorMessage,
  Hello,
  HelloAck,
  OfflineReceipt,
  Payment,
  ReceiptMessage,
  ReceiptRequest,
  Sealed,
  SealedPinBlock,
  SignedOfflineReceipt,
  TillInfo,
  TillStatus,
} from './gen/bluetill/v1/ble';
export {
  AuthorizationClient,
  type AuthorizationServer,
  AuthorizationService,
  AuthorizeRequest,
  AuthorizeResponse,
  BatchTotals,
  ChallengeRequest,
  ChallengeResponse,
  CloseBatchRequest,
  CloseBatchResponse,
  ForwardOfflineRequest,
  GetOfflineParametersRequest,
  GetSettlementRequest,
  OfflineParameters,
  SignedOfflineParameters,
  ListTransactionsRequest,
  ListTransactionsResponse,
  RefundRequest,
  RefundResponse,
  CancelRequest,
  SettleRequest,
  SettleResponse,
  SettlementClient,
  type SettlementServer,
  SettlementService,
  TransactionRecord,
  VoidRequest,
  VoidResponse,
  SettleWithCodeRequest,
} from './gen/bluetill/v1/settlement_network';
export {
  IssueCodeRequest,
  IssueCodeResponse,
  OfflineReceiptRequest,
  OfflineReceiptResponse,
  OutcomeRequest,
  OutcomeResponse,
  PayMerchantRequest,
  PayMerchantResponse,
  ShopperChallengeRequest,
  ShopperChallengeResponse,
  ShopperClient,
  type ShopperServer,
  ShopperService,
} from './gen/bluetill/v1/shopper';
export * from './shopper';
export * as health from './gen/grpc/health/v1/health';
export * from './receipt';
export * from './emv/index';
export * from './apdu/index';
export * from './grpc-decline';
export * from './grpc-refusal';
export * from './encode-proto';
export { seededRandom } from './seeded-random';
