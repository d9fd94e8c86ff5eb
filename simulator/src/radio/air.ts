/**
 * The shared medium: delivers advertising to scanners (ADV_IND, then SCAN_RSP when scanning is
 * active), turns a pending LE Create Connection into a link at the advertiser's next advertising
 * event, and routes ACL by handle. Each controller numbers its own links (never 0, from its
 * `firstHandle`), as real ones do: the till's handle for a link is not the phone's.
 */
import type { ControllerAir, HciController } from './controller';
import { leAdvertisingReport, leConnectionComplete, leReadRemoteFeaturesComplete } from './hci-events';
import { STATUS } from './hci-opcodes';
import { Link } from './link';
import {
  intervalUnits,
  rssiAtDistance,
  RSSI_NOT_AVAILABLE,
  type LinkShaping,
  type ResolvedShaping,
  mergeShaping,
} from './shaping';

/**
 * Advertising timing (Core 5.x Vol 6 Part B 4.4.2.2.1): consecutive advertising events are
 * advInterval + advDelay apart, advDelay a fresh pseudo-random 0–10 ms each time. The spec sets
 * no delay before the first event after the host enables advertising; a real controller starts it
 * as soon as its scheduler and radio are ready (Zephyr's LL, on the nRF dongles a UART till would
 * use, anchors the first event at enable + EVENT_OVERHEAD_START_US, with the crystal already
 * running or started in EVENT_OVERHEAD_XTAL_US = 1.5 ms: subsys/bluetooth/controller/ll_sw/ull_adv.c).
 */
const ADV_DELAY_MAX_MS = 10;
const ADV_START_MS = 1.5;

export interface AirOptions {
  /** Shaping for the pair (a, b), applied live. */
  readonly shapingFor: (
    a: HciController,
    b: HciController,
  ) => { layers: ReadonlyArray<LinkShaping | undefined> };
  /** Handles never handed out (besides 0). Default [0x0006]: see VirtualRadioOptions.skipHandles. */
  readonly skipHandles?: readonly number[];
  /** Draws for connectFailRate (default Math.random; seeded to replay a run). */
  readonly random?: () => number;
  /** Called when a link opens or closes (for stats and tests). */
  readonly onLink?: (event: 'open' | 'close', link: Link) => void;
}

/**
 * bleno 0.12's Smp listens to AclStream 'data' as (cid, data) while AclStream emits
 * (handle, cid, data): on connection handle 6 (= the SMP CID) every ACL packet reaches Smp with a
 * number as data and bleno throws. Skipped by default; BlenoPeripheral patches the listener, and
 * its test runs with no skipped handles.
 */
export const DEFAULT_SKIP_HANDLES: readonly number[] = [0x0006];

export class Air implements ControllerAir {
  private readonly controllers = new Set<HciController>();
  /** Each controller's links by its own handle. */
  private readonly links = new Map<HciController, Map<number, Link>>();
  private readonly advTimers = new Map<HciController, NodeJS.Timeout>();
  private readonly nextHandle = new Map<HciController, number>();

  constructor(private readonly options: AirOptions) {}

  attach(c: HciController): void {
    this.controllers.add(c);
    this.links.set(c, new Map());
    this.nextHandle.set(c, c.firstHandle);
  }

  detach(c: HciController): void {
    this.controllerLost(c);
    this.stopAdvertisingTimer(c);
    this.controllers.delete(c);
    this.links.delete(c);
    this.nextHandle.delete(c);
  }

  /** All links now open. */
  openLinks(): Link[] {
    const all = new Set<Link>();
    for (const byHandle of this.links.values()) for (const l of byHandle.values()) all.add(l);
    return [...all];
  }

  /** The link `c` knows by `handle`. */
  private linkOf(c: HciController, handle: number): Link | undefined {
    return this.links.get(c)?.get(handle);
  }

  shaping(a: HciController, b: HciController): ResolvedShaping & { intervalExplicit: boolean } {
    const { layers } = this.options.shapingFor(a, b);
    return {
      ...mergeShaping(...layers),
      intervalExplicit: layers.some((l) => l?.connectionIntervalMs !== undefined),
    };
  }

  rssiBetween(a: HciController, b: HciController): number {
    const s = this.shaping(a, b);
    if (s.rssiUnavailable) return RSSI_NOT_AVAILABLE;
    return rssiAtDistance(s.distanceM ?? a.distanceM + b.distanceM);
  }

  advertisingChanged(c: HciController): void {
    if (c.adv.enabled && !this.advTimers.has(c)) {
      const tick = (): void => {
        if (!c.adv.enabled) return this.stopAdvertisingTimer(c);
        this.advertisingEvent(c);
        if (c.adv.enabled)
          this.advTimers.set(c, setTimeout(tick, c.adv.intervalMs + ADV_DELAY_MAX_MS * Math.random()));
        else this.stopAdvertisingTimer(c);
      };
      this.advTimers.set(c, setTimeout(tick, ADV_START_MS));
    } else if (!c.adv.enabled) {
      this.stopAdvertisingTimer(c);
    }
  }

  initiatingChanged(_c: HciController): void {
    // Connects at the target's next advertising event.
  }

  cancelInitiating(c: HciController): void {
    if (!c.initiating) return;
    c.initiating = null;
    // 7.8.13: LE Connection Complete with status Unknown Connection Identifier.
    c.sendEvent(
      leConnectionComplete({
        status: STATUS.unknownConnectionId,
        handle: 0,
        role: 0,
        peerAddressType: 0,
        peerAddress: Buffer.alloc(6),
        interval: 0,
        latency: 0,
        supervisionTimeout: 0,
      }),
      'le-conn-complete cancelled',
    );
  }

  /** The controller's links lose this end (host died, reset, or detached). */
  controllerLost(c: HciController): void {
    for (const link of this.links.get(c)?.values() ?? []) link.lose(c);
    c.initiating = null;
  }

  /** False (and dropped) when `from` has no link by that handle. */
  hostAcl(from: HciController, handle: number, pb: number, data: Buffer): boolean {
    const link = this.linkOf(from, handle);
    if (!link) {
      from.trace.log('---', `ACL for unknown handle ${handle} dropped`);
      return false;
    }
    link.hostAcl(from, pb, data);
    return true;
  }

  disconnect(c: HciController, handle: number, reason: number): boolean {
    const link = this.linkOf(c, handle);
    if (!link || link.closed) return false;
    link.terminate(c, reason);
    return true;
  }

  rssiOf(c: HciController, handle: number): number | undefined {
    const link = this.linkOf(c, handle);
    if (!link) return undefined;
    return this.rssiBetween(c, link.peerOf(c));
  }

  updateConnection(c: HciController, handle: number, intervalMaxMs: number, supervisionMs: number): boolean {
    const link = this.linkOf(c, handle);
    if (!link) return false;
    link.requestUpdate(intervalMaxMs, supervisionMs);
    return true;
  }

  readRemoteFeatures(c: HciController, handle: number): boolean {
    const link = this.linkOf(c, handle);
    if (!link) return false;
    setTimeout(
      () => c.sendEvent(leReadRemoteFeaturesComplete(handle), `le-remote-features h=${handle}`),
      link.intervalMs,
    );
    return true;
  }

  /** Closes every link silently and stops all timers. */
  dispose(): void {
    for (const link of this.openLinks()) link.dispose();
    for (const byHandle of this.links.values()) byHandle.clear();
    for (const t of this.advTimers.values()) clearTimeout(t);
    this.advTimers.clear();
  }

  private stopAdvertisingTimer(c: HciController): void {
    const t = this.advTimers.get(c);
    if (t) clearTimeout(t);
    this.advTimers.delete(c);
  }

  private advertisingEvent(adv: HciController): void {
    const connectable = adv.adv.type === 0 || adv.adv.type === 1;
    const scannable = adv.adv.type === 0 || adv.adv.type === 2;
    for (const other of this.controllers) {
      if (other === adv || !other.hostPresent) continue;
      const s = this.shaping(adv, other);
      if (s.lossRate > 0 && Math.random() < s.lossRate) continue;
      if (connectable && other.initiating?.peer === adv.addressHex) {
        this.connect(other, adv);
        if (!adv.adv.enabled) return;
        continue;
      }
      if (!other.scan.enabled) continue;
      if (other.scan.filterDuplicates && other.scan.seen.has(adv.addressHex)) continue;
      other.scan.seen.add(adv.addressHex);
      const rssi = this.rssiBetween(adv, other);
      const eventType = adv.adv.type === 3 ? 3 : adv.adv.type === 2 ? 2 : 0;
      other.sendEvent(
        leAdvertisingReport({
          eventType,
          addressType: 0,
          address: adv.addressWire,
          data: adv.adv.data,
          rssi,
        }),
        `le-adv-report from=${adv.name} type=${eventType}`,
      );
      if (other.scan.active && scannable) {
        other.sendEvent(
          leAdvertisingReport({
            eventType: 4,
            addressType: 0,
            address: adv.addressWire,
            data: adv.adv.scanResponse,
            rssi,
          }),
          `le-adv-report from=${adv.name} type=4`,
        );
      }
    }
  }

  private allocateHandle(c: HciController): number {
    // 0x0000 is never used (bleno treats it as "all"); 0x0F00.. are reserved.
    const taken = this.links.get(c) ?? new Map<number, Link>();
    for (let i = 0; i < 0x0eff; i++) {
      const h = this.nextHandle.get(c) ?? 0x0001;
      this.nextHandle.set(c, h >= 0x0eff ? 0x0001 : h + 1);
      if (!taken.has(h) && !(this.options.skipHandles ?? DEFAULT_SKIP_HANDLES).includes(h)) return h;
    }
    throw new Error('no free connection handle');
  }

  private connect(central: HciController, peripheral: HciController): void {
    const init = central.initiating;
    if (!init) return;
    central.initiating = null;
    // Vol 6, Part B, 4.4.2: the advertiser stops advertising when it accepts a connection.
    peripheral.adv.enabled = false;
    this.stopAdvertisingTimer(peripheral);
    const handles = { central: this.allocateHandle(central), peripheral: this.allocateHandle(peripheral) };
    const shaping = this.shaping(central, peripheral);
    const fails =
      shaping.connectFailRate > 0 && (this.options.random ?? Math.random)() < shaping.connectFailRate;
    const link = new Link(
      handles,
      central,
      peripheral,
      () => this.shaping(central, peripheral),
      init.supervisionTimeoutMs,
      (l) => {
        this.links.get(central)?.delete(l.handles.central);
        this.links.get(peripheral)?.delete(l.handles.peripheral);
        this.options.onLink?.('close', l);
      },
      fails,
    );
    this.links.get(central)?.set(handles.central, link);
    this.links.get(peripheral)?.set(handles.peripheral, link);
    if (fails)
      central.trace.log(
        '---',
        `connection h=${handles.central} drawn to fail to be established (connectFailRate)`,
      );
    const fields = {
      status: STATUS.success,
      peerAddressType: 0,
      interval: intervalUnits(link.intervalMs),
      latency: 0,
      supervisionTimeout: Math.round(link.supervisionTimeoutMs / 10),
    };
    // Peripheral first (role 1), then central (role 0).
    peripheral.sendEvent(
      leConnectionComplete({
        ...fields,
        handle: handles.peripheral,
        role: 1,
        peerAddress: central.addressWire,
      }),
      `le-conn-complete h=${handles.peripheral} role=1 peer=${central.name}`,
    );
    central.sendEvent(
      leConnectionComplete({
        ...fields,
        handle: handles.central,
        role: 0,
        peerAddress: peripheral.addressWire,
      }),
      `le-conn-complete h=${handles.central} role=0 peer=${peripheral.name}`,
    );
    this.options.onLink?.('open', link);
  }
}
