export { ApduError, type ApduErrorCode } from './errors';
export { apduCase, decodeCommandApdu, encodeCommandApdu, type ApduCase, type CommandApdu } from './command';
export { decodeResponseApdu, encodeResponseApdu, statusOnly, type ResponseApdu } from './response';
export {
  CardStatusError,
  describeStatusWord,
  statusCode,
  SW,
  swTriesLeft,
  swWrongLe,
  type CardStatusCode,
} from './status-words';
export {
  acTypeBits,
  generateAcCommand,
  getDataCommand,
  getProcessingOptionsCommand,
  internalAuthenticateCommand,
  PPSE_NAME,
  putDataCommand,
  readRecordCommand,
  selectCommand,
  selectPpseCommand,
  storeDataCommand,
  verifyCommand,
  type AcType,
} from './builders';
