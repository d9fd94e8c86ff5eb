/**
 * Encoders for the HCI events the virtual controller sends (Bluetooth Core v5.4, Vol 4, Part E,
 * 7.7), each returned as a complete H4 packet (indicator 0x04, event code, length, params).
 */
import { H4_EVENT } from './h4';

const event = (code: number, params: Buffer): Buffer => {
  const pkt = Buffer.alloc(3 + params.length);
  pkt.writeUInt8(H4_EVENT, 0);
  pkt.writeUInt8(code, 1);
  pkt.writeUInt8(params.length, 2);
  params.copy(pkt, 3);
  return pkt;
};

/** 7.7.14 Command Complete: Num_HCI_Command_Packets=1, opcode, return parameters (status first). */
export const commandComplete = (opcode: number, status: number, rest: Buffer = Buffer.alloc(0)): Buffer => {
  const p = Buffer.alloc(4 + rest.length);
  p.writeUInt8(1, 0);
  p.writeUInt16LE(opcode, 1);
  p.writeUInt8(status, 3);
  rest.copy(p, 4);
  return event(0x0e, p);
};

/** 7.7.15 Command Status. */
export const commandStatus = (opcode: number, status: number): Buffer => {
  const p = Buffer.alloc(4);
  p.writeUInt8(status, 0);
  p.writeUInt8(1, 1);
  p.writeUInt16LE(opcode, 2);
  return event(0x0f, p);
};

/** 7.7.26 Data Buffer Overflow: link type 0x01 (ACL); the host sent more than the buffers hold. */
export const dataBufferOverflow = (): Buffer => event(0x1a, Buffer.from([0x01]));

/** 7.7.5 Disconnection Complete. */
export const disconnectionComplete = (handle: number, reason: number): Buffer => {
  const p = Buffer.alloc(4);
  p.writeUInt8(0, 0);
  p.writeUInt16LE(handle, 1);
  p.writeUInt8(reason, 3);
  return event(0x05, p);
};

/** 7.7.19 Number Of Completed Packets. */
export const numberOfCompletedPackets = (
  entries: ReadonlyArray<{ handle: number; count: number }>,
): Buffer => {
  const p = Buffer.alloc(1 + entries.length * 4);
  p.writeUInt8(entries.length, 0);
  entries.forEach((e, i) => {
    p.writeUInt16LE(e.handle, 1 + i * 4);
    p.writeUInt16LE(e.count, 3 + i * 4);
  });
  return event(0x13, p);
};

const leMeta = (subevent: number, body: Buffer): Buffer =>
  event(0x3e, Buffer.concat([Buffer.from([subevent]), body]));

export interface ConnectionCompleteFields {
  readonly status: number;
  readonly handle: number;
  /** 0 central, 1 peripheral. */
  readonly role: 0 | 1;
  readonly peerAddressType: number;
  /** 6 bytes, little-endian as on the wire. */
  readonly peerAddress: Buffer;
  /** Units of 1.25 ms. */
  readonly interval: number;
  readonly latency: number;
  /** Units of 10 ms. */
  readonly supervisionTimeout: number;
}

/** 7.7.65.1 LE Connection Complete. */
export const leConnectionComplete = (f: ConnectionCompleteFields): Buffer => {
  const p = Buffer.alloc(18);
  p.writeUInt8(f.status, 0);
  p.writeUInt16LE(f.handle, 1);
  p.writeUInt8(f.role, 3);
  p.writeUInt8(f.peerAddressType, 4);
  f.peerAddress.copy(p, 5);
  p.writeUInt16LE(f.interval, 11);
  p.writeUInt16LE(f.latency, 13);
  p.writeUInt16LE(f.supervisionTimeout, 15);
  p.writeUInt8(0, 17);
  return leMeta(0x01, p);
};

/** Advertising report event types (7.7.65.2): ADV_IND 0, ADV_SCAN_IND 2, ADV_NONCONN_IND 3, SCAN_RSP 4. */
export interface AdvertisingReportFields {
  readonly eventType: 0 | 1 | 2 | 3 | 4;
  readonly addressType: number;
  readonly address: Buffer;
  readonly data: Buffer;
  readonly rssi: number;
}

/** 7.7.65.2 LE Advertising Report, one report. */
export const leAdvertisingReport = (r: AdvertisingReportFields): Buffer => {
  const p = Buffer.alloc(1 + 1 + 1 + 6 + 1 + r.data.length + 1);
  p.writeUInt8(1, 0);
  p.writeUInt8(r.eventType, 1);
  p.writeUInt8(r.addressType, 2);
  r.address.copy(p, 3);
  p.writeUInt8(r.data.length, 9);
  r.data.copy(p, 10);
  p.writeInt8(r.rssi, 10 + r.data.length);
  return leMeta(0x02, p);
};

/** 7.7.65.3 LE Connection Update Complete. */
export const leConnectionUpdateComplete = (
  handle: number,
  interval: number,
  latency: number,
  supervisionTimeout: number,
): Buffer => {
  const p = Buffer.alloc(9);
  p.writeUInt8(0, 0);
  p.writeUInt16LE(handle, 1);
  p.writeUInt16LE(interval, 3);
  p.writeUInt16LE(latency, 5);
  p.writeUInt16LE(supervisionTimeout, 7);
  return leMeta(0x03, p);
};

/** 7.7.65.4 LE Read Remote Features Complete (all feature bits zero). */
export const leReadRemoteFeaturesComplete = (handle: number): Buffer => {
  const p = Buffer.alloc(11);
  p.writeUInt8(0, 0);
  p.writeUInt16LE(handle, 1);
  return leMeta(0x04, p);
};
