/**
 * The virtual LE controller: one pty per simulated device, a real host stack (bleno or noble with
 * the UART driver) on each, and the shared {@link Air} between them.
 *
 * @example
 *   const radio = await VirtualRadio.start({ trace: { dir: '/tmp/hci' } });
 *   const till = radio.addDevice({ name: 'till' });
 *   const phone = radio.addDevice({ name: 'phone-1', distanceM: 2 });
 *   radio.setLinkShaping(phone, undefined, { connectionIntervalMs: 30 });
 *   child.env.HCI_UART = till.ttyPath;  till.watch(child);
 *   await radio.close();
 */
import type { ChildProcess } from 'node:child_process';
import { Air } from './air';
import { HciController } from './controller';
import type { Link } from './link';
import { PtyPort } from './pty-port';
import { RadioError } from './radio-error';
import {
  type ControllerProfile,
  type LinkShaping,
  validateControllerProfile,
  validateShaping,
} from './shaping';
import { Trace, type TraceOptions } from './trace';
import { seededRandom } from '@bluetill/protocol';

export interface VirtualRadioOptions {
  /** true: keep traces in memory; an object: also a directory and/or a line sink. */
  readonly trace?: boolean | TraceOptions;
  /** Bytes queued toward one stalled host before further bytes are dropped. Default 1 MiB. */
  readonly maxBacklogBytes?: number;
  /**
   * Connection handles never assigned (0 never is). Default [0x0006]: raw bleno 0.12 crashes on
   * handle 6 (its Smp takes the handle for the CID). Pass [] to behave like any controller.
   */
  readonly skipHandles?: readonly number[];
  /** Seed for the draws of connectFailRate, so a run's failed connections can be replayed. Default: unseeded. */
  readonly seed?: number;
}

/**
 * A device on the radio. Its controller profile (ControllerProfile: ACL buffers, first handle)
 * is fixed for its life. Unless given, each device's handles start at a number of their own
 * (1, 0x41, 0x81, … by the order devices were added, wrapping after 56 devices), so the two
 * ends of a link do not share a handle number by accident.
 */
export interface DeviceOptions extends ControllerProfile {
  readonly name: string;
  /** Distance from the common point (the till stands at 0), metres; default 1. */
  readonly distanceM?: number;
  /** Public address, `AA:BB:CC:DD:EE:FF`; default C0:FF:EE:00:00:nn. */
  readonly address?: string;
  /** Shaping of this device's links. */
  readonly shaping?: LinkShaping;
}

export interface LinkInfo {
  /** The peripheral's handle for the link (the till's). */
  readonly handle: number;
  /** The central's handle for the same link (the phone's). */
  readonly centralHandle: number;
  readonly central: string;
  readonly peripheral: string;
  readonly intervalMs: number;
  readonly supervisionTimeoutMs: number;
  readonly events: number;
  readonly lostEvents: number;
}

export class VirtualDevice {
  private watched: ChildProcess | undefined;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly controller: HciController,
    private readonly port: PtyPort,
  ) {}

  /** Path to give the host stack as its UART port. */
  get ttyPath(): string {
    return this.port.path;
  }

  /** Ends this device's links (peers see a supervision timeout) when the host process exits. */
  watch(child: ChildProcess): void {
    this.watched = child;
    child.once('exit', () => {
      if (this.watched === child) this.hostGone();
    });
  }

  /** The host is gone (process died or closed the port). */
  hostGone(): void {
    this.controller.hostGone();
    this.port.discardQueued();
  }

  set distanceM(m: number) {
    this.controller.distanceM = m;
  }

  get distanceM(): number {
    return this.controller.distanceM;
  }

  setShaping(shaping: LinkShaping): void {
    validateShaping(shaping);
    this.controller.shaping = { ...this.controller.shaping, ...shaping };
  }

  traceLines(): readonly string[] {
    return this.controller.trace.snapshot();
  }

  /** Bytes waiting for the host, and bytes dropped because it stalled. */
  get backlog(): { queued: number; dropped: number } {
    return { queued: this.port.backlog, dropped: this.port.dropped };
  }

  /** @internal */
  closePort(): void {
    this.port.close();
  }
}

/** What the radio did that hosts had to cope with (for fleet reports and tests). */
export interface RadioStats {
  /** Links that ended 0x3E, never established. */
  readonly failedToEstablish: number;
  /** Host ACL packets lost to a full or too small controller buffer (a host bug if non-zero). */
  readonly aclOverflows: number;
  /** Most host ACL packets one controller held at once. */
  readonly aclMaxInFlight: number;
}

export class VirtualRadio {
  private readonly devices = new Map<string, VirtualDevice>();
  private counted = { failedToEstablish: 0, aclOverflows: 0, aclMaxInFlight: 0 };
  private readonly pairShaping = new Map<string, LinkShaping>();
  private readonly linkListeners: Array<(event: 'open' | 'close', link: LinkInfo) => void> = [];
  private readonly air: Air;
  private readonly t0 = performance.now();
  private closed = false;

  private constructor(private readonly options: VirtualRadioOptions) {
    this.air = new Air({
      ...(options.skipHandles ? { skipHandles: options.skipHandles } : {}),
      ...(options.seed !== undefined ? { random: seededRandom(options.seed) } : {}),
      shapingFor: (a, b) => ({
        layers: [a.shaping, b.shaping, this.pairShaping.get(pairKey(a.name, b.name))],
      }),
      onLink: (event, link) => {
        if (event === 'close' && link.endReason?.kind === 'failed_to_establish')
          this.counted.failedToEstablish++;
        const info = linkInfo(link);
        for (const l of this.linkListeners) l(event, info);
      },
    });
  }

  private addedDevices = 0;

  static async start(options: VirtualRadioOptions = {}): Promise<VirtualRadio> {
    return new VirtualRadio(options);
  }

  addDevice(options: DeviceOptions): VirtualDevice {
    if (this.closed) throw new RadioError('radio_closed', 'radio is closed');
    if (this.devices.has(options.name))
      throw new RadioError('device_exists', `device ${options.name} exists`);
    if (options.shaping) validateShaping(options.shaping);
    validateControllerProfile(options);
    // Monotonic, so a device added after a removal never takes a live device's address.
    const index = ++this.addedDevices;
    const address = (
      options.address ?? `C0:FF:EE:00:${hex2(index >> 8)}:${hex2(index & 0xff)}`
    ).toUpperCase();
    const traceOptions = this.options.trace === true ? {} : this.options.trace || undefined;
    const port = PtyPort.open(this.options.maxBacklogBytes);
    const controller = new HciController({
      name: options.name,
      address: Buffer.from(address.replace(/:/g, ''), 'hex'),
      air: this.air,
      trace: new Trace(options.name, this.t0, traceOptions),
      send: (bytes) => port.write(bytes),
      ...(options.distanceM !== undefined ? { distanceM: options.distanceM } : {}),
      ...(options.shaping ? { shaping: options.shaping } : {}),
      ...(options.aclBuffers !== undefined ? { aclBuffers: options.aclBuffers } : {}),
      ...(options.aclBufferLength !== undefined ? { aclBufferLength: options.aclBufferLength } : {}),
      firstHandle: options.firstHandle ?? defaultFirstHandle(index),
    });
    port.onData((chunk) => controller.receive(chunk));
    this.air.attach(controller);
    const device = new VirtualDevice(options.name, address, controller, port);
    this.devices.set(options.name, device);
    return device;
  }

  device(name: string): VirtualDevice {
    const d = this.devices.get(name);
    if (!d) throw new RadioError('unknown_device', `no device ${name}`);
    return d;
  }

  removeDevice(name: string): void {
    const d = this.device(name);
    this.counted.aclOverflows += d.controller.stats.aclOverflows;
    this.counted.aclMaxInFlight = Math.max(this.counted.aclMaxInFlight, d.controller.stats.aclMaxInFlight);
    this.air.detach(d.controller);
    d.closePort();
    this.devices.delete(name);
  }

  /**
   * Shaping for the links between a and b (both given), or for all of a's links (b undefined).
   * Applied live, at the next connection event.
   */
  setLinkShaping(
    a: string | VirtualDevice,
    b: string | VirtualDevice | undefined,
    shaping: LinkShaping,
  ): void {
    validateShaping(shaping);
    const an = typeof a === 'string' ? a : a.name;
    if (b === undefined) return this.device(an).setShaping(shaping);
    const bn = typeof b === 'string' ? b : b.name;
    this.device(an);
    this.device(bn);
    const key = pairKey(an, bn);
    this.pairShaping.set(key, { ...this.pairShaping.get(key), ...shaping });
  }

  stats(): RadioStats {
    let { aclOverflows, aclMaxInFlight } = this.counted;
    for (const d of this.devices.values()) {
      aclOverflows += d.controller.stats.aclOverflows;
      aclMaxInFlight = Math.max(aclMaxInFlight, d.controller.stats.aclMaxInFlight);
    }
    return { failedToEstablish: this.counted.failedToEstablish, aclOverflows, aclMaxInFlight };
  }

  links(): LinkInfo[] {
    return this.air.openLinks().map(linkInfo);
  }

  onLink(listener: (event: 'open' | 'close', link: LinkInfo) => void): void {
    this.linkListeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.air.dispose();
    for (const d of this.devices.values()) d.closePort();
    this.devices.clear();
  }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
/** 1, 0x41, 0x81, … (wrapping below 0x0E00): the n-th device's first handle. */
export const defaultFirstHandle = (index: number): number => (((index - 1) * 0x40) % 0x0e00) + 1;
const pairKey = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);
const linkInfo = (l: Link): LinkInfo => ({
  handle: l.handles.peripheral,
  centralHandle: l.handles.central,
  central: l.central.name,
  peripheral: l.peripheral.name,
  intervalMs: l.intervalMs,
  supervisionTimeoutMs: l.supervisionTimeoutMs,
  events: l.stats.events,
  lostEvents: l.stats.lostEvents,
});
