/**
 * The virtual radio in its own process (see radio-server.host.ts). A busy host process (crypto,
 * synchronous SQLite commits) then only delays its own host stack, as on real hardware, instead
 * of stalling every link's connection events.
 *
 * @example
 *   const radio = await RadioProcess.start({ trace: { dir: '/tmp/hci' } });
 *   const till = await radio.addDevice({ name: 'till' });   // till.ttyPath for the host's UART driver
 *   await radio.close();
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnHost } from './host-process';
import { RadioError, type RadioErrorCode } from './radio-error';
import type { DeviceOptions, RadioStats, VirtualRadioOptions } from './virtual-radio';
import type { LinkShaping } from './shaping';

export interface RemoteDevice {
  readonly name: string;
  readonly ttyPath: string;
  readonly address: string;
}

type Reply = { id: number; ok: boolean; result?: unknown; error?: { message: string; code?: string } };

export class RadioProcess {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: Reply | { ready: true }) => {
      if (!('id' in m)) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok) p?.resolve(m.result);
      else
        p?.reject(
          new RadioError(
            (m.error?.code ?? 'host_exited') as RadioErrorCode,
            m.error?.message ?? 'radio error',
          ),
        );
    });
    child.once('exit', () => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new RadioError('radio_closed', 'radio process exited'));
      this.pending.clear();
    });
  }

  static async start(options: VirtualRadioOptions = {}): Promise<RadioProcess> {
    const entry = fileURLToPath(new URL('./radio-server.host.ts', import.meta.url));
    const child = spawnHost(entry, {
      env: { BLUETILL_RADIO_OPTIONS: JSON.stringify(options) },
      label: 'radio',
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`radio process exited (${code}) before it was ready`)));
    });
    return new RadioProcess(child);
  }

  private call<T>(req: Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(new RadioError('radio_closed', 'radio process is gone'));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, ...req });
    });
  }

  addDevice(options: DeviceOptions): Promise<RemoteDevice> {
    return this.call({ op: 'addDevice', options });
  }

  removeDevice(name: string): Promise<void> {
    return this.call({ op: 'removeDevice', name });
  }

  setLinkShaping(a: string, b: string | undefined, shaping: LinkShaping): Promise<void> {
    return this.call({ op: 'setLinkShaping', a, ...(b ? { b } : {}), shaping });
  }

  stats(): Promise<RadioStats> {
    return this.call({ op: 'stats' });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    await this.call({ op: 'close' }).catch(() => undefined);
    if (!this.exited) this.child.kill();
  }
}
