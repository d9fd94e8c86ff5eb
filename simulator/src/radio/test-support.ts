/** Helpers for tests that run host stacks in child processes. */
import type { ChildProcess } from 'node:child_process';
import { spawnHost } from './host-process';
import type { DeviceOptions, VirtualRadio } from './virtual-radio';

export interface HostMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** Collects every IPC message of a child; `next` waits for one matching the predicate. */
export class HostChannel {
  readonly messages: HostMessage[] = [];
  private waiters: Array<{ match: (m: HostMessage) => boolean; resolve: (m: HostMessage) => void }> = [];

  constructor(readonly child: ChildProcess) {
    child.on('message', (raw) => {
      const m = raw as HostMessage;
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  next(type: string | ((m: HostMessage) => boolean), timeoutMs = 15_000): Promise<HostMessage> {
    const match = typeof type === 'string' ? (m: HostMessage) => m.type === type || m.type === 'error' : type;
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timeout waiting for ${String(type)}; got ${JSON.stringify(this.messages)}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          if (m.type === 'error') reject(new Error(String(m.message)));
          else resolve(m);
        },
      });
    });
  }

  send(message: HostMessage): void {
    if (this.child.connected) this.child.send(message);
  }

  /** Kills the child (if alive) and waits for its exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] ?? NaN);
};

/**
 * A host stack on a new device of the radio: adds the device, runs the fixture in a child with
 * HCI_PORT set to the device's pty, lets the radio watch the child, and keeps its channel in `hosts`.
 */
export function hostOnDevice(
  radio: VirtualRadio,
  hosts: HostChannel[],
  o: { fixture: string; device: DeviceOptions; env?: Record<string, string> },
): HostChannel {
  const dev = radio.addDevice(o.device);
  const child = spawnHost(o.fixture, { env: { HCI_PORT: dev.ttyPath, ...o.env }, label: o.device.name });
  dev.watch(child);
  const channel = new HostChannel(child);
  hosts.push(channel);
  return channel;
}
