/**
 * The virtual controller with the REAL stacks: one @stoprocent/bleno peripheral and three
 * @stoprocent/noble centrals, each host in its own child process on its own pty (UART driver).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostChannel } from './test-support';
import { hostOnDevice, median } from './test-support';
import { VirtualRadio, type LinkInfo } from './virtual-radio';

const fixtures = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');

describe('virtual radio with real bleno + noble hosts', () => {
  let radio: VirtualRadio;
  let till: HostChannel;
  const hosts: HostChannel[] = [];
  const links: Array<['open' | 'close', LinkInfo]> = [];

  beforeAll(async () => {
    radio = await VirtualRadio.start({
      trace: process.env.RADIO_TRACE_DIR ? { dir: process.env.RADIO_TRACE_DIR } : true,
    });
    radio.onLink((event, link) => links.push([event, link]));
    till = hostOnDevice(radio, hosts, {
      fixture: join(fixtures, 'bleno-echo.host.ts'),
      device: { name: 'till', distanceM: 0 },
      env: { COUNTER_NAME: 'Counter 7' },
    });
    await till.next('ready');
  });

  afterAll(async () => {
    for (const h of hosts) await h.kill();
    await radio?.close();
  });

  it('three centrals scan, connect (MTU 247), subscribe, and each gets only its own notifications; a killed one is noticed', async () => {
    const phones = [1, 2, 3].map((i) => {
      return hostOnDevice(radio, hosts, {
        fixture: join(fixtures, 'noble-client.host.ts'),
        device: { name: `phone-${i}`, distanceM: i },
        env: { COUNTER_NAME: 'Counter 7', TAG: `p${i}`, WRITES: '6' },
      });
    });
    const done = await Promise.all(phones.map((p) => p.next('done', 25_000)));
    const found = await Promise.all(phones.map((p) => p.next('found')));

    const handles = new Set<string>();
    done.forEach((d, i) => {
      expect(d.mtu).toBe(247);
      expect(d.info).toBe('till:Counter 7');
      const echoes = d.echoes as string[];
      expect(echoes).toHaveLength(6);
      const handle = echoes[0]!.split(':')[0]!;
      handles.add(handle);
      echoes.forEach((e, k) => expect(e).toBe(`${handle}:p${i + 1}-${k}-${'x'.repeat(k * 40)}`));
    });
    expect(handles.size).toBe(3);
    expect(handles.has('0')).toBe(false);
    // RSSI by distance: 1 m -> -59, 2 m -> -65, 3 m -> -69
    expect(found.map((f) => f.rssi)).toEqual([-59, -65, -69]);
    expect(radio.links()).toHaveLength(3);

    // phones 1 and 2 disconnect; phone 3's process is killed.
    phones[0]!.send({ type: 'disconnect' });
    phones[1]!.send({ type: 'disconnect' });
    await Promise.all([phones[0]!.next('closed'), phones[1]!.next('closed')]);
    const tKill = performance.now();
    await phones[2]!.kill('SIGKILL');
    await till.next(
      (m) => m.type === 'disconnect' && till.messages.filter((x) => x.type === 'disconnect').length >= 3,
      5000,
    );
    const killNoticedMs = performance.now() - tKill;
    expect(radio.links()).toHaveLength(0);
    expect(links.filter(([e]) => e === 'close')).toHaveLength(3);

    const rtts = done.flatMap((d) => (d.rtts as number[]).slice(0, 4)); // values that fit 1 connection event
    const big = done.map((d) => (d.rtts as number[])[5]!);
    const times = done.map(
      (d) => d.times as { up: number; scan: number; connect: number; mtu: number; ready: number },
    );
    console.log(
      `[radio figures @30 ms] power-on ${median(times.map((t) => t.up)).toFixed(0)} ms, scan->found ${median(times.map((t) => t.scan)).toFixed(0)} ms, ` +
        `connect ${median(times.map((t) => t.connect)).toFixed(0)} ms, MTU ${median(times.map((t) => t.mtu)).toFixed(0)} ms, ` +
        `found->subscribed ${median(times.map((t) => t.ready)).toFixed(0)} ms, write+notify RTT median ${median(rtts).toFixed(1)} ms ` +
        `(small values), ${median(big).toFixed(1)} ms (206-byte values), kill noticed after ${killNoticedMs.toFixed(0)} ms`,
    );
    expect(median(rtts)).toBeGreaterThanOrEqual(30);
    expect(median(rtts)).toBeLessThan(200);
  });

  it('shaping with real stacks: the connection interval sets the round trip; a blacked-out link ends in a supervision timeout at both ends', async () => {
    const run = (name: string, intervalMs: number) => {
      return hostOnDevice(radio, hosts, {
        fixture: join(fixtures, 'noble-client.host.ts'),
        device: { name, distanceM: 1, shaping: { connectionIntervalMs: intervalMs } },
        env: { COUNTER_NAME: 'Counter 7', TAG: name, WRITES: '3' },
      });
    };
    const fast = run('fast', 7.5);
    const slow = run('slow', 100);
    const [f, sl] = await Promise.all([fast.next('done', 25_000), slow.next('done', 25_000)]);
    const rttFast = median(f.rtts as number[]);
    const rttSlow = median(sl.rtts as number[]);
    expect(
      radio
        .links()
        .map((l) => l.intervalMs)
        .sort((a, b) => a - b),
    ).toEqual([7.5, 100]);
    expect(rttFast).toBeLessThan(50);
    expect(rttSlow).toBeGreaterThanOrEqual(100);
    expect(rttSlow).toBeLessThan(600);

    const before = till.messages.filter((m) => m.type === 'disconnect').length;
    const t = performance.now();
    radio.setLinkShaping('till', 'slow', { lossRate: 1 });
    radio.setLinkShaping('till', 'fast', { lossRate: 1, supervisionTimeoutMs: 200 });
    const [gs, gf] = await Promise.all([slow.next('disconnected', 5000), fast.next('disconnected', 5000)]);
    const lossMs = performance.now() - t;
    expect(gs.reason).toBe('8');
    expect(gf.reason).toBe('8');
    await till.next(() => till.messages.filter((m) => m.type === 'disconnect').length === before + 2, 5000);
    console.log(
      `[radio figures] write+notify RTT median ${rttFast.toFixed(1)} ms @7.5 ms, ${rttSlow.toFixed(1)} ms @100 ms; blackout -> both disconnected (0x08) after ${lossMs.toFixed(0)} ms`,
    );
  });
});
