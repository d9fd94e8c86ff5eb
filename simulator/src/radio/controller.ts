/**
 * The controller of one simulated device: parses the H4 byte stream its host writes, answers
 * every HCI command strictly in order, and hands advertising, scanning, connection and ACL
 * traffic to the shared air (`ControllerAir`, which `Air` implements). Transport-free: bytes in via `receive`, bytes out via `send`.
 */
import { H4Parser, encodeAcl, type H4Packet } from './h4';
import { commandComplete, commandStatus, dataBufferOverflow } from './hci-events';
import { OP, STATUS, opcodeName } from './hci-opcodes';
import type { LinkShaping } from './shaping';
import type { Trace } from './trace';

/** What a controller asks of the shared air (implemented by `Air`): the link layer between devices. */
export interface ControllerAir {
  advertisingChanged(c: HciController): void;
  initiatingChanged(c: HciController): void;
  cancelInitiating(c: HciController): void;
  controllerLost(c: HciController): void;
  hostAcl(from: HciController, handle: number, pb: number, data: Buffer): boolean;
  disconnect(c: HciController, handle: number, reason: number): boolean;
  rssiOf(c: HciController, handle: number): number | undefined;
  updateConnection(c: HciController, handle: number, intervalMaxMs: number, supervisionMs: number): boolean;
  readRemoteFeatures(c: HciController, handle: number): boolean;
}

/** HCI version 9 = Core 5.0; the stacks refuse anything below 6 (4.0). */
export const HCI_VERSION = 0x09;
/** Manufacturer id 0x05f1 (The Linux Foundation), as emulators commonly report. */
export const MANUFACTURER = 0x05f1;
/** LE ACL buffers offered to the host (LE Read Buffer Size, Vol 4, Part E, 7.8.2). */
export const ACL_BUFFER_LENGTH = 251;
export const ACL_BUFFER_COUNT = 8;

export interface AdvertisingState {
  enabled: boolean;
  intervalMs: number;
  /** Advertising type from LE Set Advertising Parameters: 0 ADV_IND, 1 direct, 2 scannable, 3 non-connectable. */
  type: number;
  data: Buffer;
  scanResponse: Buffer;
}

export interface ScanState {
  enabled: boolean;
  active: boolean;
  filterDuplicates: boolean;
  readonly seen: Set<string>;
}

export interface InitiatingState {
  /** Big-endian hex, no separators. */
  readonly peer: string;
  readonly supervisionTimeoutMs: number;
  readonly intervalMaxMs: number;
}

export interface ControllerOptions {
  readonly name: string;
  /** 6 bytes, big-endian (as printed: C0:FF:EE:00:00:01). */
  readonly address: Buffer;
  readonly air: ControllerAir;
  readonly trace: Trace;
  /** Writes bytes toward the host; must not block. */
  readonly send: (bytes: Buffer) => void;
  readonly distanceM?: number;
  readonly shaping?: LinkShaping;
  /**
   * LE ACL buffers offered to the host, shared by all its connections (default 8, a phone-class
   * controller). A controller built to hold many links offers more; the host may have only this
   * many packets outstanding across all links, each freed at its link's next connection event.
   */
  readonly aclBuffers?: number;
  /** LE ACL data packet length offered (default 251); a longer host packet is an overflow. */
  readonly aclBufferLength?: number;
  /** First connection handle this controller hands out (default 1). */
  readonly firstHandle?: number;
}

export class HciController {
  readonly name: string;
  private readonly aclBuffers: number;
  readonly aclBufferLength: number;
  readonly firstHandle: number;
  /** Host ACL packets in the controller's buffers, per handle (freed by Number Of Completed Packets). */
  private readonly aclInFlight = new Map<number, number>();
  /** Big-endian hex, no separators (`c0ffee000001`). */
  readonly addressHex: string;
  /** Little-endian, as on the wire. */
  readonly addressWire: Buffer;
  distanceM: number;
  shaping: LinkShaping;
  readonly trace: Trace;
  readonly adv: AdvertisingState = {
    enabled: false,
    intervalMs: 100,
    type: 0,
    data: Buffer.alloc(0),
    scanResponse: Buffer.alloc(0),
  };
  readonly scan: ScanState = { enabled: false, active: false, filterDuplicates: false, seen: new Set() };
  initiating: InitiatingState | null = null;
  /** False once the host has gone (until it sends a command again): nothing is sent to it. */
  hostPresent = true;
  /** Commands handled and unknown opcodes seen, for tests and the report. */
  readonly stats = {
    commands: 0,
    unknown: new Map<number, number>(),
    aclIn: 0,
    aclOut: 0,
    aclOverflows: 0,
    aclMaxInFlight: 0,
  };

  private readonly parser = new H4Parser();
  private readonly air: ControllerAir;
  private readonly sendBytes: (bytes: Buffer) => void;

  constructor(options: ControllerOptions) {
    this.aclBuffers = Math.max(1, Math.min(255, options.aclBuffers ?? ACL_BUFFER_COUNT));
    this.aclBufferLength = Math.max(27, Math.min(251, options.aclBufferLength ?? ACL_BUFFER_LENGTH));
    this.firstHandle = Math.max(1, Math.min(0x0eff, options.firstHandle ?? 1));
    this.name = options.name;
    this.addressHex = options.address.toString('hex');
    this.addressWire = Buffer.from(options.address).reverse();
    this.air = options.air;
    this.trace = options.trace;
    this.sendBytes = options.send;
    this.distanceM = options.distanceM ?? 1;
    this.shaping = options.shaping ?? {};
  }

  /** Bytes from the host (any chunking). */
  receive(chunk: Buffer): void {
    for (const packet of this.parser.push(chunk)) this.handle(packet);
  }

  sendEvent(bytes: Buffer, what: string): void {
    if (!this.hostPresent) return;
    this.trace.log('C>H', `EVT ${what}`, bytes);
    this.sendBytes(bytes);
  }

  sendAcl(handle: number, pb: number, data: Buffer): void {
    if (!this.hostPresent) return;
    const pkt = encodeAcl(handle, pb, data);
    this.stats.aclOut++;
    this.trace.log('C>H', `ACL h=${handle} pb=${pb}`, pkt);
    this.sendBytes(pkt);
  }

  /** `count` host packets on `handle` left the controller (sent with Number Of Completed Packets). */
  aclCompleted(handle: number, count: number): void {
    const left = (this.aclInFlight.get(handle) ?? 0) - count;
    if (left > 0) this.aclInFlight.set(handle, left);
    else this.aclInFlight.delete(handle);
  }

  /** The link on `handle` is gone: its buffers are free again (the host counts them freed too). */
  aclReleased(handle: number): void {
    this.aclInFlight.delete(handle);
  }

  private aclTotalInFlight(): number {
    let n = 0;
    for (const v of this.aclInFlight.values()) n += v;
    return n;
  }

  /** The host process ended or closed its port: forget everything; links time out at the peer. */
  hostGone(): void {
    this.trace.log('---', 'host gone');
    this.hostPresent = false;
    this.parser.reset();
    this.clearState();
    this.air.controllerLost(this);
  }

  private clearState(): void {
    this.adv.enabled = false;
    this.adv.data = Buffer.alloc(0);
    this.adv.scanResponse = Buffer.alloc(0);
    this.scan.enabled = false;
    this.scan.seen.clear();
    this.initiating = null;
    this.aclInFlight.clear();
    this.air.advertisingChanged(this);
  }

  private handle(packet: H4Packet): void {
    switch (packet.kind) {
      case 'command':
        this.hostPresent = true;
        this.stats.commands++;
        this.trace.log('H>C', `CMD ${opcodeName(packet.opcode)}`, packet.raw);
        try {
          this.command(packet.opcode, packet.params);
        } catch (error) {
          // A parameter block shorter than the spec says: answer instead of hanging the host.
          if (!(error instanceof RangeError)) throw error;
          this.complete(packet.opcode, STATUS.invalidParameters);
        }
        return;
      case 'acl': {
        this.stats.aclIn++;
        this.trace.log('H>C', `ACL h=${packet.handle} pb=${packet.pb}`, packet.raw);
        // A host that ignores LE Read Buffer Size (too long a packet, or more packets than buffers
        // before Number Of Completed Packets) overflows them: the packet is lost, as on a real controller.
        const inFlight = this.aclTotalInFlight();
        if (packet.data.length > this.aclBufferLength || inFlight >= this.aclBuffers) {
          this.stats.aclOverflows++;
          this.trace.log(
            '---',
            `ACL buffer overflow: ${packet.data.length} bytes (buffers ${this.aclBuffers} x ${this.aclBufferLength}, ${inFlight} in use): dropped`,
          );
          this.sendEvent(dataBufferOverflow(), 'data-buffer-overflow acl');
          return;
        }
        if (this.air.hostAcl(this, packet.handle, packet.pb, packet.data)) {
          this.aclInFlight.set(packet.handle, (this.aclInFlight.get(packet.handle) ?? 0) + 1);
          this.stats.aclMaxInFlight = Math.max(this.stats.aclMaxInFlight, inFlight + 1);
        }
        return;
      }
      case 'event':
        this.trace.log('H>C', 'unexpected event from host (ignored)', packet.raw);
        return;
      case 'garbage':
        this.trace.log('H>C', 'bad H4 indicator (skipped)', packet.raw);
        return;
    }
  }

  private complete(opcode: number, status: number = STATUS.success, rest?: Buffer): void {
    this.sendEvent(commandComplete(opcode, status, rest), `cmd-complete ${opcodeName(opcode)} st=${status}`);
  }

  private status(opcode: number, status: number = STATUS.success): void {
    this.sendEvent(commandStatus(opcode, status), `cmd-status ${opcodeName(opcode)} st=${status}`);
  }

  private command(opcode: number, p: Buffer): void {
    switch (opcode) {
      case OP.reset:
        // Vol 4, Part E, 7.3.2: this controller only; its links are gone (peers time out).
        this.air.controllerLost(this);
        this.clearState();
        this.complete(opcode);
        return;
      case OP.setEventMask:
      case OP.setEventMaskPage2:
      case OP.setEventFilter:
      case OP.writeLeHostSupported:
      case OP.leSetEventMask:
      case OP.leSetRandomAddress:
      case OP.leClearFilterAcceptList:
        this.complete(opcode);
        return;
      case OP.readLeHostSupported:
        this.complete(opcode, STATUS.success, Buffer.from([0x01, 0x00]));
        return;
      case OP.readLocalVersion: {
        // 7.4.1: HCI version, HCI revision, LMP version, manufacturer, LMP subversion.
        const r = Buffer.alloc(8);
        r.writeUInt8(HCI_VERSION, 0);
        r.writeUInt16LE(0, 1);
        r.writeUInt8(HCI_VERSION, 3);
        r.writeUInt16LE(MANUFACTURER, 4);
        r.writeUInt16LE(0, 6);
        this.complete(opcode, STATUS.success, r);
        return;
      }
      case OP.readLocalSupportedCommands:
        this.complete(opcode, STATUS.success, Buffer.alloc(64));
        return;
      case OP.readLocalSupportedFeatures: {
        // 7.4.3 / Vol 2, Part C, 3.3: byte 4 bit 5 "BR/EDR not supported", bit 6 "LE supported".
        const f = Buffer.alloc(8);
        f[4] = 0x60;
        this.complete(opcode, STATUS.success, f);
        return;
      }
      case OP.readBufferSize: {
        // 7.4.5: ACL length (2), SCO length (1), ACL count (2), SCO count (2).
        const r = Buffer.alloc(7);
        r.writeUInt16LE(this.aclBufferLength, 0);
        r.writeUInt16LE(this.aclBuffers, 3);
        this.complete(opcode, STATUS.success, r);
        return;
      }
      case OP.readBdAddr:
        this.complete(opcode, STATUS.success, this.addressWire);
        return;
      case OP.readRssi: {
        const handle = p.length >= 2 ? p.readUInt16LE(0) : 0;
        const rssi = this.air.rssiOf(this, handle);
        const r = Buffer.alloc(3);
        r.writeUInt16LE(handle, 0);
        r.writeInt8(rssi ?? 0, 2);
        this.complete(opcode, rssi === undefined ? STATUS.unknownConnectionId : STATUS.success, r);
        return;
      }
      case OP.leReadBufferSize: {
        // 7.8.2: LE ACL data packet length (2), total number (1); shared by all handles.
        const r = Buffer.alloc(3);
        r.writeUInt16LE(this.aclBufferLength, 0);
        r.writeUInt8(this.aclBuffers, 2);
        this.complete(opcode, STATUS.success, r);
        return;
      }
      case OP.leReadLocalSupportedFeatures:
        // All zero: keeps both stacks on legacy advertising/scanning (bit 12 would switch noble to extended).
        this.complete(opcode, STATUS.success, Buffer.alloc(8));
        return;
      case OP.leReadSupportedStates:
        this.complete(opcode, STATUS.success, Buffer.from('ffffffffff030000', 'hex'));
        return;
      case OP.leReadFilterAcceptListSize:
        this.complete(opcode, STATUS.success, Buffer.from([0x08]));
        return;
      case OP.leReadAdvertisingChannelTxPower:
        this.complete(opcode, STATUS.success, Buffer.from([0x00]));
        return;
      case OP.leSetAdvertisingParameters: {
        // 7.8.5: interval min (2, 0.625 ms units), max (2), type (1), ...
        if (p.length < 15) return this.complete(opcode, STATUS.invalidParameters);
        if (this.adv.enabled) return this.complete(opcode, STATUS.commandDisallowed);
        this.adv.intervalMs = Math.max(20, p.readUInt16LE(0) * 0.625);
        this.adv.type = p.readUInt8(4);
        this.complete(opcode);
        return;
      }
      case OP.leSetAdvertisingData:
      case OP.leSetScanResponseData: {
        // 7.8.7 / 7.8.8: significant length (1), 31 bytes.
        const len = Math.min(p[0] ?? 0, 31, Math.max(0, p.length - 1));
        const data = Buffer.from(p.subarray(1, 1 + len));
        if (opcode === OP.leSetAdvertisingData) this.adv.data = data;
        else this.adv.scanResponse = data;
        this.complete(opcode);
        return;
      }
      case OP.leSetAdvertisingEnable:
        this.adv.enabled = p.readUInt8(0) === 1;
        this.complete(opcode);
        this.air.advertisingChanged(this);
        return;
      case OP.leSetScanParameters:
        // 7.8.10: type (1) 0 passive, 1 active; interval; window; own address type; policy.
        if (this.scan.enabled) return this.complete(opcode, STATUS.commandDisallowed);
        this.scan.active = p.readUInt8(0) === 1;
        this.complete(opcode);
        return;
      case OP.leSetScanEnable: {
        const enable = p.readUInt8(0) === 1;
        if (enable && !this.scan.enabled) this.scan.seen.clear();
        this.scan.enabled = enable;
        this.scan.filterDuplicates = p.readUInt8(1) === 1;
        this.complete(opcode);
        return;
      }
      case OP.leCreateConnection: {
        // 7.8.12: scan interval (2), window (2), filter policy (1), peer address type (1),
        // peer address (6), own address type (1), interval min (2), max (2), latency (2),
        // supervision timeout (2, 10 ms units), CE length min/max (2+2).
        if (p.length < 25) return this.status(opcode, STATUS.invalidParameters);
        if (this.initiating) return this.status(opcode, STATUS.commandDisallowed);
        const peer = Buffer.from(p.subarray(6, 12)).reverse().toString('hex');
        this.initiating = {
          peer,
          intervalMaxMs: p.readUInt16LE(15) * 1.25,
          supervisionTimeoutMs: p.readUInt16LE(19) * 10,
        };
        this.status(opcode);
        this.air.initiatingChanged(this);
        return;
      }
      case OP.leCreateConnectionCancel:
        if (!this.initiating) return this.complete(opcode, STATUS.commandDisallowed);
        this.complete(opcode);
        this.air.cancelInitiating(this);
        return;
      case OP.leConnectionUpdate: {
        // 7.8.18: handle, interval min, max, latency, timeout, CE min, CE max.
        const handle = p.readUInt16LE(0);
        const ok = this.air.updateConnection(this, handle, p.readUInt16LE(4) * 1.25, p.readUInt16LE(8) * 10);
        this.status(opcode, ok ? STATUS.success : STATUS.unknownConnectionId);
        return;
      }
      case OP.leReadRemoteFeatures: {
        const handle = p.readUInt16LE(0);
        const ok = this.air.readRemoteFeatures(this, handle);
        this.status(opcode, ok ? STATUS.success : STATUS.unknownConnectionId);
        return;
      }
      case OP.leLtkNegativeReply:
      case OP.leSetDataLength: {
        const r = Buffer.alloc(2);
        r.writeUInt16LE(p.length >= 2 ? p.readUInt16LE(0) : 0, 0);
        this.complete(opcode, STATUS.success, r);
        return;
      }
      case OP.disconnect: {
        // 7.1.6: Command Status now, Disconnection Complete to both ends at the next event.
        const handle = p.readUInt16LE(0) & 0x0fff;
        const reason = p.readUInt8(2);
        const ok = this.air.disconnect(this, handle, reason);
        this.status(opcode, ok ? STATUS.success : STATUS.unknownConnectionId);
        return;
      }
      default:
        this.stats.unknown.set(opcode, (this.stats.unknown.get(opcode) ?? 0) + 1);
        this.trace.log('---', `unknown opcode ${opcodeName(opcode)}: answered 0x01`);
        this.complete(opcode, STATUS.unknownCommand);
        return;
    }
  }
}
