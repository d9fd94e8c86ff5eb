/**
 * Real BLE for the world: the virtual LE controller plays the radio (in its own process, as a
 * real controller is its own chip), the till runs the real bleno stack (BlenoPeripheral) and
 * every phone the real noble stack (NobleCentral), each on its own pseudo-terminal through the
 * stacks' UART HCI driver. Each phone gets a fresh device (its own controller and address) and
 * gives it back when it closes.
 */
import { BlenoPeripheral, type AclPolicy, type AclStats, type BlePeripheral } from '@bluetill/pos-terminal';
import { NobleCentral, type BleCentral, type CentralLink } from '@bluetill/phone-agent';
import type { VirtualRadioOptions } from '../radio/virtual-radio';
import type { ControllerProfile, LinkShaping } from '../radio/shaping';
import { RadioProcess } from '../radio/radio-process';
import type { PhoneDevice } from '../phone/phone-host';

export interface VirtualBleOptions extends VirtualRadioOptions {
  /**
   * Shaping of every phone's links (connection interval, latency, loss). Default: 30 ms interval,
   * LE Data Length Extension (251-byte LL payloads, as phones and controllers since BLE 4.2 negotiate).
   */
  readonly phoneShaping?: LinkShaping;
  /** LE ACL buffers of the till's controller, shared by all its phones (default 24: a multi-link controller). */
  readonly tillAclBuffers?: number;
  /** How the till shares its controller's ACL buffers between phones (default 'capped_fifo'; see pos-terminal's acl-scheduler.ts). */
  readonly aclPolicy?: AclPolicy;
  /** The till's controller profile (ACL buffer length and count; its count wins over tillAclBuffers). */
  readonly tillController?: ControllerProfile;
  /** Every phone's controller profile (e.g. one 192-byte ACL buffer, as small phone controllers have). */
  readonly phoneController?: ControllerProfile;
}

export class VirtualBle {
  private phones = 0;

  private constructor(
    readonly radio: RadioProcess,
    private readonly till: BlenoPeripheral,
    private readonly o: VirtualBleOptions,
  ) {}

  static async start(o: VirtualBleOptions = {}): Promise<VirtualBle> {
    // Every noble/bleno stack adds its own SIGINT handler; a fleet of phones in one process has many.
    process.setMaxListeners(Math.max(process.getMaxListeners(), 256));
    const radio = await RadioProcess.start(o);
    const device = await radio.addDevice({
      name: 'till',
      distanceM: 0,
      aclBuffers: o.tillAclBuffers ?? 24,
      ...o.tillController,
    });
    return new VirtualBle(
      radio,
      new BlenoPeripheral({
        hci: { transport: 'uart', path: device.ttyPath },
        ...(o.aclPolicy !== undefined ? { aclPolicy: o.aclPolicy } : {}),
      }),
      o,
    );
  }

  peripheral(): BlePeripheral {
    return this.till;
  }

  /** The till's ACL queue counters (packets sent, waits for a controller buffer). */
  tillAclStats(): AclStats | undefined {
    return this.till.aclStats;
  }

  /**
   * A new phone device (its own controller and pty on the radio) for a noble stack in another
   * process (PhoneHost); `release` removes it from the radio.
   */
  async phoneDevice(o: { distanceM?: number; shaping?: LinkShaping } = {}): Promise<PhoneDevice> {
    const { name, shaping, distanceM } = this.nextPhone(o);
    const d = await this.radio.addDevice({ name, distanceM, shaping, ...this.o.phoneController });
    return { ttyPath: d.ttyPath, release: () => this.radio.removeDevice(name).catch(() => undefined) };
  }

  /** A new phone: its own controller on the radio (made on first use) and its own noble stack. */
  central(
    o: { distanceM?: number; shaping?: LinkShaping } = {},
  ): BleCentral & { readonly deviceName: string } {
    const { name, shaping, distanceM } = this.nextPhone(o);
    let central: Promise<NobleCentral> | null = null;
    const get = () =>
      (central ??= this.radio
        .addDevice({ name, distanceM, shaping, ...this.o.phoneController })
        .then((d) => new NobleCentral({ hci: { transport: 'uart', path: d.ttyPath } })));
    const radio = this.radio;
    return {
      deviceName: name,
      scan: async (s) => (await get()).scan(s),
      connect: async (id, c): Promise<CentralLink> => (await get()).connect(id, c),
      async close() {
        if (!central) return;
        await (await central).close().catch(() => undefined);
        await radio.removeDevice(name).catch(() => undefined);
      },
    };
  }

  private nextPhone(o: { distanceM?: number; shaping?: LinkShaping }): {
    name: string;
    shaping: LinkShaping;
    distanceM: number;
  } {
    const name = `phone-${++this.phones}`;
    // Phones negotiate LE Data Length Extension (251-byte LL payloads) unless told otherwise.
    return {
      name,
      shaping: { llPayloadBytes: 251, ...(o.shaping ?? this.o.phoneShaping) },
      distanceM: o.distanceM ?? 1 + (this.phones % 5),
    };
  }

  async close(): Promise<void> {
    await this.till.stop().catch(() => undefined);
    await this.radio.close();
  }
}
