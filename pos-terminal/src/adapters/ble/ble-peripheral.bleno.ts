/**
 * BlePeripheral over @stoprocent/bleno (HCI over UART or a kernel socket). One PeripheralLink
 * per connection handle; NOTIFY goes to that connection only, through the per-connection
 * update callback bleno hands out at subscribe time.
 *
 * bleno does not expose a connection's MTU or disconnect reason publicly; both are read from
 * its bindings (`_bindings._gatt._connections`, `_bindings._hci` 'disconnComplete'), pinned to
 * @stoprocent/bleno 0.12. The Database Hash the till serves (so phones can skip discovery, see
 * protocol's gatt-database.ts) is computed over the table bleno really built (`_gatt._handles`).
 */
import { withBindings, type Bleno, type ConnectionHandle, type UpdateValueCallback } from '@stoprocent/bleno';
import { ATT_DEFAULT_MTU, DATABASE_HASH_UUID, GATT, disconnectReason } from '@bluetill/protocol';
import { blenoDatabaseHash, type BlenoHandleTable } from './bleno-gatt-table';
import type { BlePeripheral, PeripheralLink, PeripheralOptions } from '../../common/ports/ble-peripheral';
import { BlePeripheralError } from './ble-peripheral-error';
import { installAclScheduler, type AclPolicy, type AclStats, type BlenoHciAclState } from './acl-scheduler';
import { blenoBindingOptions, type HciTransport } from './hci-transport';

export interface BlenoPeripheralOptions {
  readonly hci: HciTransport;
  /**
   * Advertising interval (ms, ≥ 20). A peripheral accepts one new connection per advertising
   * event, so a till that many phones join at once advertises fast; it runs on mains power.
   * Default 20 ms (bleno's own default is 100 ms).
   */
  readonly advertisingIntervalMs?: number;
  /** How long to wait for the controller to come up. Default 10 s. */
  readonly poweredOnTimeoutMs?: number;
  /**
   * How the controller's ACL buffers are shared between connections (acl-scheduler.ts): default
   * 'capped_fifo' (arrival order, at most 6 buffers per connection); 'fair' and bleno's own 'fifo'
   * for measuring the difference.
   */
  readonly aclPolicy?: AclPolicy;
  /**
   * How long a notification waits for the central to subscribe (ms, default 5000). A phone that
   * knows the till's GATT layout writes its subscription together with its first message, so the
   * answer to that message can be ready first; it is held, in order, until the subscription
   * arrives, and fails with 'not_subscribed' after this long.
   */
  readonly subscribeWaitMs?: number;
  /** Test hook: an already created bleno instance. */
  readonly bleno?: Bleno;
}

interface AclStreamInternals {
  on(event: 'data', fn: (handle: number, cid: number, data: Buffer) => void): void;
  removeListener(event: 'data', fn: (...args: never[]) => void): void;
  _smp?: {
    onAclStreamDataBinded?: (...args: never[]) => void;
    onAclStreamData?: (cid: number, data: Buffer) => void;
  };
}

interface BlenoInternals {
  _bindings?: {
    _connections?: Map<ConnectionHandle, { aclStream?: AclStreamInternals }>;
    _gatt?: { _connections?: Map<ConnectionHandle, { mtu?: number }>; _handles?: BlenoHandleTable };
    _hci?: BlenoHciAclState & {
      prependListener(event: 'disconnComplete', fn: (handle: number, reason: number) => void): void;
    };
  };
}

const ATT_SUCCESS = 0x00;

export class BlenoPeripheral implements BlePeripheral {
  private readonly bleno: Bleno;
  private readonly links = new Map<ConnectionHandle, BlenoLink>();
  private readonly connectHandlers: Array<(link: PeripheralLink) => void> = [];
  private readonly reasons = new Map<number, number>();
  private seq = 0;
  private started = false;
  /** The Database Hash of the served table; zeros (never a known layout) until it is known. */
  private hash: Buffer = Buffer.alloc(16);
  /** Counters of the ACL scheduler (undefined until started, or when bleno's internals differ). */
  aclStats: AclStats | undefined;

  constructor(private readonly options: BlenoPeripheralOptions) {
    this.bleno = options.bleno ?? withBindings('hci', blenoBindingOptions(options.hci) as never);
    this.bleno.on('accept', (_address, handle) => this.accept(handle));
    this.bleno.on('disconnect', (_address, handle) => this.gone(handle));
  }

  async start(options: PeripheralOptions): Promise<void> {
    const b = this.bleno;
    // bleno reads its advertising interval from this variable whenever it (re)starts advertising.
    process.env.BLENO_ADVERTISING_INTERVAL = String(Math.max(20, this.options.advertisingIntervalMs ?? 20));
    try {
      await b.waitForPoweredOnAsync(this.options.poweredOnTimeoutMs ?? 10_000);
    } catch (error) {
      throw new BlePeripheralError('adapter_unavailable', `BLE adapter not powered on (state ${b.state})`, {
        cause: error,
      });
    }
    const hci = (b as unknown as BlenoInternals)._bindings?._hci;
    hci?.prependListener('disconnComplete', (handle, reason) => this.reasons.set(handle, reason));
    // bleno's one shared FIFO would let a burst to one phone starve the others (see acl-scheduler.ts).
    if (hci && Array.isArray(hci._aclOutQueue) && typeof hci.pushAclOutQueue === 'function')
      this.aclStats ??= installAclScheduler(hci, { policy: this.options.aclPolicy ?? 'capped_fifo' });
    const write = new b.Characteristic({
      uuid: GATT.write,
      properties: ['write', 'writeWithoutResponse'],
      onWriteRequest: (handle, data, offset, withoutResponse, callback) => {
        const link = this.links.get(handle);
        if (!withoutResponse) callback(offset === 0 ? ATT_SUCCESS : 0x07 /* invalid offset */);
        if (offset === 0) link?.pushValue(new Uint8Array(data));
      },
    });
    const notify = new b.Characteristic({
      uuid: GATT.notify,
      properties: ['notify'],
      onSubscribe: (handle, maxValueSize, update) =>
        this.links.get(handle)?.subscribed(update, maxValueSize + 3),
      onUnsubscribe: (handle) => this.links.get(handle)?.unsubscribed(),
    });
    const info = new b.Characteristic({
      uuid: GATT.info,
      properties: ['read'],
      value: Buffer.from(options.info),
    });
    const databaseHash = new b.Characteristic({
      uuid: DATABASE_HASH_UUID,
      properties: ['read'],
      onReadRequest: (_handle, offset, callback) =>
        callback(
          offset <= this.hash.length ? ATT_SUCCESS : 0x07 /* invalid offset */,
          this.hash.subarray(offset),
        ),
    });
    await b.setServicesAsync([
      new b.PrimaryService({ uuid: GATT.service, characteristics: [write, notify, info, databaseHash] }),
    ]);
    const table = (b as unknown as BlenoInternals)._bindings?._gatt?._handles;
    this.hash = table ? Buffer.from(blenoDatabaseHash(table)) : Buffer.alloc(16);
    await b.startAdvertisingAsync(options.counterName, [GATT.service]);
    this.started = true;
  }

  onConnect(handler: (link: PeripheralLink) => void): void {
    this.connectHandlers.push(handler);
  }

  async stop(): Promise<void> {
    if (this.started) await this.bleno.stopAdvertisingAsync().catch(() => undefined);
    await Promise.all([...this.links.values()].map((l) => l.disconnect()));
    this.bleno.stop();
    this.started = false;
  }

  /** The Database Hash this till serves (16 bytes, as carried over the air). */
  get databaseHash(): Uint8Array {
    return new Uint8Array(this.hash);
  }

  /** @internal current ATT MTU of a connection. */
  mtuOf(handle: ConnectionHandle): number | undefined {
    return (this.bleno as unknown as BlenoInternals)._bindings?._gatt?._connections?.get(handle)?.mtu;
  }

  /** @internal */
  disconnectHandle(handle: ConnectionHandle): void {
    // typed as disconnect(): the JS takes an optional handle (null = all; handles are never 0).
    (this.bleno.disconnect as (h: ConnectionHandle) => void).call(this.bleno, handle);
  }

  /**
   * bleno 0.12 bug: AclStream emits 'data' as (handle, cid, data) but Smp listens as (cid, data),
   * so on connection handle 6 (= SMP CID) every ACL packet reaches Smp with a number as data and
   * bleno throws. Re-wire Smp's listener with the right arguments.
   */
  private fixSmpListener(handle: ConnectionHandle): void {
    const stream = (this.bleno as unknown as BlenoInternals)._bindings?._connections?.get(handle)?.aclStream;
    const smp = stream?._smp;
    if (!stream || !smp?.onAclStreamDataBinded || !smp.onAclStreamData) return;
    stream.removeListener('data', smp.onAclStreamDataBinded);
    stream.on('data', (_handle, cid, data) => smp.onAclStreamData?.(cid, data));
  }

  private accept(handle: ConnectionHandle): void {
    this.fixSmpListener(handle);
    const link = new BlenoLink(`${handle}#${++this.seq}`, handle, this, this.options.subscribeWaitMs ?? 5000);
    this.links.set(handle, link);
    for (const h of this.connectHandlers) h(link);
  }

  private gone(handle: ConnectionHandle): void {
    const link = this.links.get(handle);
    if (!link) return;
    this.links.delete(handle);
    const code = typeof handle === 'number' ? this.reasons.get(handle) : undefined;
    if (typeof handle === 'number') this.reasons.delete(handle);
    link.closed(disconnectReason(code));
  }
}

class BlenoLink implements PeripheralLink {
  private readonly valueHandlers: Array<(value: Uint8Array) => void> = [];
  private readonly disconnectHandlers: Array<(reason: string) => void> = [];
  private readonly early: Uint8Array[] = [];
  private update: UpdateValueCallback | undefined;
  private subscribedMtu: number | undefined;
  private reason: string | undefined;
  private readonly gone: Promise<void>;
  private resolveGone!: () => void;
  /** Notifications waiting for the subscription, in order. */
  private readonly waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(
    readonly id: string,
    private readonly handle: ConnectionHandle,
    private readonly owner: BlenoPeripheral,
    private readonly subscribeWaitMs: number,
  ) {
    this.gone = new Promise((r) => (this.resolveGone = r));
  }

  get mtu(): number {
    return this.owner.mtuOf(this.handle) ?? this.subscribedMtu ?? ATT_DEFAULT_MTU;
  }

  onValue(handler: (value: Uint8Array) => void): void {
    this.valueHandlers.push(handler);
    for (const v of this.early.splice(0)) handler(v);
  }

  async notify(value: Uint8Array): Promise<void> {
    if (this.reason !== undefined)
      throw new BlePeripheralError('disconnected', `link ${this.id} is gone (${this.reason})`);
    if (!this.update) await this.subscription();
    const update = this.update;
    if (!update)
      throw new BlePeripheralError('not_subscribed', `central on ${this.id} unsubscribed from NOTIFY`);
    if (value.length > this.mtu - 3)
      throw new BlePeripheralError(
        'value_too_long',
        `value of ${value.length} bytes exceeds MTU ${this.mtu} - 3`,
      );
    update(Buffer.from(value));
  }

  /** Resolves, in call order, once the central has subscribed; rejects on timeout or link loss. */
  private subscription(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(
          new BlePeripheralError(
            'not_subscribed',
            `central on ${this.id} did not subscribe to NOTIFY within ${this.subscribeWaitMs} ms`,
          ),
        );
      }, this.subscribeWaitMs);
      timer.unref();
      this.waiting.push(entry);
    });
  }

  onDisconnect(handler: (reason: string) => void): void {
    if (this.reason !== undefined) handler(this.reason);
    else this.disconnectHandlers.push(handler);
  }

  async disconnect(): Promise<void> {
    if (this.reason !== undefined) return;
    this.owner.disconnectHandle(this.handle);
    await Promise.race([this.gone, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  /** @internal */
  pushValue(value: Uint8Array): void {
    if (this.valueHandlers.length === 0) this.early.push(value);
    else for (const h of this.valueHandlers) h(value);
  }

  /** @internal */
  subscribed(update: UpdateValueCallback, mtu: number): void {
    this.update = update;
    this.subscribedMtu = mtu;
    for (const w of this.waiting.splice(0)) w.resolve();
  }

  /** @internal */
  unsubscribed(): void {
    this.update = undefined;
  }

  /** @internal fires the disconnect handlers once. */
  closed(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.update = undefined;
    for (const w of this.waiting.splice(0))
      w.reject(new BlePeripheralError('disconnected', `link ${this.id} is gone (${reason})`));
    this.resolveGone();
    for (const h of this.disconnectHandlers.splice(0)) h(reason);
  }
}
