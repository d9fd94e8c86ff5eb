/**
 * HCI command opcodes the virtual controller understands (Bluetooth Core v5.4, Vol 4, Part E,
 * 7.1 link control, 7.3 controller & baseband, 7.4 informational, 7.5 status, 7.8 LE).
 * opcode = OCF | OGF << 10, sent little-endian on the wire.
 */
const op = (ogf: number, ocf: number): number => ocf | (ogf << 10);

export const OP = {
  disconnect: op(0x01, 0x0006),
  setEventMask: op(0x03, 0x0001),
  reset: op(0x03, 0x0003),
  setEventFilter: op(0x03, 0x0005),
  setEventMaskPage2: op(0x03, 0x0063),
  readLeHostSupported: op(0x03, 0x006c),
  writeLeHostSupported: op(0x03, 0x006d),
  readLocalVersion: op(0x04, 0x0001),
  readLocalSupportedCommands: op(0x04, 0x0002),
  readLocalSupportedFeatures: op(0x04, 0x0003),
  readBufferSize: op(0x04, 0x0005),
  readBdAddr: op(0x04, 0x0009),
  readRssi: op(0x05, 0x0005),
  leSetEventMask: op(0x08, 0x0001),
  leReadBufferSize: op(0x08, 0x0002),
  leReadLocalSupportedFeatures: op(0x08, 0x0003),
  leSetRandomAddress: op(0x08, 0x0005),
  leSetAdvertisingParameters: op(0x08, 0x0006),
  leReadAdvertisingChannelTxPower: op(0x08, 0x0007),
  leSetAdvertisingData: op(0x08, 0x0008),
  leSetScanResponseData: op(0x08, 0x0009),
  leSetAdvertisingEnable: op(0x08, 0x000a),
  leSetScanParameters: op(0x08, 0x000b),
  leSetScanEnable: op(0x08, 0x000c),
  leCreateConnection: op(0x08, 0x000d),
  leCreateConnectionCancel: op(0x08, 0x000e),
  leReadFilterAcceptListSize: op(0x08, 0x000f),
  leClearFilterAcceptList: op(0x08, 0x0010),
  leConnectionUpdate: op(0x08, 0x0013),
  leReadRemoteFeatures: op(0x08, 0x0016),
  leLtkNegativeReply: op(0x08, 0x001b),
  leReadSupportedStates: op(0x08, 0x001c),
  leSetDataLength: op(0x08, 0x0022),
} as const;

export type OpName = keyof typeof OP;

const NAMES = new Map<number, string>(Object.entries(OP).map(([name, code]) => [code, name]));

/** Name for the trace: `reset`, `leSetScanEnable`, or `0x2031` when unknown. */
export const opcodeName = (opcode: number): string =>
  NAMES.get(opcode) ?? `0x${opcode.toString(16).padStart(4, '0')}`;

/** HCI error codes used here (Vol 1, Part F). */
export const STATUS = {
  success: 0x00,
  unknownCommand: 0x01,
  unknownConnectionId: 0x02,
  commandDisallowed: 0x0c,
  invalidParameters: 0x12,
  remoteUserTerminated: 0x13,
  localHostTerminated: 0x16,
  connectionTimeout: 0x08,
  /** Vol 1, Part F, 2.62: the link did not get going within 6 connection intervals. */
  connectionFailedToBeEstablished: 0x3e,
} as const;
