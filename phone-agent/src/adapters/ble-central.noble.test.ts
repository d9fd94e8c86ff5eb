import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BLUETILL_GATT_LAYOUT, GATT } from '@bluetill/protocol';
import type { Noble } from '@stoprocent/noble';
import { disconnectReason } from '@bluetill/protocol';
import {
  BleCentralError,
  describeCause,
  hciStatusOfNobleError,
  isNobleStateWarning,
  NobleCentral,
  nobleBindingOptions,
} from './ble-central.noble';

// A stand-in for noble's scanning surface; the real stack is exercised over the simulator's
// virtual controller in simulator/src/radio/adapters.integration.test.ts.
const fakeNoble = () => {
  const calls: string[] = [];
  const n = Object.assign(new EventEmitter(), {
    state: 'poweredOn',
    waitForPoweredOnAsync: async () => undefined,
    startScanningAsync: async () => void calls.push('start'),
    stopScanningAsync: async () => void calls.push('stop'),
    stop: () => undefined,
  });
  const advertise = (id: string, localName: string, rssi = -60, serviceUuids: string[] = [GATT.service]) =>
    n.emit('discover', { id, rssi, advertisement: { localName, serviceUuids } });
  return { noble: n as unknown as Noble, calls, advertise };
};

describe('NobleCentral', () => {
  it('an adapter noble reports as unsupported fails at once, in words, not at the power-on timeout', async () => {
    const f = fakeNoble();
    Object.assign(f.noble, {
      state: 'unknown',
      waitForPoweredOnAsync: () =>
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5_000)),
    });
    const c = new NobleCentral({ hci: { transport: 'socket', deviceId: 99 }, noble: f.noble });
    const t0 = performance.now();
    const p = c.scan({ timeoutMs: 100 });
    (f.noble as unknown as EventEmitter).emit('stateChange', 'unsupported');
    await expect(p).rejects.toMatchObject({
      code: 'adapter_unavailable',
      message: expect.stringContaining('no Bluetooth LE adapter'),
    });
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it("noble's adapter-state warning lines are recognised (and dropped); other lines are not", () => {
    for (const line of [
      'noble warning: adapter does not support Bluetooth Low Energy (BLE, Bluetooth Smart).',
      '               Try to run with environment variable:',
      '               [sudo] NOBLE_HCI_DEVICE_ID=x node ...',
      'noble warning: adapter state unauthorized, please run as root or with sudo',
    ])
      expect(isNobleStateWarning(line), line).toBe(true);
    for (const line of ['a line of the app', '{"tills":[]}', 'noble warning: unknown peripheral x'])
      expect(isNobleStateWarning(line), line).toBe(false);
  });

  it('maps the HCI transport to noble binding options', () => {
    expect(nobleBindingOptions({ transport: 'uart', path: '/dev/ttyUSB0', baudRate: 115200 })).toEqual({
      hciDriver: 'uart',
      bindParams: { uart: { port: '/dev/ttyUSB0', baudRate: 115200 } },
    });
    expect(nobleBindingOptions({ transport: 'socket', deviceId: 1 })).toEqual({
      hciDriver: 'native',
      deviceId: 1,
    });
  });

  it('names HCI disconnect reasons', () => {
    expect([0x08, 0x13, 0x16, '22', 0x3d, 'x'].map(disconnectReason)).toEqual([
      'supervision_timeout',
      'remote_user_terminated',
      'local_host_terminated',
      'local_host_terminated',
      'hci_0x3d',
      'unknown',
    ]);
  });

  it('scan ends at the timeout and reports what it saw (named, with the service), then stops scanning', async () => {
    const f = fakeNoble();
    const c = new NobleCentral({ hci: { transport: 'uart', path: '/dev/null' }, noble: f.noble });
    const t0 = performance.now();
    const p = c.scan({ timeoutMs: 120 });
    await new Promise((r) => setTimeout(r, 10));
    f.advertise('a1', 'Counter 1', -50);
    f.advertise('b2', '', -40); // no scan response yet: not pickable
    f.advertise('c3', 'Other', -70, ['180d']); // not a till
    const found = await p;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
    expect(found).toEqual([{ id: 'a1', counterName: 'Counter 1', rssi: -50 }]);
    expect(f.calls).toEqual(['start', 'stop']);
  });

  it('scan stops early once the named counter is seen', async () => {
    const f = fakeNoble();
    const c = new NobleCentral({ hci: { transport: 'uart', path: '/dev/null' }, noble: f.noble });
    const t0 = performance.now();
    const p = c.scan({ timeoutMs: 5000, counterName: 'Counter 2' });
    await new Promise((r) => setTimeout(r, 10));
    f.advertise('a1', 'Counter 1');
    f.advertise('a2', 'Counter 2');
    const found = await p;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(found.map((a) => a.counterName)).toEqual(['Counter 1', 'Counter 2']);
  });

  it('connect to an id never seen fails with a typed error', async () => {
    const f = fakeNoble();
    const c = new NobleCentral({ hci: { transport: 'uart', path: '/dev/null' }, noble: f.noble });
    await expect(c.connect('nope')).rejects.toMatchObject({
      name: 'BleCentralError',
      code: 'unknown_device',
    });
  });

  describe('known GATT layout: the subscription leaves with the first message', () => {
    /** A till seen in a scan whose Database Hash matches; `cccd` answers the CCCD Write Request. */
    const knownTill = (cccd: () => Promise<void>) => {
      const f = fakeNoble();
      const order: string[] = [];
      const peripheral = Object.assign(new EventEmitter(), {
        id: 't1',
        rssi: -50,
        state: 'connected',
        mtu: 247,
        advertisement: { localName: 'Counter 1', serviceUuids: [GATT.service] },
        readHandleAsync: async () => Buffer.from(BLUETILL_GATT_LAYOUT.hash),
        writeHandleAsync: async (handle: number) => {
          order.push(`request:${handle}`);
          return cccd();
        },
        disconnect: () => void order.push('disconnect'),
        disconnectAsync: async () => void order.push('disconnect'),
      });
      const characteristic = (uuid: string) =>
        Object.assign(new EventEmitter(), {
          uuid,
          writeAsync: async (_v: Buffer, withoutResponse: boolean) =>
            void order.push(withoutResponse ? `command:${uuid}` : `request:${uuid}`),
          readAsync: async () => Buffer.from('info'),
        });
      Object.assign(f.noble, {
        connectAsync: async () => undefined,
        addServices: () => [],
        addCharacteristics: (_id: string, _s: string, cs: Array<{ uuid: string }>) =>
          cs.map((c) => characteristic(c.uuid)),
      });
      const c = new NobleCentral({ hci: { transport: 'uart', path: '/dev/null' }, noble: f.noble });
      return { c, f, order, found: () => f.noble.emit('discover', peripheral) };
    };
    const start = async (t: ReturnType<typeof knownTill>) => {
      const scanning = t.c.scan({ timeoutMs: 2000, counterName: 'Counter 1' });
      await new Promise((r) => setTimeout(r, 5));
      t.found();
      await scanning;
      return t.c.connect('t1');
    };

    it('a Write Command first: the CCCD Write Request goes right after it, in the same turn', async () => {
      const t = knownTill(async () => undefined);
      const link = await start(t);
      expect(t.order).toEqual([]); // nothing written by connect itself
      await link.write(new Uint8Array([1]), { unacknowledged: true });
      expect(t.order).toEqual([`command:${GATT.write}`, `request:${BLUETILL_GATT_LAYOUT.notify.cccd}`]);
      await link.write(new Uint8Array([2]), { unacknowledged: true });
      expect(t.order).toHaveLength(3); // subscribed once
    });

    it('a Write Request or a read first: the subscription goes first; no message at all: it goes anyway', async () => {
      const t = knownTill(async () => undefined);
      const link = await start(t);
      await link.write(new Uint8Array([1]));
      expect(t.order).toEqual([`request:${BLUETILL_GATT_LAYOUT.notify.cccd}`, `request:${GATT.write}`]);
      const idle = knownTill(async () => undefined);
      await start(idle);
      await new Promise((r) => setImmediate(r));
      expect(idle.order).toEqual([`request:${BLUETILL_GATT_LAYOUT.notify.cccd}`]);
    });

    it('LE Connection Complete 0x3E twice, then a link: connected on the third attempt, after 150 + 300 ms of backoff', async () => {
      const t = knownTill(async () => undefined);
      const attempts: number[] = [];
      Object.assign(t.f.noble, {
        connectAsync: async () => {
          attempts.push(performance.now());
          if (attempts.length < 3) throw new Error('Connection Failed to be Established (0x3e)');
        },
      });
      const link = await start(t);
      expect(link.mtu).toBe(247);
      expect(attempts).toHaveLength(3);
      expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(140);
      expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(290);
    });

    it('0x3E every time: connect_failed after 3 attempts, with hciStatus and attempts as fields', async () => {
      const t = knownTill(async () => undefined);
      let n = 0;
      Object.assign(t.f.noble, {
        connectAsync: async () => {
          n++;
          throw new Error('Connection Failed to be Established (0x3e)');
        },
      });
      const err = await start(t).catch((e: unknown) => e as BleCentralError);
      expect(err).toBeInstanceOf(BleCentralError);
      expect(err).toMatchObject({ code: 'connect_failed', hciStatus: 0x3e, attempts: 3 });
      expect((err as Error).message).toMatch(/failed to be established \(HCI 0x3E\), 3 attempts/);
      expect(n).toBe(3);
    });

    it('the link drops with 0x3E right after LE Connection Complete (no MTU): retried too', async () => {
      const t = knownTill(async () => undefined);
      let n = 0;
      const peripheralOf = (): EventEmitter & { mtu: number | null } =>
        (t.c as unknown as { seen: Map<string, EventEmitter & { mtu: number | null }> }).seen.get('t1')!;
      Object.assign(t.f.noble, {
        connectAsync: async () => {
          n++;
          const p = peripheralOf();
          if (n === 1) {
            p.mtu = null;
            setTimeout(() => p.emit('disconnect', 0x3e), 20);
          } else {
            p.mtu = 247;
          }
        },
      });
      const link = await start(t);
      expect(n).toBe(2);
      expect(link.mtu).toBe(247);
    });

    it('other failures are not retried, and a stack that rejects with nothing is described, not "undefined"', async () => {
      const t = knownTill(async () => undefined);
      let n = 0;
      Object.assign(t.f.noble, {
        connectAsync: async () => {
          n++;
          throw undefined;
        },
      });
      const err = await start(t).catch((e: unknown) => e as BleCentralError);
      expect(err).toMatchObject({ code: 'disconnected', hciStatus: undefined });
      expect((err as Error).message).not.toContain('undefined');
      expect((err as Error).message).toContain('the stack gave no reason');
      expect(n).toBe(1);
      expect(describeCause(Object.assign(new Error(''), { name: 'GattError' }))).toBe('GattError');
      expect(describeCause(0x08)).toBe('HCI status 0x08');
      expect(hciStatusOfNobleError(new Error('Connection Failed to be Established (0x3e)'))).toBe(0x3e);
      expect(hciStatusOfNobleError(new Error('no status here'))).toBeUndefined();
    });

    it('a till that refuses the subscription: the link ends with that reason', async () => {
      const t = knownTill(async () => Promise.reject(new Error('ATT error 0x03')));
      const link = await start(t);
      const reason = new Promise<string>((r) => link.onDisconnect(r));
      await link.write(new Uint8Array([1]), { unacknowledged: true });
      expect(await reason).toBe('subscribe_failed (ATT error 0x03)');
      expect(t.order).toContain('disconnect');
      await expect(link.write(new Uint8Array([2]))).rejects.toMatchObject({ code: 'disconnected' });
    });
  });
});
