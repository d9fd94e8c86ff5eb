/**
 * The shared medium: delivers advertising to scanners (ADV_IND, then SCAN_RSP when scanning is
 * active), turns a pending LE Create Connection into a link at the advertiser's next advertising
 * event, owns connection handles (never 0, unique across the radio), and routes ACL by handle.
 */
import type { HciController } from './controller';
import { leAdvertisingReport, leConnectionComplete, leReadRemoteFeaturesComplete } from './hci-events';
import { STATUS } from './hci-opcodes';
import { Link } from './link';
import { intervalUnits, rssiAtDistance, type LinkShaping, type ResolvedShaping, mergeShaping } from './shaping';

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
  readonly shapingFor: (a: HciController, b: HciController) => { layers: ReadonlyArray<LinkShaping | undefined> };
  /** Handles never handed out (besides 0). Default [0x0006]: see VirtualRadioOptions.skipHandles. */
  readonly skipHandles?: readonly number[];
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

export class Air {
  private readonly controllers = new Set<HciController>();
  private readonly links = new Map<number, Link>();
  private readonly advTimers = new Map<HciController, NodeJS.Timeout>();
  private nextHandle = 0x0001;

  constructor(private readonly options: AirOptions) {}

  attach(c: HciController): void {
    this.controllers.add(c);
  }

  detach(c: HciController): void {
    this.controllerLost(c);
    this.stopAdvertisingTimer(c);
    this.controllers.delete(c);
  }

  /** All links now open. */
  openLinks(): Link[] {
    return [...this.links.values()];
  }

  shaping(a: HciController, b: HciController): ResolvedShaping & { intervalExplicit: boolean } {
    const { layers } = this.options.shapingFor(a, b);
    return { ...mergeShaping(...layers), intervalExplicit: layers.some((l) => l?.connectionIntervalMs !== undefined) };
  }

  rssiBetween(a: HciController, b: HciController): number {
    const d = this.shaping(a, b).distanceM ?? a.distanceM + b.distanceM;
    return rssiAtDistance(d);
  }

  advertisingChanged(c: HciController): void {
    if (c.adv.enabled && !this.advTimers.has(c)) {
      const tick = (): void => {
        if (!c.adv.enabled) return this.stopAdvertisingTimer(c);
        this.advertisingEvent(c);
        if (c.adv.enabled) this.advTimers.set(c, setTimeout(tick, c.adv.intervalMs + ADV_DELAY_MAX_MS * Math.random()));
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
      leConnectionComplete({ status: STATUS.unknownConnectionId, handle: 0, role: 0, peerAddressType: 0, peerAddress: Buffer.alloc(6), interval: 0, latency: 0, supervisionTimeout: 0 }),
      'le-conn-complete cancelled',
    );
  }

  /** The controller's links lose this end (host died, reset, or detached). */
  controllerLost(c: HciController): void {
    for (const link of this.links.values()) if (link.has(c)) link.lose(c);
    c.initiating = null;
  }

  hostAcl(from: HciController, handle: number, pb: number, data: Buffer): void {
    const link = this.links.get(handle);
    if (!link || !link.has(from)) {
      from.trace.log('---', `ACL for unknown handle ${handle} dropped`);
      return;
    }
    link.hostAcl(from, pb, data);
  }

  disconnect(c: HciController, handle: number, reason: number): boolean {
    const link = this.links.get(handle);
    if (!link || !link.has(c) || link.closed) return false;
    link.terminate(c, reason);
    return true;
  }

  rssiOf(c: HciController, handle: number): number | undefined {
    const link = this.links.get(handle);
    if (!link || !link.has(c)) return undefined;
    return this.rssiBetween(c, link.peerOf(c));
  }

  updateConnection(c: HciController, handle: number, intervalMaxMs: number, supervisionMs: number): boolean {
    const link = this.links.get(handle);
    if (!link || !link.has(c)) return false;
    link.requestUpdate(intervalMaxMs, supervisionMs);
    return true;
  }

  readRemoteFeatures(c: HciController, handle: number): boolean {
    const link = this.links.get(handle);
    if (!link || !link.has(c)) return false;
    setTimeout(() => c.sendEvent(leReadRemoteFeaturesComplete(handle), `le-remote-features h=${handle}`), link.intervalMs);
    return true;
  }

  /** Closes every link silently and stops all timers. */
  dispose(): void {
    for (const link of this.links.values()) link.dispose();
    this.links.clear();
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
        leAdvertisingReport({ eventType, addressType: 0, address: adv.addressWire, data: adv.adv.data, rssi }),
        `le-adv-report from=${adv.name} type=${eventType}`,
      );
      if (other.scan.active && scannable) {
        other.sendEvent(
          leAdvertisingReport({ eventType: 4, addressType: 0, address: adv.addressWire, data: adv.adv.scanResponse, rssi }),
          `le-adv-report from=${adv.name} type=4`,
        );
      }
    }
  }

  private allocateHandle(): number {
    // 0x0000 is never used (bleno treats it as "all"); 0x0F00.. are reserved.
    for (let i = 0; i < 0x0eff; i++) {
      const h = this.nextHandle;
      this.nextHandle = this.nextHandle >= 0x0eff ? 0x0001 : this.nextHandle + 1;
      if (!this.links.has(h) && !(this.options.skipHandles ?? DEFAULT_SKIP_HANDLES).includes(h)) return h;
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
    const handle = this.allocateHandle();
    const link = new Link(
      handle,
      central,
      peripheral,
      () => this.shaping(central, peripheral),
      init.supervisionTimeoutMs,
      (l) => {
        this.links.delete(l.handle);
        this.options.onLink?.('close', l);
      },
    );
    this.links.set(handle, link);
    const fields = {
      status: STATUS.success,
      handle,
      peerAddressType: 0,
      interval: intervalUnits(link.intervalMs),
      latency: 0,
      supervisionTimeout: Math.round(link.supervisionTimeoutMs / 10),
    };
    // Peripheral first (role 1), then central (role 0).
    peripheral.sendEvent(leConnectionComplete({ ...fields, role: 1, peerAddress: central.addressWire }), `le-conn-complete h=${handle} role=1 peer=${central.name}`);
    central.sendEvent(leConnectionComplete({ ...fields, role: 0, peerAddress: peripheral.addressWire }), `le-conn-complete h=${handle} role=0 peer=${peripheral.name}`);
    this.options.onLink?.('open', link);
  }
}
