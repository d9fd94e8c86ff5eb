/**
 * A text trace of one device's HCI traffic (pcap-like: time, direction, type, hex), kept in a
 * bounded ring and optionally appended to a file `<dir>/<device>.hci.log`.
 *
 *   +   12.345 H>C CMD reset 01030c00
 *   +   12.410 C>H EVT 0x0e 040e0401030c00
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface TraceOptions {
  /** Directory for one log file per device. */
  readonly dir?: string;
  /** Lines kept in memory per device. Default 2000. */
  readonly keep?: number;
  /** Called with every line (e.g. console.log). */
  readonly sink?: (line: string) => void;
}

export class Trace {
  private readonly lines: string[] = [];
  private readonly file: string | undefined;
  private readonly keep: number;

  constructor(
    readonly device: string,
    private readonly t0: number,
    private readonly options: TraceOptions | undefined,
  ) {
    this.keep = options?.keep ?? 2000;
    if (options?.dir) {
      mkdirSync(options.dir, { recursive: true });
      this.file = join(options.dir, `${device.replace(/[^A-Za-z0-9_.-]/g, '_')}.hci.log`);
    }
  }

  get enabled(): boolean {
    return this.options !== undefined;
  }

  /** direction: 'H>C' host to controller, 'C>H' controller to host, '---' a note. */
  log(direction: 'H>C' | 'C>H' | '---', what: string, bytes?: Buffer): void {
    if (!this.options) return;
    const t = (performance.now() - this.t0).toFixed(3).padStart(10);
    const hex = bytes
      ? ` ${bytes.length > 64 ? `${bytes.subarray(0, 64).toString('hex')}…(${bytes.length})` : bytes.toString('hex')}`
      : '';
    const line = `+${t} ${direction} ${what}${hex}`;
    this.lines.push(line);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
    if (this.file) appendFileSync(this.file, `${line}\n`);
    this.options.sink?.(`[${this.device}] ${line}`);
  }

  snapshot(): readonly string[] {
    return [...this.lines];
  }
}
