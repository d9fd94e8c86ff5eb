/**
 * The port adapters (pos-terminal BlenoPeripheral, phone-agent NobleCentral) over the virtual
 * controller, each host in its own child process: several centrals write and get their own
 * notifications through the ports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostChannel } from './test-support';
import { hostOnDevice, median } from './test-support';
import { VirtualRadio } from './virtual-radio';
import { BLUETILL_GATT_LAYOUT } from '@bluetill/protocol';

/**
 * The ATT requests (opcodes) a phone's host sent before its first write to the bluetill WRITE
 * characteristic, read from its controller's HCI trace (H4 ACL: 5 header bytes, 4 L2CAP bytes).
 */
const attRequestsBeforeFirstWrite = (trace: readonly string[]): number[] => {
  const requests: number[] = [];
  for (const line of trace) {
    const m = /H>C ACL h=\d+ pb=0 ([0-9a-f]+)/.exec(line);
    if (!m) continue;
    const pdu = Buffer.from(m[1]!, 'hex').subarray(9);
    const op = pdu[0]!;
    if ((op === 0x12 || op === 0x52) && pdu.readUInt16LE(1) === BLUETILL_GATT_LAYOUT.write.value) break;
    if (op !== 0x52 && op % 2 === 0) requests.push(op); // requests have even opcodes; commands are 0x52/0xd2
  }
  return requests;
};

const fixtures = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');

describe('BlenoPeripheral + NobleCentral adapters over the virtual radio', () => {
  let radio: VirtualRadio;
  let till: HostChannel;
  const hosts: HostChannel[] = [];

  const phone = (name: string, env: Record<string, string>, distanceM = 1): HostChannel =>
    hostOnDevice(radio, hosts, {
      fixture: join(fixtures, 'adapter-phone.host.ts'),
      device: { name, distanceM },
      env,
    });

  beforeAll(async () => {
    radio = await VirtualRadio.start({ trace: true });
    till = hostOnDevice(radio, hosts, {
      fixture: join(fixtures, 'adapter-till.host.ts'),
      device: { name: 'till', distanceM: 0 },
      env: { COUNTER_NAME: 'Counter 3' },
    });
    ready = await till.next('ready');
  });
  let ready: Record<string, unknown>;

  afterAll(async () => {
    for (const h of hosts) await h.kill();
    await radio?.close();
  });

  it('three centrals: scan by counter name, MTU 247 before the first message, own notifications only, onDisconnect once', async () => {
    const phones = [1, 2, 3].map((i) =>
      phone(`phone-${i}`, { COUNTER_NAME: 'Counter 3', TAG: `p${i}`, WRITES: '4' }, i),
    );
    const done = await Promise.all(phones.map((p) => p.next('done', 25_000)));
    const scanned = await Promise.all(phones.map((p) => p.next('scanned')));
    for (const s of scanned) {
      expect(s.found).toEqual([expect.objectContaining({ counterName: 'Counter 3' })]);
      expect(s.ms as number).toBeLessThan(2000); // stops early once the named counter is seen
    }
    const ids = new Set<string>();
    done.forEach((d, i) => {
      expect(d.mtu).toBe(247);
      expect(d.info).toBe('info:v1');
      expect(d.tooLong).toBe('value_too_long');
      const values = d.values as string[];
      const id = values[0]!.split('|')[0]!;
      ids.add(id);
      expect(values).toEqual([0, 1, 2, 3].map((k) => `${id}|p${i + 1}-${k}`));
    });
    expect(ids.size).toBe(3);
    // The till saw MTU 247 on each link before the first value.
    const firstValues = till.messages.filter((m) => m.type === 'value' && String(m.text).endsWith('-0'));
    expect(firstValues.map((m) => m.mtu)).toEqual([247, 247, 247]);

    phones.forEach((p) => p.send({ type: 'disconnect' }));
    const closed = await Promise.all(phones.map((p) => p.next('closed')));
    for (const c of closed) {
      expect(c.disconnects).toBe(1);
      expect(c.reasons).toEqual(['local_host_terminated']);
      expect(c.afterWrite).toBe('disconnected');
    }
    await till.next(() => till.messages.filter((m) => m.type === 'disconnect').length === 3);
    expect(till.messages.filter((m) => m.type === 'disconnect').map((m) => m.reason)).toEqual(
      Array(3).fill('remote_user_terminated'),
    );
    const rtts = done.flatMap((d) => d.rtts as number[]);
    console.log(
      `[adapter figures @30 ms] connect (scan end -> subscribed) median ${median(done.map((d) => d.connectMs as number)).toFixed(0)} ms, write->notify RTT median ${median(rtts).toFixed(1)} ms`,
    );
  });

  it("GATT setup: the till serves the bluetill layout's Database Hash; a phone uses it (3 requests) or, told not to, discovers (8)", async () => {
    // The hash over the table bleno really built equals the layout's: the layout is what is served.
    expect(ready.databaseHash).toBe(Buffer.from(BLUETILL_GATT_LAYOUT.hash).toString('hex'));
    const fast = phone('phone-layout', { COUNTER_NAME: 'Counter 3', TAG: 'l', WRITES: '2' });
    const slow = phone('phone-discover', {
      COUNTER_NAME: 'Counter 3',
      TAG: 'd',
      WRITES: '2',
      KNOWN_LAYOUT: '0',
    });
    const [f, d] = await Promise.all([fast.next('done', 25_000), slow.next('done', 25_000)]);
    for (const r of [f, d]) {
      expect(r.info).toBe('info:v1');
      expect((r.values as string[]).map((v) => v.split('|')[1])).toEqual(
        r === f ? ['l-0', 'l-1'] : ['d-0', 'd-1'],
      );
    }
    expect(f.gattSetup).toBe('known_layout');
    expect(d.gattSetup).toBe('discovered');
    // MTU, Read (hash), Write (CCCD) against MTU, 3 × Read By Group Type, 2 × Read By Type for the
    // characteristics (the 128-bit ones, then the 16-bit Database Hash), Read By Type (CCCD),
    // Write (CCCD); then each fixture reads INFO (Read) before it writes.
    expect(attRequestsBeforeFirstWrite(radio.device('phone-layout').traceLines())).toEqual([
      0x02, 0x0a, 0x12, 0x0a,
    ]);
    expect(attRequestsBeforeFirstWrite(radio.device('phone-discover').traceLines())).toEqual([
      0x02, 0x10, 0x10, 0x10, 0x08, 0x08, 0x08, 0x12, 0x0a,
    ]);
    console.log(
      `[gatt setup @30 ms] scan end -> subscribed: known layout ${(f.connectMs as number).toFixed(0)} ms, discovery ${(d.connectMs as number).toFixed(0)} ms`,
    );
    for (const p of [fast, slow]) p.send({ type: 'disconnect' });
    await Promise.all([fast.next('closed'), slow.next('closed')]);
  });

  it('known layout: the first message (a Write Command) and the NOTIFY subscription leave together; the till holds its answer until subscribed', async () => {
    const p = phone('phone-together', {
      COUNTER_NAME: 'Counter 3',
      TAG: 't',
      WRITES: '2',
      FIRST_UNACKED: '1',
    });
    const r = await p.next('done', 25_000);
    expect(r.gattSetup).toBe('known_layout');
    expect((r.values as string[]).map((v) => v.split('|')[1])).toEqual(['t-0', 't-1']);
    expect(r.info).toBe('info:v1');
    // The phone's ATT PDUs after the hash read: the value's Write Command, then at once (no PDU
    // from the till in between) the CCCD Write Request; one round trip fewer than subscribing first.
    const lines = radio
      .device('phone-together')
      .traceLines()
      .filter((l) => / ACL h=\d+ pb=[02] /.test(l));
    const pdu = (l: string) => Buffer.from(/ ([0-9a-f]+)$/.exec(l)![1]!, 'hex').subarray(9);
    const sent = lines.findIndex(
      (l) =>
        l.includes('H>C') &&
        pdu(l)[0] === 0x52 &&
        pdu(l).readUInt16LE(1) === BLUETILL_GATT_LAYOUT.write.value,
    );
    expect(sent).toBeGreaterThan(0);
    const next = lines[sent + 1]!;
    expect(next).toContain('H>C');
    expect([pdu(next)[0], pdu(next).readUInt16LE(1)]).toEqual([0x12, BLUETILL_GATT_LAYOUT.notify.cccd]);
    expect(attRequestsBeforeFirstWrite(radio.device('phone-together').traceLines())).toEqual([0x02, 0x0a]);
    p.send({ type: 'disconnect' });
    await p.next('closed');
  });

  it('a central whose process is killed: the till link reports supervision_timeout once', async () => {
    const p = phone('phone-kill', { COUNTER_NAME: 'Counter 3', TAG: 'k', WRITES: '1' });
    await p.next('done', 20_000);
    const before = till.messages.filter((m) => m.type === 'disconnect').length;
    const t = performance.now();
    await p.kill('SIGKILL');
    const gone = await till.next(
      (m) => m.type === 'disconnect' && till.messages.filter((x) => x.type === 'disconnect').length > before,
      5000,
    );
    expect(gone.reason).toBe('supervision_timeout');
    expect(performance.now() - t).toBeLessThan(2000);
  });

  it('connections that fail to be established (0x3E): the phone tries again and connects once the radio lets it', async () => {
    const p = phone('phone-retry', { COUNTER_NAME: 'Counter 3', TAG: 'r', WRITES: '2' });
    radio.device('phone-retry').setShaping({ connectFailRate: 1 });
    const before = till.messages.length;
    // The first attempt: LE Connection Complete at both ends, then 0x3E after 6 intervals.
    await till.next(
      (m) =>
        m.type === 'disconnect' && m.reason === 'failed_to_establish' && till.messages.indexOf(m) >= before,
      10_000,
    );
    radio.device('phone-retry').setShaping({ connectFailRate: 0 });
    const done = await p.next('done', 20_000);
    expect((done.values as string[]).map((v) => v.split('|')[1])).toEqual(['r-0', 'r-1']);
    p.send({ type: 'disconnect' });
    await p.next('closed');
  });

  it('0x3E on every attempt, RSSI not available: the phone saw 127 and reports connect_failed with hciStatus 0x3E after 3 attempts', async () => {
    const p = phone('phone-never', { COUNTER_NAME: 'Counter 3', TAG: 'n', WRITES: '1' });
    radio.device('phone-never').setShaping({ connectFailRate: 1, rssiUnavailable: true });
    const scanned = await p.next('scanned', 10_000);
    expect((scanned.found as Array<{ rssi: number }>)[0]?.rssi).toBe(127);
    await p.next((m) => m.type === 'error', 15_000).catch(() => undefined);
    const err = p.messages.find((m) => m.type === 'error') ?? { type: 'none' };
    expect(err).toMatchObject({ code: 'connect_failed', hciStatus: 0x3e, attempts: 3 });
    expect(String(err.message)).not.toContain('undefined');
  });

  it('a phone controller with one 192-byte ACL buffer: noble fragments 200-byte values at HCI and waits for each NOCP; nothing overflows', async () => {
    const p = hostOnDevice(radio, hosts, {
      fixture: join(fixtures, 'adapter-phone.host.ts'),
      device: { name: 'phone-small', aclBufferLength: 192, aclBuffers: 1 },
      env: { COUNTER_NAME: 'Counter 3', TAG: 's', WRITES: '3', BIG: '200' },
    });
    const done = await p.next('done', 25_000);
    expect((done.values as string[]).map((v) => v.split('|')[1])).toEqual(
      [0, 1, 2].map((i) => `s-${i}-`.padEnd(200, 'x')),
    );
    const stats = radio.device('phone-small').controller.stats;
    expect(stats.aclOverflows).toBe(0);
    expect(stats.aclMaxInFlight).toBe(1);
    // Each 207-byte L2CAP PDU went down as 192 + 15 bytes.
    const sizes = radio
      .device('phone-small')
      .traceLines()
      .flatMap((l) => {
        const m = /H>C ACL h=\d+ pb=[01] ([0-9a-f]{10})/.exec(l);
        return m ? [Buffer.from(m[1]!, 'hex').readUInt16LE(3)] : [];
      });
    expect(sizes.filter((n) => n === 192).length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...sizes)).toBe(192);
    // Each controller numbers its own links: the till's handle for this link is not the phone's.
    const link = radio.links().find((l) => l.central === 'phone-small');
    expect(link?.centralHandle).toBeGreaterThan(0x40);
    expect(link?.centralHandle).not.toBe(link?.handle);
    p.send({ type: 'disconnect' });
    await p.next('closed');
  });

  it('scan for an absent counter ends at the timeout with an empty list', async () => {
    const p = phone('phone-lost', { COUNTER_NAME: 'Counter 99', SCAN_MS: '700' });
    const s = await p.next('scanned');
    // Only the till that is there (Counter 3) can be in the list; the named one is absent.
    expect(
      (s.found as Array<{ counterName: string }>).map((a) => a.counterName).filter((n) => n !== 'Counter 3'),
    ).toEqual([]);
    expect(p.messages.some((m) => m.type === 'done')).toBe(false);
    expect(s.ms as number).toBeGreaterThanOrEqual(650);
    expect(s.ms as number).toBeLessThan(1500);
  });
});

describe('BlenoPeripheral with seven centrals and no skipped handles (handle 6 included)', () => {
  const hosts: HostChannel[] = [];
  let radio: VirtualRadio;
  afterAll(async () => {
    for (const h of hosts) await h.kill();
    await radio?.close();
  });

  it('every central gets only its own notifications, including the one on handle 6 (bleno Smp bug patched)', async () => {
    radio = await VirtualRadio.start({ skipHandles: [] });
    const till = hostOnDevice(radio, hosts, {
      fixture: join(fixtures, 'adapter-till.host.ts'),
      device: { name: 'till', distanceM: 0 },
      env: { COUNTER_NAME: 'Counter 6' },
    });
    await till.next('ready');
    const phones = Array.from({ length: 7 }, (_, i) =>
      hostOnDevice(radio, hosts, {
        fixture: join(fixtures, 'adapter-phone.host.ts'),
        device: { name: `q${i}`, distanceM: 1 },
        env: { COUNTER_NAME: 'Counter 6', TAG: `q${i}`, WRITES: '3' },
      }),
    );
    const done = await Promise.all(phones.map((p) => p.next('done', 40_000)));
    expect(
      radio
        .links()
        .map((l) => l.handle)
        .sort((a, b) => a - b),
    ).toEqual([1, 2, 3, 4, 5, 6, 7]);
    done.forEach((d, i) => {
      const values = d.values as string[];
      const id = values[0]!.split('|')[0]!;
      expect(values).toEqual([0, 1, 2].map((k) => `${id}|q${i}-${k}`));
    });
    expect(till.child.exitCode).toBeNull();
  }, 60_000);
});
