import type { BlePeripheral } from '../../common/ports/ble-peripheral';

/** `--ble none`: a till with no radio (UI, catalog and receipts work; no phone can connect). */
export class NoBlePeripheral implements BlePeripheral {
  async start(): Promise<void> {}
  onConnect(): void {}
  async stop(): Promise<void> {}
}
