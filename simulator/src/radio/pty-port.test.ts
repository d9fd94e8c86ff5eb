import { afterEach, describe, expect, it } from 'vitest';
import { openSync, closeSync, writeSync } from 'node:fs';
import tty from 'node:tty';
import { PtyPort } from './pty-port';

/** Opens the slave like serialport does (raw line discipline) and collects what it reads. */
const rawSlave = (path: string) => {
  const fd = openSync(path, 'r+');
  const stream = new tty.ReadStream(fd);
  stream.setRawMode(true);
  const got: Buffer[] = [];
  stream.on('data', (d: Buffer) => got.push(d));
  return { fd, stream, got: () => Buffer.concat(got) };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PtyPort', () => {
  const open: PtyPort[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
    for (const p of open.splice(0)) p.close();
  });

  it('carries every byte value both ways once the host has put the line in raw mode', async () => {
    const port = PtyPort.open();
    open.push(port);
    const fromHost: Buffer[] = [];
    port.onData((c) => fromHost.push(c));
    const slave = rawSlave(port.path);
    cleanups.push(() => slave.stream.destroy());
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    writeSync(slave.fd, all); // CR, LF, ^C, ^S, DEL ... must all arrive unchanged
    port.write(all);
    await sleep(100);
    expect(Buffer.concat(fromHost).toString('hex')).toBe(all.toString('hex'));
    expect(slave.got().toString('hex')).toBe(all.toString('hex'));
  });

  it('a stalled host (never reads) neither blocks the event loop nor another port', async () => {
    const stalled = PtyPort.open(64 * 1024);
    const healthy = PtyPort.open();
    open.push(stalled, healthy);
    const fd = openSync(stalled.path, 'r+'); // opened, never read
    cleanups.push(() => closeSync(fd));
    const chunk = Buffer.alloc(4096, 0x41);
    const t0 = performance.now();
    for (let i = 0; i < 512; i++) stalled.write(chunk); // 2 MiB toward a host that never reads
    expect(performance.now() - t0).toBeLessThan(500);
    const lag = await new Promise<number>((r) => {
      const t = performance.now();
      setTimeout(() => r(performance.now() - t - 10), 10);
    });
    expect(lag).toBeLessThan(100);
    expect(stalled.dropped).toBeGreaterThan(0);
    expect(stalled.backlog).toBeLessThanOrEqual(64 * 1024);

    const slave = rawSlave(healthy.path);
    cleanups.push(() => slave.stream.destroy());
    healthy.write(Buffer.from('040e0401030c00', 'hex'));
    await sleep(100);
    expect(slave.got().toString('hex')).toBe('040e0401030c00');
  });
});
