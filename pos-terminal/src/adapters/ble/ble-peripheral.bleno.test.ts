import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { GATT } from '@bluetill/protocol';
import type { Bleno } from '@stoprocent/bleno';
import type { PeripheralLink } from '../../common/ports/ble-peripheral';
import { BlenoPeripheral } from './ble-peripheral.bleno';
import { BlePeripheralError } from './ble-peripheral-error';
import { blenoBindingOptions } from './hci-transport';

// A stand-in for bleno's object model (Characteristic callbacks keyed by connection handle),
// enough to check the adapter's per-connection routing. The real stack is exercised over the
// simulator's virtual controller in simulator/src/radio/adapters.integration.test.ts.
type CharOptions = Record<string, unknown> & { uuid: string };
const fakeBleno = () => {
  const chars = new Map<string, CharOptions>();
  const hci = new EventEmitter();
  const connections = new Map<number, { mtu: number }>();
  const b = Object.assign(new EventEmitter(), {
    state: 'poweredOn',
    Characteristic: class {
      constructor(o: CharOptions) {
        chars.set(o.uuid, o);
      }
    },
    PrimaryService: class {
      constructor(readonly o: unknown) {}
    },
    _bindings: { _gatt: { _connections: connections }, _hci: hci },
    waitForPoweredOnAsync: async () => undefined,
    setServicesAsync: async () => undefined,
    startAdvertisingAsync: async () => undefined,
    stopAdvertisingAsync: async () => undefined,
    disconnect(handle: number) {
      setImmediate(() => {
        hci.emit('disconnComplete', handle, 0x16);
        connections.delete(handle);
        b.emit('disconnect', 'aa:bb', handle);
      });
    },
    stop: () => undefined,
  });
  const accept = (handle: number, mtu = 247) => {
    connections.set(handle, { mtu });
    b.emit('accept', `00:00:00:00:00:0${handle}`, handle);
  };
  const char = (uuid: string) => chars.get(uuid) as Record<string, (...a: unknown[]) => void>;
  return { bleno: b as unknown as Bleno, accept, char, hci, b };
};

const started = async (o: { subscribeWaitMs?: number } = {}) => {
  const f = fakeBleno();
  const p = new BlenoPeripheral({ hci: { transport: 'uart', path: '/dev/null' }, bleno: f.bleno, ...o });
  const links: PeripheralLink[] = [];
  p.onConnect((l) => links.push(l));
  await p.start({ counterName: 'Counter 1', info: new Uint8Array([1, 2]) });
  return { ...f, p, links };
};

describe('BlenoPeripheral', () => {
  it('maps the HCI transport to bleno binding options', () => {
    expect(blenoBindingOptions({ transport: 'uart', path: '/dev/pts/3' })).toEqual({
      hciDriver: 'uart',
      bindParams: { uart: { port: '/dev/pts/3' } },
    });
    expect(blenoBindingOptions({ transport: 'socket', deviceId: 0 })).toEqual({
      hciDriver: 'native',
      deviceId: 0,
    });
  });

  it('one link per connection handle; writes reach only that link', async () => {
    const { accept, char, links } = await started();
    accept(1);
    accept(2);
    const got: string[][] = [[], []];
    links.forEach((l, i) => l.onValue((v) => got[i]!.push(Buffer.from(v).toString())));
    const acks: number[] = [];
    char(GATT.write).onWriteRequest!(2, Buffer.from('to-2'), 0, false, (r: number) => acks.push(r));
    char(GATT.write).onWriteRequest!(1, Buffer.from('to-1'), 0, true, () => acks.push(99));
    expect(got).toEqual([['to-1'], ['to-2']]);
    expect(acks).toEqual([0]);
    expect(links.map((l) => l.mtu)).toEqual([247, 247]);
  });

  it('notify goes to that connection only; before the subscription it waits, in order, then is refused after subscribeWaitMs; too long is refused', async () => {
    const { accept, char, links } = await started({ subscribeWaitMs: 200 });
    accept(1);
    accept(2);
    accept(3);
    const sent: Array<[number, string]> = [];
    const t = performance.now();
    await expect(links[0]!.notify(new Uint8Array([1]))).rejects.toMatchObject({ code: 'not_subscribed' });
    expect(performance.now() - t).toBeGreaterThanOrEqual(190);
    // Held until the subscription arrives, then sent in the order they were asked for.
    const held = [links[1]!.notify(Buffer.from('a')), links[1]!.notify(Buffer.from('b'))];
    await new Promise((r) => setTimeout(r, 20));
    expect(sent).toEqual([]);
    char(GATT.notify).onSubscribe!(1, 244, (d: Buffer) => sent.push([1, d.toString()]));
    char(GATT.notify).onSubscribe!(2, 244, (d: Buffer) => sent.push([2, d.toString()]));
    await Promise.all(held);
    await links[1]!.notify(Buffer.from('only-2'));
    expect(sent).toEqual([
      [2, 'a'],
      [2, 'b'],
      [2, 'only-2'],
    ]);
    await expect(links[0]!.notify(new Uint8Array(245))).rejects.toBeInstanceOf(BlePeripheralError);
    // A link that goes while a notification waits: that notification fails as disconnected.
    const waiting = links[2]!.notify(Buffer.from('x'));
    void links[2]!.disconnect();
    await expect(waiting).rejects.toMatchObject({ code: 'disconnected' });
  });

  it('link ids stay unique when the controller reuses a handle; onDisconnect fires once with the HCI reason', async () => {
    const { accept, links, hci, b } = await started();
    accept(1);
    const reasons: string[] = [];
    links[0]!.onDisconnect((r) => reasons.push(r));
    hci.emit('disconnComplete', 1, 0x08);
    b.emit('disconnect', 'x', 1);
    b.emit('disconnect', 'x', 1);
    expect(reasons).toEqual(['supervision_timeout']);
    await expect(links[0]!.notify(new Uint8Array([1]))).rejects.toMatchObject({ code: 'disconnected' });
    accept(1);
    expect(links[1]!.id).not.toBe(links[0]!.id);
    const r2: string[] = [];
    links[1]!.onDisconnect((r) => r2.push(r));
    await links[1]!.disconnect();
    expect(r2).toEqual(['local_host_terminated']);
  });
});
