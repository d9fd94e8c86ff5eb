export { EmvCryptoError, OdaError, PersonalizationError, TlvError } from './errors';
export type { EmvCryptoErrorCode, OdaErrorCode, PersonalizationErrorCode, TlvErrorCode } from './errors';
export {
  decodeTlv,
  encodeTlv,
  encodeLength,
  encodeTag,
  findTag,
  findTlv,
  flattenTlv,
  isConstructedTag,
  tlv,
  type Tlv,
} from './tlv';
export { buildDolData, dolDataLength, parseDol, splitDolData, type DolEntry } from './dol';
export { TAG, type TagName } from './tags';
export { adjustOddParity, desDecrypt, desEncrypt, aesEncrypt, keyCheckValue, xorBytes } from './symmetric';
export { aesCmac, padIso9797, retailMac } from './mac';
export {
  deriveAesIccMasterKey,
  deriveAesSessionKey,
  deriveIccMasterKeyA,
  deriveIccMasterKeyB,
  deriveSessionKey,
  type Psn,
} from './keys';
export { generateAc, generateArpc1, generateArpc2, type AcAlgorithm } from './cryptogram';
export { modulusLength, rsaPublicKeyOf, rsaRecover, rsaSign, type RsaPublicKey } from './rsa';
export { caKeysFromList } from './ca-key-list';
export {
  cdaTransactionDataHash,
  cnDigits,
  cnEncode,
  createIccCertificate,
  createIssuerCertificate,
  recoverIccPublicKey,
  recoverIssuerPublicKey,
  recoverIssuerCertificate,
  checkIssuerKeyUse,
  checkIccKeyUse,
  signCda,
  signDynamicData,
  signStaticData,
  staticDataToAuthenticate,
  verifyCda,
  verifyDda,
  verifySda,
  encodeCardCounters,
  decodeCardCounters,
  type CardCounters,
  type IccPublicKeyInfo,
  type IssuerPublicKeyInfo,
  type PublicKeyCertificate,
  type ReadRecord,
} from './oda';
export {
  BLUETILL_AID,
  BLUETILL_LABEL,
  CARD_AFL,
  CARD_AIP,
  CARD_CDOL1,
  CARD_CDOL1_ENTRIES,
  CARD_CDOL2,
  CARD_CVM_LIST,
  CARD_DDOL,
  CARD_PDOL,
  cardCdol1,
  cardCdol2,
  cardPdol,
  cardRecords,
  cardStaticData,
  certificateExpiry,
  expiryDate,
  isMerchantCardId,
  odaRecord,
  parseAfl,
  track2Equivalent,
  type AflEntry,
  type CardPublicData,
} from './card-layout';
export {
  cardAcInput,
  computeCardAc,
  CVN,
  decodeCvr,
  decodeIad,
  deriveCardAcMasterKey,
  EMPTY_CVR,
  encodeCvr,
  encodeIad,
  type Cvr,
} from './card-cryptogram';
export {
  buildPersonalizationCommands,
  decodePersonalizationData,
  encodePersonalizationData,
  macEquals,
  personalizationMac,
  PERSO_MAC_LENGTH,
  type CardPersonalization,
  checkOfflineLimits,
  MAX_N12,
  type OfflineLimits,
} from './personalization';
export { createDemoIssuer, derivePersonalizationKey, prepareDemoCard, type DemoIssuer } from './demo-issuer';
export { demoOfflineTc } from './demo-offline-tc';
export { encodePlaintextPinBlock, parsePlaintextPinBlock, PlaintextPinError } from './plaintext-pin';
export {
  BIOMETRIC_MATCH_THRESHOLD,
  BIOMETRIC_TEMPLATE_LENGTH,
  biometricMatches,
  biometricSimilarity,
  checkBiometricTemplate,
  CVM_CODE,
  CVM_NAMES,
  cvmMethodOf,
  cvmNameOf,
  cvrResultOf,
  cvrShowsFailure,
  CvmDataError,
  DEFAULT_BIOMETRIC_TRY_LIMIT,
  DEFAULT_KNOWLEDGE_TRY_LIMIT,
  encodeBiometricVerifyData,
  encodeKnowledgeSecret,
  KNOWLEDGE_SECRET_MAX_BYTES,
  KNOWLEDGE_SECRET_MIN_BYTES,
  parseBiometricVerifyData,
  demoFingerprint,
  templateBytes,
  templateFromBytes,
  VERIFY_P2,
  type CvmDataErrorCode,
  type CvmName,
} from './cvm';
export {
  authenticateCardData,
  CardRecordsCache,
  recoverCardRecords,
  type CardDataAuthentication,
  type RecoveredCard,
} from './card-data-authentication';
export {
  verifyOfflineTc,
  type OfflineTcEvidence,
  type OfflineTcRefusal,
  type OfflineTcVerification,
  type VerifiedOfflineTc,
} from './offline-tc';
export { IssuerKeyCache } from './issuer-key-cache';
export { CardKeyCache } from './card-key-cache';
export {
  ARPC2_LENGTH,
  checkIssuerAuthentication,
  computeArpc,
  CSU_LENGTH,
  decodeCsu,
  encodeCsu,
  externalAuthenticateCommand,
  ISSUER_AUTHENTICATION_DATA_LENGTH,
  issuerAuthenticationData,
  splitIssuerAuthenticationData,
  SW_ISSUER_AUTHENTICATION_FAILED,
  type CardStatusUpdate,
} from './issuer-authentication';
