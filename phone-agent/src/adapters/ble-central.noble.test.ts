import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { GATT } from '@bluetill/protocol';
import type { Noble } from '@stoprocent/noble';
import { disconnectReason } from '@bluetill/protocol';
import { NobleCentral, nobleBindingOptions } from './ble-central.noble';

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
  it('maps the HCI transport to noble binding options', () => {
    expect(nobleBindingOptions({ transport: 'uart', path: '/dev/ttyUSB0', baudRate: 115200 })).toEqual({
      hciDriver: 'uart',
      bindParams: { uart: { port: '/dev/ttyUSB0', baudRate: 115200 } },
    });
    expect(nobleBindingOptions({ transport: 'socket', deviceId: 1 })).toEqual({ hciDriver: 'native', deviceId: 1 });
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
    await expect(c.connect('nope')).rejects.toMatchObject({ name: 'BleCentralError', code: 'unknown_device' });
  });
});
