/**
 * Many simulated phones in one process of their own (phone-host.host.ts), driven over IPC: each
 * payment gets a fresh phone device on the virtual radio (its own controller and pty), a real
 * noble stack on it, the phone's card from its personalization file (one card object per card,
 * so its ATC only moves forward) and the phone agent's payment flow. The till's process then
 * carries only the till and the backend, as on a real counter where phones are other devices.
 *
 * @example
 *   const host = await PhoneHost.start({ devices: virtualBle, trust: seed.trust, counterName: 'Counter 1' });
 *   const device = await host.device();
 *   const run = await host.pay({ cardId, cardFile, pin, ttyPath: device.ttyPath });
 *   await device.release();
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnHost } from '../radio/host-process';
import type { CardProfileName } from '../card/card-timing';
import type { PhoneRun } from './phone-run';
import type { ShopperDelays } from './auto-prompt';

export interface PhoneDevice {
  readonly ttyPath: string;
  release(): Promise<void>;
}

/** A radio that hands out phone devices (a controller and its pty) to hosts in other processes. */
export interface PhoneDeviceSource {
  phoneDevice(): Promise<PhoneDevice>;
}

export interface PhoneHostTrust {
  /** Raw public keys, base64 (as in the seed's trust.json). */
  readonly acquirerCa: string;
  readonly cardCompanyRoot: string;
}

/** A shopper's phone before it reaches the counter: card issued, Bluetooth on, on this pty. */
export interface PreparedPhone {
  readonly cardId: string;
  readonly cardFile: string;
  readonly ttyPath: string;
}

export interface RemotePayRequest {
  readonly cardId: string;
  readonly cardFile: string;
  readonly pin: string;
  readonly ttyPath: string;
  readonly expectTotalMinor?: number;
  /** The simulated shopper's own time (PIN typing, reading the basket). */
  readonly shopper?: ShopperDelays;
}

type PhoneHostCall =
  | {
      readonly op: 'init';
      readonly trust: PhoneHostTrust;
      readonly counterName: string;
      readonly cardProfile: CardProfileName;
    }
  | { readonly op: 'phones'; readonly phones: readonly PreparedPhone[] }
  | ({ readonly op: 'pay' } & RemotePayRequest);

export type PhoneHostRequest = PhoneHostCall & { readonly id: number };

export type PhoneHostReply =
  | { readonly id: number; readonly ok: true; readonly run?: PhoneRun }
  | { readonly id: number; readonly ok: false; readonly message: string };

export class PhoneHost {
  private next = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: PhoneRun | undefined) => void; reject: (e: Error) => void }
  >();
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly devices: PhoneDeviceSource,
  ) {
    child.on('message', (m: PhoneHostReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.run);
      else p.reject(new Error(m.message));
    });
    child.once('exit', (code) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`phone host exited (${code})`));
      this.pending.clear();
    });
  }

  static async start(o: {
    devices: PhoneDeviceSource;
    trust: PhoneHostTrust;
    counterName: string;
    cardProfile?: CardProfileName;
  }): Promise<PhoneHost> {
    const entry = fileURLToPath(new URL('./phone-host.host.ts', import.meta.url));
    const child = spawnHost(entry, { label: 'phones', serialization: 'advanced' });
    const host = new PhoneHost(child, o.devices);
    await host.call({
      op: 'init',
      trust: o.trust,
      counterName: o.counterName,
      cardProfile: o.cardProfile ?? 'instant',
    });
    return host;
  }

  device(): Promise<PhoneDevice> {
    return this.devices.phoneDevice();
  }

  /**
   * Gets these phones ready: each card personalized (issuing a card is not paying) and each
   * phone's noble stack powered on, on its own device; a `pay` on that device then uses it.
   */
  async preparePhones(phones: readonly PreparedPhone[]): Promise<void> {
    await this.call({ op: 'phones', phones });
  }

  async pay(req: RemotePayRequest): Promise<PhoneRun> {
    const run = await this.call({ op: 'pay', ...req });
    if (!run) throw new Error('phone host answered without a run');
    return run;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }

  private call(req: PhoneHostCall): Promise<PhoneRun | undefined> {
    if (this.exited) return Promise.reject(new Error('phone host is gone'));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, ...req });
    });
  }
}
