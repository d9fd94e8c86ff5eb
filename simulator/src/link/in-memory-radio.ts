/**
 * An in-memory BLE link: a GATT-like write/notify channel with an MTU, for pure-core tests and
 * very large fleets. Values are delivered asynchronously, in order, per connection. Real BLE
 * tests use the virtual LE controller (radio/) with the real noble and bleno stacks instead.
 */
import type { BlePeripheral, PeripheralLink, PeripheralOptions } from '@bluetill/pos-terminal';
import type { Advertisement, BleCentral, CentralLink, ScanOptions } from '@bluetill/phone-agent';

export interface InMemoryRadioOptions {
  /** ATT MTU both sides agree on (the phone asks 247; many tills allow 185). */
  readonly mtu?: number;
  /** One-way delay per value, ms (0 = next tick). */
  readonly latencyMs?: number;
}

type Handler<T> = (v: T) => void;

class Pipe {
  private readonly valueHandlers: Handler<Uint8Array>[] = [];
  private readonly disconnectHandlers: Handler<string>[] = [];
  private buffered: Uint8Array[] = [];
  open = true;

  onValue(h: Handler<Uint8Array>): void {
    this.valueHandlers.push(h);
    for (const v of this.buffered.splice(0)) h(v);
  }
  onDisconnect(h: Handler<string>): void {
    this.disconnectHandlers.push(h);
  }
  deliver(v: Uint8Array): void {
    if (!this.open) return;
    if (this.valueHandlers.length === 0) this.buffered.push(v);
    for (const h of this.valueHandlers) h(v);
  }
  drop(reason: string): void {
    if (!this.open) return;
    this.open = false;
    for (const h of this.disconnectHandlers) h(reason);
  }
}

export class InMemoryRadio {
  private peripheralImpl: InMemoryPeripheral | null = null;
  private nextId = 1;
  readonly mtu: number;
  readonly latencyMs: number;

  constructor(o: InMemoryRadioOptions = {}) {
    this.mtu = o.mtu ?? 185;
    this.latencyMs = o.latencyMs ?? 0;
  }

  peripheral(): BlePeripheral {
    this.peripheralImpl ??= new InMemoryPeripheral();
    return this.peripheralImpl;
  }

  central(): BleCentral {
    return {
      scan: async (o: ScanOptions): Promise<Advertisement[]> => {
        const p = this.peripheralImpl;
        if (!p?.advertising) {
          await new Promise((r) => setTimeout(r, Math.min(o.timeoutMs, 50)));
          return [];
        }
        return [{ id: 'till', counterName: p.advertising.counterName, rssi: -50 }];
      },
      connect: async (): Promise<CentralLink> => {
        const p = this.peripheralImpl;
        if (!p?.advertising) throw new Error('no till advertising');
        return this.link(p, p.advertising);
      },
      close: async () => undefined,
    };
  }

  private send(to: Pipe, v: Uint8Array): Promise<void> {
    const copy = v.slice();
    return new Promise((resolve) => {
      const go = () => {
        to.deliver(copy);
        resolve();
      };
      if (this.latencyMs > 0) setTimeout(go, this.latencyMs);
      else setImmediate(go);
    });
  }

  private link(p: InMemoryPeripheral, adv: PeripheralOptions): CentralLink {
    const toTill = new Pipe();
    const toPhone = new Pipe();
    const id = `mem-${this.nextId++}`;
    const mtu = this.mtu;
    const check = (v: Uint8Array) => {
      if (v.length > mtu - 3) throw new Error(`value of ${v.length} bytes exceeds MTU ${mtu}`);
    };
    const drop = (reason: string) => {
      toTill.drop(reason);
      toPhone.drop(reason);
    };
    const tillSide: PeripheralLink = {
      id,
      mtu,
      onValue: (h) => toTill.onValue(h),
      notify: async (v) => {
        check(v);
        if (!toPhone.open) throw new Error('not connected');
        await this.send(toPhone, v);
      },
      onDisconnect: (h) => toTill.onDisconnect(h),
      disconnect: async () => drop('local disconnect'),
    };
    p.connect(tillSide);
    return {
      mtu,
      write: async (v) => {
        check(v);
        if (!toTill.open) throw new Error('not connected');
        await this.send(toTill, v);
      },
      readInfo: async () => adv.info,
      onValue: (h) => toPhone.onValue(h),
      onDisconnect: (h) => toPhone.onDisconnect(h),
      disconnect: async () => drop('remote user terminated connection'),
    };
  }
}

class InMemoryPeripheral implements BlePeripheral {
  advertising: PeripheralOptions | null = null;
  private handler: ((l: PeripheralLink) => void) | null = null;

  async start(o: PeripheralOptions): Promise<void> {
    this.advertising = o;
  }
  onConnect(h: (l: PeripheralLink) => void): void {
    this.handler = h;
  }
  connect(l: PeripheralLink): void {
    if (!this.handler) throw new Error('peripheral not serving');
    this.handler(l);
  }
  async stop(): Promise<void> {
    this.advertising = null;
  }
}
