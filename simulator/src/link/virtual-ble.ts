/**
 * Real BLE for the world: the virtual LE controller plays the radio, the till runs the real
 * bleno stack (BlenoPeripheral) and every phone the real noble stack (NobleCentral), each on its
 * own pseudo-terminal through the stacks' UART HCI driver. All in this process; each phone gets a
 * fresh device (its own controller and address) and gives it back when it closes.
 */
import { BlenoPeripheral, type BlePeripheral } from '@bluetill/pos-terminal';
import { NobleCentral, type BleCentral } from '@bluetill/phone-agent';
import { VirtualRadio, type VirtualRadioOptions } from '../radio/virtual-radio';
import type { LinkShaping } from '../radio/shaping';

export interface VirtualBleOptions extends VirtualRadioOptions {
  /** Shaping of every phone's links (connection interval, latency, loss); default 30 ms interval. */
  readonly phoneShaping?: LinkShaping;
}

export class VirtualBle {
  private phones = 0;
  private tillPeripheral: BlenoPeripheral | null = null;

  private constructor(
    readonly radio: VirtualRadio,
    private readonly o: VirtualBleOptions,
  ) {}

  static async start(o: VirtualBleOptions = {}): Promise<VirtualBle> {
    // Every noble/bleno stack adds its own SIGINT handler; a fleet of phones in one process has many.
    process.setMaxListeners(Math.max(process.getMaxListeners(), 256));
    return new VirtualBle(await VirtualRadio.start(o), o);
  }

  peripheral(): BlePeripheral {
    if (!this.tillPeripheral) {
      const device = this.radio.addDevice({ name: 'till', distanceM: 0 });
      this.tillPeripheral = new BlenoPeripheral({ hci: { transport: 'uart', path: device.ttyPath } });
    }
    return this.tillPeripheral;
  }

  /** A new phone: its own controller on the radio and its own noble stack. */
  central(o: { distanceM?: number; shaping?: LinkShaping } = {}): BleCentral & { readonly deviceName: string } {
    const name = `phone-${++this.phones}`;
    const shaping = o.shaping ?? this.o.phoneShaping;
    const device = this.radio.addDevice({ name, distanceM: o.distanceM ?? 1 + (this.phones % 5), ...(shaping ? { shaping } : {}) });
    const central = new NobleCentral({ hci: { transport: 'uart', path: device.ttyPath } });
    const radio = this.radio;
    return {
      deviceName: name,
      scan: (s) => central.scan(s),
      connect: (id, c) => central.connect(id, c),
      async close() {
        await central.close().catch(() => undefined);
        radio.removeDevice(name);
      },
    };
  }

  async close(): Promise<void> {
    await this.tillPeripheral?.stop().catch(() => undefined);
    await this.radio.close();
  }
}
