/**
 * A pcscd with the vpcd virtual reader, for tests that need real PC/SC.
 *
 * `ensurePcscd()` reuses a running pcscd (a system one, a systemd-activated socket, or one an
 * earlier test fork started) or starts `pcscd --foreground` as a detached child, then waits
 * until pcscd lists the vpcd readers ("Virtual PCD 00 00", "Virtual PCD 00 01": FRIENDLYNAME
 * from /etc/reader.conf.d/vpcd plus reader and slot numbers; slot n listens on TCP 35963 + n).
 *
 * Parallel test files (vitest forks) share one pcscd:
 * - starting is serialized by a file lock in $TMPDIR/bluetill-pcscd/start.lock;
 * - each caller holds a lease file (lease-<pid>-<n>) until `release()`;
 * - the pcscd we started (pid in pcscd.pid) is stopped by the last release (leases of dead
 *   processes do not count); a pcscd we did not start is never stopped.
 * A vpcd slot is a separate resource: see pcsc-vpcd-slot.ts.
 *
 * Failures are PcscdError with a `code` and a message that says what to do; tests must let it
 * fail the run, never skip.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pcsclite from '@pokusew/pcsclite';
import { acquireFileLock, isAlive } from './pcsc-file-lock';

export const VPCD_READER_PREFIX = 'Virtual PCD';
export const VPCD_BASE_PORT = 0x8c7b; // CHANNELID in /etc/reader.conf.d/vpcd
export const STATE_DIR = join(tmpdir(), 'bluetill-pcscd');

export type PcscdErrorCode = 'not_installed' | 'cannot_start' | 'no_vpcd_reader' | 'timeout';

export class PcscdError extends Error {
  constructor(
    readonly code: PcscdErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PcscdError';
  }
}

export interface PcscdLease {
  /** vpcd reader names, index = slot. */
  readonly vpcdReaders: readonly string[];
  /** This call started pcscd. */
  readonly startedHere: boolean;
  /** Time from the call until the vpcd readers were listed. */
  readonly readyMs: number;
  release(): Promise<void>;
}

let leaseCounter = 0;

export function pcscdSocketPath(): string {
  return process.env.PCSCLITE_CSOCK_NAME ?? '/run/pcscd/pcscd.comm';
}

export async function ensurePcscd(options: { timeoutMs?: number } = {}): Promise<PcscdLease> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const began = Date.now();
  mkdirSync(STATE_DIR, { recursive: true });
  const unlock = await acquireFileLock(join(STATE_DIR, 'start.lock'), {
    timeoutMs,
    what: 'another test starting pcscd',
  }).catch((error: unknown) => {
    throw new PcscdError('timeout', (error as Error).message, { cause: error });
  });
  const leasePath = join(STATE_DIR, `lease-${process.pid}-${++leaseCounter}`);
  let startedHere = false;
  try {
    writeFileSync(leasePath, '');
    if (!(await socketAnswers(pcscdSocketPath()))) {
      await startPcscd(began + timeoutMs);
      startedHere = true;
    }
    const vpcdReaders = await waitForVpcdReaders(began + timeoutMs, startedHere);
    let released = false;
    return {
      vpcdReaders,
      startedHere,
      readyMs: Date.now() - began,
      release: async () => {
        if (released) return;
        released = true;
        await releaseLease(leasePath);
      },
    };
  } catch (error) {
    unlinkQuietly(leasePath);
    throw error;
  } finally {
    unlock();
  }
}

async function startPcscd(deadline: number): Promise<void> {
  const logPath = join(STATE_DIR, 'pcscd.log');
  const log = openSync(logPath, 'w');
  const child = spawn('pcscd', ['--foreground', '--info'], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error) => resolve(error));
  });
  if (spawned) {
    throw new PcscdError(
      'not_installed',
      'pcscd is not running and the pcscd binary was not found: run scripts/setup-system.sh (Debian packages pcscd vsmartcard-vpcd)',
      { cause: spawned },
    );
  }
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code));
  child.unref();
  writeFileSync(join(STATE_DIR, 'pcscd.pid'), String(child.pid));
  while (!(await socketAnswers(pcscdSocketPath()))) {
    if (exitCode !== undefined || Date.now() > deadline) {
      if (exitCode === undefined) child.kill('SIGTERM');
      unlinkQuietly(join(STATE_DIR, 'pcscd.pid'));
      const uid = process.getuid?.();
      throw new PcscdError(
        'cannot_start',
        `pcscd did not come up (${exitCode === undefined ? 'no socket at ' + pcscdSocketPath() : 'exited with ' + exitCode})` +
          (uid !== 0
            ? `; running as uid ${uid}: pcscd needs root to create /run/pcscd — run the tests as root or start the system pcscd (systemctl start pcscd.socket)`
            : '') +
          `\n--- ${logPath} ---\n${tail(logPath)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls pcscd's reader list (through pcsclite, as any client would) until the vpcd readers show. */
async function waitForVpcdReaders(deadline: number, startedHere: boolean): Promise<string[]> {
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = await listReaders(Math.min(1_000, Math.max(100, deadline - Date.now())), (names) =>
      names.some(isVpcd),
    );
    const vpcd = seen.filter(isVpcd).sort(bySlot);
    if (vpcd.length > 0) return vpcd;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new PcscdError(
    'no_vpcd_reader',
    `pcscd lists no "${VPCD_READER_PREFIX}" reader (readers: ${seen.length ? seen.join(', ') : 'none'}). ` +
      (startedHere
        ? `Is vsmartcard-vpcd installed (/etc/reader.conf.d/vpcd, /usr/lib/pcsc/drivers/serial/libifdvpcd.so)? See ${join(STATE_DIR, 'pcscd.log')}`
        : 'A pcscd was already running without the vpcd driver (started before vsmartcard-vpcd was installed?): restart it (systemctl restart pcscd, or kill it and let the tests start one).'),
  );
}

/**
 * Reader names pcscd reports within `windowMs` (sooner once `enough(names)` holds). Only call
 * while pcscd's socket answers: pcsclite's constructor spins until it reaches pcscd.
 */
export function listReaders(
  windowMs: number,
  enough: (names: string[]) => boolean = () => false,
): Promise<string[]> {
  return new Promise((resolve) => {
    const pcsc = pcsclite();
    const readers: PcscliteReader[] = [];
    let done = false;
    const finish = async () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      await closeReaders(readers);
      pcsc.close();
      resolve(readers.map((r) => r.name));
    };
    pcsc.on('reader', (reader) => {
      reader.on('error', () => {});
      readers.push(reader);
      // pcsclite announces one listing's readers in the same tick: decide after it.
      setImmediate(() => {
        if (enough(readers.map((r) => r.name))) finish();
      });
    });
    pcsc.on('error', () => {});
    const timer = setTimeout(finish, windowMs);
  });
}

type PcscliteReader = { name: string; state?: number; close(): void };

/**
 * Closes pcsclite readers without leaking their status thread: @pokusew/pcsclite's
 * CardReader.close() issued before the thread reported the first status leaves its uv_async
 * handle open and the process never exits. pcsclite sets `reader.state` after that first status.
 */
async function closeReaders(readers: PcscliteReader[]): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (readers.some((r) => typeof r.state !== 'number') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  for (const reader of readers) reader.close();
}

async function releaseLease(leasePath: string): Promise<void> {
  const unlock = await acquireFileLock(join(STATE_DIR, 'start.lock'), {
    timeoutMs: 20_000,
    what: 'the pcscd start lock',
  });
  try {
    unlinkQuietly(leasePath);
    const others = readdirSync(STATE_DIR).filter((f) => {
      const pid = /^lease-(\d+)-\d+$/.exec(f)?.[1];
      if (pid === undefined) return false;
      if (isAlive(Number(pid))) return true;
      unlinkQuietly(join(STATE_DIR, f));
      return false;
    });
    if (others.length > 0) return;
    const pidPath = join(STATE_DIR, 'pcscd.pid');
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(pidPath, 'utf8'), 10);
    } catch {
      return; // not ours: leave the system pcscd alone
    }
    unlinkQuietly(pidPath);
    if (!isAlive(pid) || !isPcscd(pid)) return;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 5_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  } finally {
    unlock();
  }
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function isPcscd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'pcscd';
  } catch {
    return true; // no /proc: trust the pid file
  }
}

function isVpcd(name: string): boolean {
  return name.startsWith(VPCD_READER_PREFIX);
}

/** "Virtual PCD 00 01" → slot 1 (the last number); the middle one is pcscd's reader index. */
function bySlot(a: string, b: string): number {
  return a.localeCompare(b);
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
