/**
 * BleCentral over @stoprocent/noble (HCI over UART or a kernel socket). Scans for the bluetill
 * service with a timeout that always ends, picks tills by counter name (scan response), and
 * connects with an ATT MTU exchange (247 asked) and a NOTIFY subscription (written at once, or with
 * the first message when the till's GATT layout is known).
 *
 * GATT setup uses the till's Database Hash (protocol's gatt-database.ts): one Read at the
 * well-known handle; when it equals the bluetill layout's hash, the handles are known and only
 * the CCCD write is left, and it leaves together with the first message (2 ATT round trips
 * before the first message, with the MTU exchange). Any other answer means full discovery and
 * a subscription before the link is returned (8 round trips), so a till with another stack or
 * version still works.
 *
 * A connection that fails to be established (HCI 0x3E, Android's GATT 62: the controller's LE
 * Connection Complete says so, or the new link drops with that reason within its first 6
 * connection events, as busy real radios do) is tried again, up to `connectAttempts` (3) with a
 * doubling pause (150 ms, 300 ms), all within the connect timeout; then it fails with
 * BleCentralError('connect_failed') carrying `hciStatus` and `attempts`.
 *
 * ```mermaid
 * sequenceDiagram
 *   participant P as phone (noble)
 *   participant T as till (bleno)
 *   P->>T: Exchange MTU Request (247)
 *   T-->>P: Exchange MTU Response
 *   P->>T: Read Request (Database Hash handle)
 *   T-->>P: Read Response (hash)
 *   alt hash = bluetill layout
 *     Note over P: connect() returns the link
 *     P->>T: Write Command (Hello, first fragment)
 *     P->>T: Write Request (notify CCCD = 0x0001), same connection event
 *     T-->>P: Write Response
 *     T-->>P: Notifications (HelloAck), held by the till until subscribed
 *   else anything else
 *     P->>T: discover services, characteristics, CCCD (4 round trips)
 *     P->>T: Write Request (CCCD)
 *     T-->>P: Write Response: connect() returns the link
 *   end
 * ```
 */
import { withBindings, type Characteristic, type Noble, type Peripheral } from '@stoprocent/noble';
import {
  ATT_DEFAULT_MTU,
  ATT_PREFERRED_MTU,
  BLUETILL_GATT_LAYOUT,
  CHAR_PROP,
  GATT,
  disconnectReason,
  equalBytes,
} from '@bluetill/protocol';
import {
  BleCentralError,
  type Advertisement,
  type BleCentral,
  type CentralLink,
  type ScanOptions,
} from '../ports/ble-central';

/** The port's error, re-exported where it used to live. */
export { BleCentralError, type BleCentralErrorCode } from '../ports/ble-central';

/** Which HCI controller noble talks to. */
export type HciTransport =
  | { readonly transport: 'uart'; readonly path: string; readonly baudRate?: number }
  | { readonly transport: 'socket'; readonly deviceId: number; readonly userChannel?: boolean };

export interface NobleCentralOptions {
  readonly hci: HciTransport;
  /** How long to wait for the controller to come up. Default 10 s. */
  readonly poweredOnTimeoutMs?: number;
  /** ATT MTU asked for. Default 247. */
  readonly mtu?: number;
  /**
   * Use the bluetill GATT layout when the till's Database Hash matches it (default true);
   * false always runs full discovery (for comparison and for tills known to differ).
   */
  readonly knownLayout?: boolean;
  /** Attempts for a connection that fails to be established (0x3E), within the connect timeout. Default 3. */
  readonly connectAttempts?: number;
  /** Pause before the second attempt, doubling after. Default 150 ms. */
  readonly connectBackoffMs?: number;
  /** Test hook: an already created noble instance. */
  readonly noble?: Noble;
}

/** How a link's GATT handles were found. */
export type GattSetup = 'known_layout' | 'discovered';

/** noble's GATT cache entry points (present in @stoprocent/noble 2.x, not in its typings). */
interface NobleGattCache {
  addServices(
    peripheralId: string,
    services: ReadonlyArray<{ uuid: string; startHandle: number; endHandle: number }>,
  ): unknown[];
  addCharacteristics(
    peripheralId: string,
    serviceUuid: string,
    characteristics: ReadonlyArray<{
      uuid: string;
      startHandle: number;
      valueHandle: number;
      endHandle: number;
      properties: number;
    }>,
  ): Characteristic[] | undefined;
}

/** HCI 0x3E "Connection Failed to be Established" (Core Vol 1, Part F, 2.62). */
export const HCI_CONNECTION_FAILED_TO_BE_ESTABLISHED = 0x3e;

/** Words for whatever a stack rejected with (an Error, a string, a status number, nothing). */
export const describeCause = (e: unknown): string => {
  if (e instanceof Error) return e.message || e.name;
  if (typeof e === 'string' && e !== '') return e;
  if (typeof e === 'number') return `HCI status 0x${e.toString(16).padStart(2, '0')}`;
  if (e === undefined || e === null || e === '') return 'the stack gave no reason';
  try {
    return JSON.stringify(e);
  } catch {
    return Object.prototype.toString.call(e);
  }
};

/**
 * The HCI status of a failed LE Connection Complete as noble reports it: an Error whose message
 * ends "(0x3e)" (noble keeps only text). Read once here, at the adapter boundary.
 */
export const hciStatusOfNobleError = (e: unknown): number | undefined => {
  const m = e instanceof Error ? /\(0x([0-9a-f]{1,2})\)\s*$/i.exec(e.message) : null;
  return m ? Number.parseInt(m[1] as string, 16) : undefined;
};

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Options for `withBindings('hci', …)` of @stoprocent/noble. */
export const nobleBindingOptions = (t: HciTransport): Record<string, unknown> => {
  switch (t.transport) {
    case 'uart':
      return {
        hciDriver: 'uart',
        bindParams: { uart: { port: t.path, ...(t.baudRate ? { baudRate: t.baudRate } : {}) } },
      };
    case 'socket':
      return {
        hciDriver: 'native',
        deviceId: t.deviceId,
        ...(t.userChannel !== undefined ? { userChannel: t.userChannel } : {}),
      };
  }
};

/**
 * noble's HCI bindings print their adapter-state warnings with console.log (on standard output,
 * into --json output too) every time the state is reported, before any caller could say it
 * better. The adapter reports those states itself (ADAPTER_STATE_TEXT, in its error), so these
 * lines, and only these, are dropped. Installed once per process, by the first NobleCentral.
 */
const NOBLE_STATE_WARNING =
  /^(noble warning: adapter (state unauthorized|does not support Bluetooth Low Energy)|\s+(Try to run with environment variable:|\[sudo\] NOBLE_HCI_DEVICE_ID=|or see README for information on running without root|https:\/\/github\.com\/sandeepmistry\/noble#running-on-linux))/;
export const isNobleStateWarning = (line: string): boolean => NOBLE_STATE_WARNING.test(line);
let nobleWarningsQuiet = false;
export function quietNobleStateWarnings(): void {
  if (nobleWarningsQuiet) return;
  nobleWarningsQuiet = true;
  const log = console.log.bind(console);
  console.log = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && isNobleStateWarning(args[0])) return;
    log(...args);
  };
}

/** Adapter states that do not change by waiting, in words. */
export const ADAPTER_STATE_TEXT: Readonly<Record<string, string>> = {
  unsupported: 'no Bluetooth LE adapter there (noble: adapter state unsupported)',
  unauthorized: 'not allowed to use the adapter (noble: adapter state unauthorized)',
};

const withTimeout = <T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });

export class NobleCentral implements BleCentral {
  private readonly noble: Noble;
  private readonly seen = new Map<string, Peripheral>();
  private readonly links = new Set<NobleLink>();
  private poweredOn: Promise<void> | undefined;

  constructor(private readonly options: NobleCentralOptions) {
    quietNobleStateWarnings();
    this.noble = options.noble ?? withBindings('hci', nobleBindingOptions(options.hci) as never);
  }

  /**
   * Waits for the adapter to power on; an adapter that reports a state waiting cannot change
   * (unsupported, unauthorized) fails at once rather than at the timeout.
   */
  private ready(): Promise<void> {
    if (this.poweredOn) return this.poweredOn;
    let onState: ((state: string) => void) | undefined;
    const refused = new Promise<never>((_, reject) => {
      onState = (state: string) => {
        const text = ADAPTER_STATE_TEXT[state];
        if (text) reject(new BleCentralError('adapter_unavailable', `BLE adapter not powered on: ${text}`));
      };
      this.noble.on('stateChange', onState);
      onState(this.noble.state);
    });
    const waiting = this.noble.waitForPoweredOnAsync(this.options.poweredOnTimeoutMs ?? 10_000);
    waiting.catch(() => undefined);
    this.poweredOn = Promise.race([waiting, refused])
      .finally(() => this.noble.removeListener('stateChange', onState!))
      .catch((error: unknown) => {
        this.poweredOn = undefined;
        if (error instanceof BleCentralError) throw error;
        throw new BleCentralError(
          'adapter_unavailable',
          `BLE adapter not powered on (state ${this.noble.state})`,
          { cause: error },
        );
      });
    return this.poweredOn;
  }

  /** Brings the adapter up (HCI reset and setup) ahead of the first scan; scan does it too. */
  async powerOn(): Promise<void> {
    await this.ready();
  }

  async scan(options: ScanOptions): Promise<Advertisement[]> {
    await this.ready();
    const found = new Map<string, Advertisement>();
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const onDiscover = (p: Peripheral): void => {
      const name = p.advertisement.localName;
      if (!name) return; // noble reports after the scan response; no name = not a till we can pick
      if (
        !(p.advertisement.serviceUuids ?? [])
          .map((u) => u.replace(/-/g, '').toLowerCase())
          .includes(GATT.service)
      )
        return;
      this.seen.set(p.id, p);
      found.set(p.id, { id: p.id, counterName: name, rssi: p.rssi });
      if (options.counterName !== undefined && name === options.counterName) finish();
    };
    this.noble.on('discover', onDiscover);
    const timer = setTimeout(finish, options.timeoutMs);
    try {
      await this.noble.startScanningAsync([GATT.service], false);
      await done;
    } finally {
      clearTimeout(timer);
      this.noble.removeListener('discover', onDiscover);
      await this.noble.stopScanningAsync().catch(() => undefined);
    }
    return [...found.values()];
  }

  async connect(id: string, options?: { timeoutMs?: number }): Promise<CentralLink> {
    await this.ready();
    const p = this.seen.get(id);
    if (!p) throw new BleCentralError('unknown_device', `device ${id} was not seen in a scan`);
    const timeoutMs = options?.timeoutMs ?? 10_000;
    const deadline = performance.now() + timeoutMs;
    const maxAttempts = Math.max(1, this.options.connectAttempts ?? 3);
    let backoff = this.options.connectBackoffMs ?? 150;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.connectOnce(
          id,
          p,
          Math.max(1, Math.round(deadline - performance.now())),
          timeoutMs,
        );
      } catch (error) {
        if (!(error instanceof BleCentralError) || error.code !== 'connect_failed') throw error;
        const left = deadline - performance.now();
        if (attempt >= maxAttempts || left <= backoff + 50) {
          const status = error.hciStatus !== undefined ? ` (HCI ${hex2(error.hciStatus)})` : '';
          throw new BleCentralError(
            'connect_failed',
            `the connection to ${id} failed to be established${status}, ${attempt} ${attempt === 1 ? 'attempt' : 'attempts'}${attempt < maxAttempts ? ' before the deadline' : ''}: ${error.message}`,
            { cause: error, hciStatus: error.hciStatus, attempts: attempt },
          );
        }
        await sleep(backoff);
        backoff *= 2;
      }
    }
  }

  private async connectOnce(
    id: string,
    p: Peripheral,
    timeoutMs: number,
    overallMs: number,
  ): Promise<CentralLink> {
    // A link lost while it is being set up (supervision timeout during discovery, the till gone)
    // ends the attempt at once, instead of a stack error or a wait for the timeout: 'connect_failed'
    // when the controller says it never got going (0x3E), else 'disconnected'.
    let onLost: ((reason: unknown) => void) | undefined;
    const lost = new Promise<never>((_, reject) => {
      onLost = (reason: unknown) => {
        const n = typeof reason === 'number' ? reason : Number.NaN;
        const hciStatus = Number.isInteger(n) ? n : undefined;
        const what = `${disconnectReason(reason)}${hciStatus !== undefined ? `, ${hex2(hciStatus)}` : ''}`;
        const code =
          hciStatus === HCI_CONNECTION_FAILED_TO_BE_ESTABLISHED ? 'connect_failed' : 'disconnected';
        reject(
          new BleCentralError(code, `the link to ${id} was lost while connecting (${what})`, { hciStatus }),
        );
      };
    });
    lost.catch(() => undefined);
    const setup = (async () => {
      try {
        await this.noble.connectAsync(id, { mtu: this.options.mtu ?? ATT_PREFERRED_MTU } as object);
      } catch (cause) {
        const hciStatus = hciStatusOfNobleError(cause);
        const code =
          hciStatus === HCI_CONNECTION_FAILED_TO_BE_ESTABLISHED ? 'connect_failed' : 'disconnected';
        throw new BleCentralError(code, `could not connect to ${id}: ${describeCause(cause)}`, {
          cause,
          hciStatus,
        });
      }
      p.once('disconnect', onLost!);
      // The MTU exchange is queued first on the ATT bearer; wait for its answer before any message.
      // Raced with the loss, so a failed attempt's setup does not wake up on the next link's MTU.
      if (p.mtu === null) await Promise.race([new Promise((r) => p.once('mtu', r)), lost]);
      const known = this.options.knownLayout === false ? undefined : await this.knownLayout(p);
      const characteristics =
        known ??
        (
          await p.discoverSomeServicesAndCharacteristicsAsync(
            [GATT.service],
            [GATT.write, GATT.notify, GATT.info],
          )
        ).characteristics;
      const byUuid = new Map(characteristics.map((c) => [c.uuid, c]));
      const write = byUuid.get(GATT.write);
      const notify = byUuid.get(GATT.notify);
      const info = byUuid.get(GATT.info);
      if (!write || !notify || !info)
        throw new BleCentralError('service_missing', `device ${id} lacks the bluetill characteristics`);
      // Known layout: the CCCD handle is known, and its Write Request goes out with the first
      // message (see NobleLink.write) instead of a round trip before it.
      const subscribe = known
        ? () => p.writeHandleAsync(BLUETILL_GATT_LAYOUT.notify.cccd, Buffer.from([0x01, 0x00]), false)
        : undefined;
      const link = new NobleLink(
        p,
        write,
        notify,
        info,
        known ? 'known_layout' : 'discovered',
        () => this.links.delete(link),
        subscribe,
      );
      if (!known) await notify.subscribeAsync();
      p.removeListener('disconnect', onLost!);
      return link;
    })();
    const connecting = Promise.race([setup, lost]).catch((error: unknown) => {
      p.removeListener('disconnect', onLost!);
      if (error instanceof BleCentralError) throw error;
      throw new BleCentralError(
        'disconnected',
        `could not set up the link to ${id}: ${describeCause(error)}`,
        { cause: error },
      );
    });
    try {
      const link = await withTimeout(
        connecting,
        timeoutMs,
        () => new BleCentralError('connect_timeout', `no connection to ${id} within ${overallMs} ms`),
      );
      this.links.add(link);
      return link;
    } catch (error) {
      if (error instanceof BleCentralError && error.code === 'connect_timeout') {
        setup.then((l) => l.disconnect()).catch(() => undefined);
        if (p.state === 'connecting') this.noble.cancelConnect(id);
        else if (p.state === 'connected') await p.disconnectAsync().catch(() => undefined);
      } else if (p.state === 'connected') {
        await p.disconnectAsync().catch(() => undefined);
      }
      throw error;
    }
  }

  /**
   * Reads the till's Database Hash at the bluetill layout's handle. Equal to the layout's hash:
   * the layout's characteristics, registered in noble's GATT cache (so writes, reads and
   * notifications work as after discovery). Anything else (another value, an ATT error, which
   * noble reports as an empty value): undefined, and the caller discovers.
   */
  private async knownLayout(p: Peripheral): Promise<Characteristic[] | undefined> {
    const L = BLUETILL_GATT_LAYOUT;
    const hash = await p.readHandleAsync(L.databaseHash.value);
    if (!equalBytes(new Uint8Array(hash), L.hash)) return undefined;
    const cache = this.noble as unknown as NobleGattCache;
    cache.addServices(p.id, [{ uuid: GATT.service, startHandle: L.service.start, endHandle: L.service.end }]);
    // Numeric properties, as noble's own discovery stores them at the GATT layer.
    return cache.addCharacteristics(p.id, GATT.service, [
      {
        uuid: GATT.write,
        startHandle: L.write.declaration,
        valueHandle: L.write.value,
        endHandle: L.notify.declaration - 1,
        properties: CHAR_PROP.write | CHAR_PROP.writeWithoutResponse,
      },
      {
        uuid: GATT.notify,
        startHandle: L.notify.declaration,
        valueHandle: L.notify.value,
        endHandle: L.info.declaration - 1,
        properties: CHAR_PROP.notify,
      },
      {
        uuid: GATT.info,
        startHandle: L.info.declaration,
        valueHandle: L.info.value,
        endHandle: L.databaseHash.declaration - 1,
        properties: CHAR_PROP.read,
      },
    ]);
  }

  async close(): Promise<void> {
    await Promise.all([...this.links].map((l) => l.disconnect()));
    this.noble.stop();
  }
}

class NobleLink implements CentralLink {
  private readonly valueHandlers: Array<(value: Uint8Array) => void> = [];
  private readonly disconnectHandlers: Array<(reason: string) => void> = [];
  private readonly early: Uint8Array[] = [];
  private reason: string | undefined;
  private readonly gone: Promise<void>;
  private resolveGone!: () => void;

  constructor(
    private readonly peripheral: Peripheral,
    private readonly writeChar: Characteristic,
    notifyChar: Characteristic,
    private readonly infoChar: Characteristic,
    /** How the handles were found: the known bluetill layout, or discovery. */
    readonly gattSetup: GattSetup,
    private readonly onGone: () => void,
    /** The NOTIFY subscription still to write (known layout); undefined when already subscribed. */
    private subscribe?: () => Promise<unknown>,
  ) {
    this.gone = new Promise((r) => (this.resolveGone = r));
    // Subscribe even if no message is written in this turn of the event loop.
    if (subscribe) setImmediate(() => this.startSubscription());
    notifyChar.on('data', (data: Buffer) => {
      const v = new Uint8Array(data);
      if (this.valueHandlers.length === 0) this.early.push(v);
      else for (const h of this.valueHandlers) h(v);
    });
    peripheral.once('disconnect', (reason: unknown) => this.closed(disconnectReason(reason)));
  }

  get mtu(): number {
    return this.peripheral.mtu ?? ATT_DEFAULT_MTU;
  }

  async write(value: Uint8Array, options?: { unacknowledged?: boolean }): Promise<void> {
    this.assertOpen();
    if (value.length > this.mtu - 3)
      throw new BleCentralError(
        'value_too_long',
        `value of ${value.length} bytes exceeds MTU ${this.mtu} - 3`,
      );
    // Write Request: acknowledged by the till's ATT layer. Write Command (without response):
    // queued behind the earlier ones on the same bearer, so order is kept.
    const unacknowledged = options?.unacknowledged === true;
    // The subscription's Write Request goes right after the first message when that is a Write
    // Command (ATT lets commands go while a request waits, noble does not: a command queued after
    // a request waits for its response), so both leave in one connection event and the till
    // answers the message once subscribed (it holds notifications until then).
    if (!unacknowledged) this.startSubscription();
    const written = this.orDisconnect(this.writeChar.writeAsync(Buffer.from(value), unacknowledged));
    this.startSubscription();
    await written;
  }

  /** Writes the NOTIFY CCCD once; if the till refuses it, the link ends with that reason. */
  private startSubscription(): void {
    const subscribe = this.subscribe;
    if (!subscribe || this.reason !== undefined) return;
    this.subscribe = undefined;
    this.orDisconnect(subscribe()).catch((error: unknown) => {
      if (this.reason !== undefined) return;
      this.closed(`subscribe_failed (${(error as Error).message})`);
      this.peripheral.disconnect();
    });
  }

  async readInfo(): Promise<Uint8Array> {
    this.assertOpen();
    this.startSubscription(); // a request: the subscription's goes first
    return new Uint8Array(await this.orDisconnect(this.infoChar.readAsync()));
  }

  onValue(handler: (value: Uint8Array) => void): void {
    this.valueHandlers.push(handler);
    for (const v of this.early.splice(0)) handler(v);
  }

  onDisconnect(handler: (reason: string) => void): void {
    if (this.reason !== undefined) handler(this.reason);
    else this.disconnectHandlers.push(handler);
  }

  async disconnect(): Promise<void> {
    if (this.reason !== undefined) return;
    this.peripheral.disconnect();
    await Promise.race([this.gone, new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  private assertOpen(): void {
    if (this.reason !== undefined) throw new BleCentralError('disconnected', `link is gone (${this.reason})`);
  }

  private orDisconnect<T>(p: Promise<T>): Promise<T> {
    return Promise.race([
      p,
      this.gone.then(() => {
        throw new BleCentralError('disconnected', `link is gone (${this.reason})`);
      }),
    ]);
  }

  private closed(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.resolveGone();
    this.onGone();
    for (const h of this.disconnectHandlers.splice(0)) h(reason);
  }
}
