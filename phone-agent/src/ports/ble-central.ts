/**
 * The phone's BLE central, at the level of ATT values: adapters (noble, in-memory) deliver
 * and send single characteristic values; framing and encryption happen above, in the core.
 *
 * @example
 *   const found = await central.scan({ timeoutMs: 5000 });
 *   const link = await central.connect(found[0].id);   // MTU exchanged, NOTIFY subscribed (or on its way)
 *   link.onValue((v) => reassembler.push(v));
 *   await link.write(fragment);                        // fragment.length <= link.mtu - 3
 */
export interface Advertisement {
  /** Opaque id to pass to connect(). */
  readonly id: string;
  readonly counterName: string;
  readonly rssi: number;
}

export interface ScanOptions {
  readonly timeoutMs: number;
  /** Stop early once a till with this counter name is seen. */
  readonly counterName?: string;
}

export interface BleCentral {
  /** Scans for bluetill tills until the timeout (or the named counter is seen); never hangs. */
  scan(options: ScanOptions): Promise<Advertisement[]>;
  /**
   * Connects, exchanges the MTU, finds the service and subscribes to NOTIFY. The subscription may
   * still be on its way with the first value written (the till then holds its notifications
   * until it arrives); every NOTIFY value reaches onValue either way.
   */
  connect(id: string, options?: { timeoutMs?: number }): Promise<CentralLink>;
  close(): Promise<void>;
}

export interface CentralLink {
  /** Negotiated ATT MTU; values are at most mtu − 3 bytes. */
  readonly mtu: number;
  /**
   * Writes one value to the WRITE characteristic: a Write Request, acknowledged by the till, or
   * with `unacknowledged` a Write Without Response (resolves once the stack has queued it).
   */
  write(value: Uint8Array, options?: { unacknowledged?: boolean }): Promise<void>;
  /** Reads the INFO characteristic. */
  readInfo(): Promise<Uint8Array>;
  /** Each NOTIFY value, in order. */
  onValue(handler: (value: Uint8Array) => void): void;
  /** Called once when the link is gone (either side, or supervision timeout). */
  onDisconnect(handler: (reason: string) => void): void;
  disconnect(): Promise<void>;
}

/** Why a scan, a connection or a write failed; adapters throw it, the core and the hosts read `code`. */
export type BleCentralErrorCode =
  | 'adapter_unavailable'
  | 'unknown_device'
  | 'connect_timeout'
  | 'connect_failed'
  | 'service_missing'
  | 'disconnected'
  | 'value_too_long';

export class BleCentralError extends Error {
  override readonly name = 'BleCentralError';
  /** The HCI status or disconnection reason behind it, when the controller gave one (0x3E, 0x08, …). */
  readonly hciStatus: number | undefined;
  /** Connection attempts made, for connect_failed. */
  readonly attempts: number | undefined;
  constructor(
    readonly code: BleCentralErrorCode,
    message: string,
    options?: { cause?: unknown; hciStatus?: number | undefined; attempts?: number | undefined },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.hciStatus = options?.hciStatus;
    this.attempts = options?.attempts;
  }
}
