/**
 * The till's BLE peripheral, at the level of ATT values, serving many centrals at once.
 * Adapters: bleno (real stack, over HCI socket, UART or the simulator's virtual controller)
 * and in-memory. Framing and the secure channel are done above, per connection.
 *
 * @example
 *   peripheral.onConnect((link) => sessions.open(link));
 *   await peripheral.start({ counterName: 'Counter 1', info });
 */
export interface PeripheralOptions {
  /** Shown in advertising; phones pick a till by it. */
  readonly counterName: string;
  /** Value of the INFO characteristic. */
  readonly info: Uint8Array;
}

export interface BlePeripheral {
  /** Starts advertising and serving; resolves once advertising. */
  start(options: PeripheralOptions): Promise<void>;
  /** A new central connected (MTU may still grow until its first write). */
  onConnect(handler: (link: PeripheralLink) => void): void;
  stop(): Promise<void>;
}

export interface PeripheralLink {
  /** Unique per connection for the life of the peripheral. */
  readonly id: string;
  /** Current ATT MTU of this connection; values are at most mtu − 3 bytes. */
  readonly mtu: number;
  /** Each value written to WRITE by this central, in order. */
  onValue(handler: (value: Uint8Array) => void): void;
  /** Sends one NOTIFY value to this central only. */
  notify(value: Uint8Array): Promise<void>;
  onDisconnect(handler: (reason: string) => void): void;
  disconnect(): Promise<void>;
}
