/**
 * A pseudo-terminal for one simulated device. The host stack opens `path` (the slave) as its
 * UART; the radio reads and writes the master without blocking. This process keeps its own
 * slave descriptor open (never read) so a host closing or dying never hangs up the master and a
 * new host can open the same path later; host death is therefore detected by watching the host
 * process (see VirtualDevice.watch), not by the pty.
 *
 * Writes never go through the tty stream: libuv treats a pty master as a blocking-write tty and,
 * with the fd non-blocking (node-pty's openpty sets O_NONBLOCK), busy-loops on EAGAIN when the
 * host stops reading, freezing the whole radio. Instead each port has its own queue drained with
 * non-blocking write(2); on EAGAIN it retries a few ms later, for that port only.
 */
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import tty from 'node:tty';
import { RadioError } from './radio-error';

interface NativePty {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
}

const require = createRequire(import.meta.url);
let native: NativePty | undefined;
const loadNative = (): NativePty => {
  if (!native) {
    // @lydell/node-pty's own openpty binding: UnixTerminal.open would also start reading the
    // slave (stealing the host's bytes) and decode the master as UTF-8.
    const entry = require.resolve('@lydell/node-pty');
    const local = createRequire(entry);
    native = local(`@lydell/node-pty-${process.platform}-${process.arch}/pty.node`) as NativePty;
  }
  return native;
};

/**
 * Puts the line in raw mode (no echo, no canonical input, no output processing such as
 * LF -> CR LF) so a host that does not configure termios fully still sees clean H4. serialport
 * sets raw mode itself on open; this is belt and braces. Best effort: skipped without stty.
 */
const makeRaw = (path: string): void => {
  try {
    execFileSync('stty', ['-F', path, 'raw', '-echo', '-echoe', '-echok', '-echoctl', '-echoke'], {
      stdio: 'ignore',
      timeout: 2000,
    });
  } catch {
    // no stty: rely on the host's serial library
  }
};

export class PtyPort {
  private readonly master: tty.ReadStream;
  private readonly masterFd: number;
  private readonly slaveFd: number;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Bytes dropped because the host stopped reading (backlog over the limit). */
  dropped = 0;

  private constructor(
    readonly path: string,
    masterFd: number,
    slaveFd: number,
    private readonly maxBacklog: number,
  ) {
    this.slaveFd = slaveFd;
    this.masterFd = masterFd;
    this.master = new tty.ReadStream(masterFd);
    this.master.on('error', () => {
      // EIO when no slave is open cannot happen (we hold one); other errors end the port.
      this.close();
    });
  }

  static open(maxBacklog = 1 << 20): PtyPort {
    try {
      const t = loadNative().open(80, 24);
      makeRaw(t.pty);
      return new PtyPort(t.pty, t.master, t.slave, maxBacklog);
    } catch (error) {
      throw new RadioError('pty_open_failed', 'cannot open a pseudo-terminal', { cause: error });
    }
  }

  onData(handler: (chunk: Buffer) => void): void {
    this.master.on('data', (d: Buffer | string) =>
      handler(typeof d === 'string' ? Buffer.from(d, 'latin1') : d),
    );
  }

  /** Queues bytes for the host; never blocks. Drops (and counts) when the host is stalled. */
  write(bytes: Buffer): boolean {
    if (this.closed) return false;
    if (this.queued + bytes.length > this.maxBacklog) {
      this.dropped += bytes.length;
      return false;
    }
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (!this.retry) this.flush();
    return true;
  }

  /** Drops what is queued for a host that has gone (the next host must not read it). */
  discardQueued(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    this.queue.length = 0;
    this.queued = 0;
  }

  /** Bytes queued toward the host and not yet taken by the pty. */
  get backlog(): number {
    return this.queued;
  }

  private flush(): void {
    this.retry = undefined;
    while (!this.closed && this.queue.length > 0) {
      const head = this.queue[0]!;
      let n: number;
      try {
        n = writeSync(this.masterFd, head);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') {
          this.retry = setTimeout(() => this.flush(), 2);
          return;
        }
        this.close();
        return;
      }
      this.queued -= n;
      if (n < head.length) {
        this.queue[0] = head.subarray(n);
        this.retry = setTimeout(() => this.flush(), 2);
        return;
      }
      this.queue.shift();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.queue.length = 0;
    this.queued = 0;
    this.master.destroy();
    try {
      closeSync(this.slaveFd);
    } catch {
      // already closed
    }
  }
}
