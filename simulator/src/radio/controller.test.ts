import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Air } from './air';
import { HciController } from './controller';
import { encodeAcl, encodeCommand } from './h4';
import { OP } from './hci-opcodes';
import type { ControllerProfile, LinkShaping } from './shaping';
import { Trace } from './trace';

// Byte-level tests of the virtual controller: H4 in, H4 out. Section numbers refer to the
// Bluetooth Core Specification v5.4, Vol 4, Part E (HCI) unless noted.

interface Dev {
  c: HciController;
  take: () => string[];
}

const setup = (pair?: LinkShaping, skipHandles?: number[]) => {
  const air = new Air({
    shapingFor: (a, b) => ({ layers: [a.shaping, b.shaping, pair] }),
    ...(skipHandles ? { skipHandles } : {}),
  });
  const dev = (name: string, address: string, distanceM = 1, profile: ControllerProfile = {}): Dev => {
    const out: Buffer[] = [];
    const c = new HciController({
      name,
      address: Buffer.from(address, 'hex'),
      air,
      trace: new Trace(name, 0, undefined),
      send: (b) => out.push(b),
      distanceM,
      ...profile,
    });
    air.attach(c);
    return { c, take: () => out.splice(0).map((b) => b.toString('hex')) };
  };
  return { air, dev };
};

const cmd = (d: Dev, opcode: number, params = ''): string[] => {
  d.c.receive(encodeCommand(opcode, Buffer.from(params, 'hex')));
  return d.take();
};

/** LE Create Connection (7.8.12) to a public address given big-endian. */
const createConnParams = (peerBigEndian: string): string => {
  const peer = Buffer.from(peerBigEndian, 'hex').reverse().toString('hex');
  // scan int 0060, window 0030, policy 00, peer type 00, peer, own type 00, int min 0006, max 000c, latency 0, timeout 002a (420 ms), ce 0000 0000
  return `60003000` + `00` + `00` + peer + `00` + `0600` + `0c00` + `0000` + `2a00` + `0000` + `0000`;
};

const advertise = (d: Dev) => {
  cmd(d, OP.leSetAdvertisingParameters, 'a000a00000000000000000000000070' + '0');
  // 7.8.7: length 3, flags AD (02 01 06), padded to 31
  cmd(d, OP.leSetAdvertisingData, '03020106'.padEnd(64, '0'));
  // 7.8.8: length 6, complete local name "Till" (05 09 54 69 6c 6c)
  cmd(d, OP.leSetScanResponseData, '060509' + Buffer.from('Till').toString('hex') + ''.padEnd(2 * 26, '0'));
  return cmd(d, OP.leSetAdvertisingEnable, '01');
};

const connect = async (
  pair?: LinkShaping,
  profiles: { till?: ControllerProfile; phone?: ControllerProfile } = {},
) => {
  const { air, dev } = setup(pair);
  const till = dev('till', 'c0ffee000001', 0, profiles.till);
  const phone = dev('phone', 'c0ffee000002', 2, profiles.phone);
  advertise(till);
  expect(cmd(phone, OP.leCreateConnection, createConnParams('c0ffee000001'))).toEqual(['040f0400010d20']);
  await vi.advanceTimersByTimeAsync(150);
  const tillEv = till.take();
  const phoneEv = phone.take();
  return { air, till, phone, tillEv, phoneEv };
};

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'],
  });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('HCI commands', () => {
  it('answers HCI_Reset with the exact Command Complete the UART driver waits for (7.3.2, 7.7.14)', () => {
    const { dev } = setup();
    const d = dev('a', 'c0ffee000001');
    expect(cmd(d, OP.reset)).toEqual(['040e0401030c00']);
  });

  it('processes commands strictly in order, whatever the chunking', () => {
    const { dev } = setup();
    const d = dev('a', 'c0ffee000001');
    const bytes = Buffer.concat([
      encodeCommand(OP.setEventMask, Buffer.from('fffffbff07f8bf3d', 'hex')),
      encodeCommand(OP.readBdAddr),
      encodeCommand(OP.leReadBufferSize),
    ]);
    d.c.receive(bytes.subarray(0, 5));
    d.c.receive(bytes.subarray(5, 17));
    d.c.receive(bytes.subarray(17));
    expect(d.take()).toEqual([
      '040e0401010c00',
      '040e0a01091000010000eeffc0',
      '040e07010220' + '00' + 'fb00' + '08',
    ]);
  });

  it('reports HCI version 9 (>= 6 required by bleno/noble) and zero LE features (7.4.1, 7.8.3)', () => {
    const { dev } = setup();
    const d = dev('a', 'c0ffee000001');
    // status 00, HCI ver 09, rev 0000, LMP ver 09, manufacturer 05f1, subversion 0000
    expect(cmd(d, OP.readLocalVersion)).toEqual([
      '040e0c010110' + '00' + '09' + '0000' + '09' + 'f105' + '0000',
    ]);
    expect(cmd(d, OP.leReadLocalSupportedFeatures)).toEqual(['040e0c010320' + '00' + '0000000000000000']);
  });

  it('gives each device a distinct BD_ADDR, little-endian on the wire (7.4.6)', () => {
    const { dev } = setup();
    expect(cmd(dev('a', 'c0ffee000001'), OP.readBdAddr)).toEqual(['040e0a01091000010000eeffc0']);
    expect(cmd(dev('b', 'c0ffee000002'), OP.readBdAddr)).toEqual(['040e0a01091000020000eeffc0']);
  });

  it('answers an unknown opcode with status 0x01 instead of hanging, and counts it', () => {
    const { dev } = setup();
    const d = dev('a', 'c0ffee000001');
    expect(cmd(d, 0x2031, '000303')).toEqual(['040e0401312001']); // LE Set Default PHY: not offered
    expect(d.c.stats.unknown.get(0x2031)).toBe(1);
  });

  it('answers a truncated parameter block with 0x12 (invalid parameters)', () => {
    const { dev } = setup();
    const d = dev('a', 'c0ffee000001');
    expect(cmd(d, OP.leSetScanEnable, '')).toEqual(['040e04010c2012']);
  });
});

describe('advertising and scanning', () => {
  it('sends ADV_IND then SCAN_RSP (type 4) to an active scanner, with RSSI by distance (7.7.65.2)', async () => {
    const { dev } = setup();
    const till = dev('till', 'c0ffee000001', 0);
    const phone = dev('phone', 'c0ffee000002', 2);
    expect(advertise(till)).toEqual(['040e04010a2000']);
    cmd(phone, OP.leSetScanParameters, '01100010000000');
    expect(cmd(phone, OP.leSetScanEnable, '0101')).toEqual(['040e04010c2000']);
    await vi.advanceTimersByTimeAsync(250);
    const reports = phone.take();
    // -59 dBm at 1 m, 20 log10(2) = 6 dB less at 2 m -> -65 = 0xbf
    expect(reports).toEqual([
      '043e0f' + '02' + '01' + '00' + '00' + '010000eeffc0' + '03' + '020106' + 'bf',
      '043e12' +
        '02' +
        '01' +
        '04' +
        '00' +
        '010000eeffc0' +
        '06' +
        '0509' +
        Buffer.from('Till').toString('hex') +
        'bf',
    ]);
  });

  it('sends only ADV_IND to a passive scanner and repeats it when duplicates are allowed', async () => {
    const { dev } = setup();
    const till = dev('till', 'c0ffee000001');
    const phone = dev('phone', 'c0ffee000002');
    advertise(till);
    cmd(phone, OP.leSetScanParameters, '00100010000000');
    cmd(phone, OP.leSetScanEnable, '0100');
    await vi.advanceTimersByTimeAsync(350);
    const reports = phone.take();
    expect(reports.length).toBeGreaterThanOrEqual(3);
    expect(reports.every((r) => r.slice(10, 12) === '00')).toBe(true);
  });

  it('starts the first advertising event at once after enable, then spaces events advInterval + advDelay (0–10 ms) apart (Vol 6, Part B, 4.4.2.2.1)', async () => {
    const { dev } = setup();
    const till = dev('till', 'c0ffee000001');
    const phone = dev('phone', 'c0ffee000002');
    cmd(phone, OP.leSetScanParameters, '00100010000000');
    cmd(phone, OP.leSetScanEnable, '0100'); // passive, duplicates reported: one report per event
    const seen: number[] = [];
    const t0 = performance.now();
    advertise(till); // interval 0x00a0 = 100 ms
    for (let t = 0; t < 1000; t += 0.5) {
      await vi.advanceTimersByTimeAsync(0.5);
      if (phone.take().length > 0) seen.push(performance.now() - t0);
    }
    expect(seen[0]).toBeLessThanOrEqual(2);
    const gaps = seen.slice(1).map((t, i) => t - seen[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(8);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(100);
      expect(g).toBeLessThanOrEqual(110.5);
    }
    expect(new Set(gaps.map(Math.round)).size).toBeGreaterThan(1); // advDelay is drawn afresh each event
  });

  it('a Reset of one device leaves the other scanning', async () => {
    const { dev } = setup();
    const till = dev('till', 'c0ffee000001');
    const a = dev('a', 'c0ffee000002');
    const b = dev('b', 'c0ffee000003');
    advertise(till);
    for (const d of [a, b]) {
      cmd(d, OP.leSetScanParameters, '00100010000000');
      cmd(d, OP.leSetScanEnable, '0100');
    }
    cmd(a, OP.reset);
    await vi.advanceTimersByTimeAsync(250);
    expect(a.take()).toEqual([]);
    expect(b.take().length).toBeGreaterThan(0);
  });
});

describe('connections', () => {
  it('sends LE Connection Complete role 1 to the peripheral and role 0 to the central, handle != 0, and stops advertising (7.7.65.1)', async () => {
    const { till, phone, tillEv, phoneEv } = await connect();
    // status 00, handle 0001, role, peer type 00, peer addr, interval 0018 (30 ms), latency 0, timeout 002a (420 ms), mca 00
    expect(tillEv).toEqual([
      '043e13' + '01' + '00' + '0100' + '01' + '00' + '020000eeffc0' + '1800' + '0000' + '2a00' + '00',
    ]);
    expect(phoneEv).toEqual([
      '043e13' + '01' + '00' + '0100' + '00' + '00' + '010000eeffc0' + '1800' + '0000' + '2a00' + '00',
    ]);
    expect(till.c.adv.enabled).toBe(false);
    expect(phone.c.initiating).toBeNull();
  });

  it('re-fragments a host ACL packet into 27-byte LL PDUs: first PB=0b10, then 0b01; NOCP once sent (5.4.2, 7.7.19)', async () => {
    const { till, phone } = await connect();
    const l2cap = Buffer.alloc(60, 0xab);
    phone.c.receive(encodeAcl(1, 0b00, l2cap)); // hosts send "first non-flushable" (0b00)
    expect(till.take()).toEqual([]); // nothing before the next connection event
    await vi.advanceTimersByTimeAsync(30);
    expect(till.take()).toEqual([
      encodeAcl(1, 0b10, l2cap.subarray(0, 27)).toString('hex'),
      encodeAcl(1, 0b01, l2cap.subarray(27, 54)).toString('hex'),
      encodeAcl(1, 0b01, l2cap.subarray(54)).toString('hex'),
    ]);
    expect(phone.take()).toEqual(['0413050101000100']);
  });

  it('moves at most packetsPerEvent PDUs per event, so long packets span several connection events', async () => {
    const { till, phone } = await connect({ packetsPerEvent: 2 });
    phone.c.receive(encodeAcl(1, 0b00, Buffer.alloc(100, 1))); // 4 PDUs
    await vi.advanceTimersByTimeAsync(30);
    expect(till.take()).toHaveLength(2);
    expect(phone.take()).toEqual([]);
    await vi.advanceTimersByTimeAsync(30);
    expect(till.take()).toHaveLength(2);
    expect(phone.take()).toEqual(['0413050101000100']);
  });

  it('answers every host packet with Number Of Completed Packets, so the buffer count never runs out', async () => {
    const { till, phone } = await connect();
    // 8 buffers: a host sends 8, waits for NOCP, sends the rest.
    for (let i = 0; i < 8; i++) till.c.receive(encodeAcl(1, 0b00, Buffer.from('0100040001', 'hex')));
    await vi.advanceTimersByTimeAsync(30 * 2);
    for (let i = 0; i < 8; i++) till.c.receive(encodeAcl(1, 0b00, Buffer.from('0100040001', 'hex')));
    await vi.advanceTimersByTimeAsync(30 * 2);
    for (let i = 0; i < 4; i++) till.c.receive(encodeAcl(1, 0b00, Buffer.from('0100040001', 'hex')));
    await vi.advanceTimersByTimeAsync(30 * 2);
    const nocp = till.take().filter((e) => e.startsWith('0413'));
    const total = nocp.reduce((n, e) => n + Buffer.from(e, 'hex').readUInt16LE(6), 0);
    expect(total).toBe(20);
    expect(phone.take().filter((e) => e.startsWith('02'))).toHaveLength(20);
    expect(till.c.stats.aclOverflows).toBe(0);
  });

  it('Disconnect: Command Status, then Disconnection Complete to both ends (7.1.6, 7.7.5)', async () => {
    const { till, phone } = await connect();
    expect(cmd(phone, OP.disconnect, '010013')).toEqual(['040f0400010604']);
    await vi.advanceTimersByTimeAsync(30);
    expect(phone.take()).toEqual(['040504000100' + '16']); // 0x16: terminated by local host
    expect(till.take()).toEqual(['040504000100' + '13']);
  });

  it('Disconnect of an unknown handle: Command Status 0x02', () => {
    const { dev } = setup();
    const d = dev('a', 'c0ffee000001');
    expect(cmd(d, OP.disconnect, '050013')).toEqual(['040f0402010604']);
  });

  it('a blacked-out link ends with reason 0x08 at both ends after the supervision timeout (Vol 6, Part B, 4.5.2)', async () => {
    const { air, till, phone } = await connect();
    till.c.shaping = { lossRate: 1 };
    // last good event <= 30 ms before now; timeout 420 ms
    await vi.advanceTimersByTimeAsync(380);
    expect(phone.take()).toEqual([]);
    await vi.advanceTimersByTimeAsync(80);
    expect(phone.take()).toEqual(['040504000100' + '08']);
    expect(till.take()).toEqual(['040504000100' + '08']);
    expect(air.openLinks()).toHaveLength(0);
  });

  it('a host that dies is noticed: its peer gets a supervision timeout, the dead end gets nothing', async () => {
    const { till, phone } = await connect();
    phone.c.hostGone();
    await vi.advanceTimersByTimeAsync(500);
    expect(till.take()).toEqual(['040504000100' + '08']);
    expect(phone.take()).toEqual([]);
  });

  it('LE Create Connection Cancel: Command Complete, then Connection Complete with status 0x02 (7.8.13)', () => {
    const { dev } = setup();
    const phone = dev('phone', 'c0ffee000002');
    cmd(phone, OP.leCreateConnection, createConnParams('c0ffee0000ff'));
    expect(cmd(phone, OP.leCreateConnectionCancel)).toEqual([
      '040e04010e2000',
      '043e1301' + '02' + '00'.repeat(17),
    ]);
  });

  it('Read RSSI on a link (7.5.4)', async () => {
    const { phone } = await connect();
    expect(cmd(phone, OP.readRssi, '0100')).toEqual(['040e07010514' + '00' + '0100' + 'bf']);
  });

  it('latencyMs delays each delivered packet after its connection event', async () => {
    const { till, phone } = await connect({ latencyMs: 50 });
    phone.c.receive(encodeAcl(1, 0b00, Buffer.from('0100040001', 'hex')));
    await vi.advanceTimersByTimeAsync(30);
    expect(till.take()).toEqual([]);
    expect(phone.take()).toEqual(['0413050101000100']); // sent over the air; delivery is late
    await vi.advanceTimersByTimeAsync(50);
    expect(till.take()).toEqual([encodeAcl(1, 0b10, Buffer.from('0100040001', 'hex')).toString('hex')]);
  });

  it('LE Connection Update: Command Status, then Update Complete to both ends with the new interval (7.8.18, 7.7.65.3)', async () => {
    const { till, phone } = await connect();
    // handle 1, min 0x0028, max 0x0028 (50 ms), latency 0, timeout 0x0064 (1 s), CE 0/0
    expect(
      cmd(phone, OP.leConnectionUpdate, '0100' + '2800' + '2800' + '0000' + '6400' + '0000' + '0000'),
    ).toEqual(['040f0400011320']);
    await vi.advanceTimersByTimeAsync(30);
    const expected = '043e0a' + '03' + '00' + '0100' + '2800' + '0000' + '6400';
    expect(phone.take()).toEqual([expected]);
    expect(till.take()).toEqual([expected]);
  });

  it('LE Read Remote Features: Command Status, then the complete event (7.8.21, 7.7.65.4)', async () => {
    const { phone } = await connect();
    expect(cmd(phone, OP.leReadRemoteFeatures, '0100')).toEqual(['040f0400011620']);
    await vi.advanceTimersByTimeAsync(30);
    expect(phone.take()).toEqual(['043e0c' + '04' + '00' + '0100' + '0000000000000000']);
  });

  it('ACL on a handle the sender does not own is dropped', async () => {
    const { till, phone } = await connect();
    phone.c.receive(encodeAcl(9, 0b00, Buffer.from('0100040001', 'hex')));
    await vi.advanceTimersByTimeAsync(60);
    expect(till.take()).toEqual([]);
    expect(phone.take()).toEqual([]);
  });

  it('skips handle 6 by default (bleno 0.12 Smp bug) and uses it when told not to', async () => {
    const handles = async (skip?: number[]) => {
      const { dev } = setup(undefined, skip);
      const till = dev('till', 'c0ffee000001');
      const out: number[] = [];
      for (let i = 0; i < 6; i++) {
        const phone = dev(`p${i}`, `c0ffee0000${(0x10 + i).toString(16)}`);
        advertise(till);
        cmd(phone, OP.leCreateConnection, createConnParams('c0ffee000001'));
        await vi.advanceTimersByTimeAsync(150);
        const ev = till.take().find((e) => e.startsWith('043e1301'));
        out.push(Buffer.from(ev!, 'hex').readUInt16LE(5));
        phone.take();
      }
      return out;
    };
    expect(await handles()).toEqual([1, 2, 3, 4, 5, 7]);
    expect(await handles([])).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("each controller numbers its own links: the till knows the link as 0x0001, the phone as 0x0041; ACL, NOCP and Disconnect each on their own end's handle", async () => {
    const { till, phone, tillEv, phoneEv } = await connect(undefined, {
      till: { firstHandle: 1 },
      phone: { firstHandle: 0x41 },
    });
    expect(tillEv).toEqual([
      '043e13' + '01' + '00' + '0100' + '01' + '00' + '020000eeffc0' + '1800' + '0000' + '2a00' + '00',
    ]);
    expect(phoneEv).toEqual([
      '043e13' + '01' + '00' + '4100' + '00' + '00' + '010000eeffc0' + '1800' + '0000' + '2a00' + '00',
    ]);
    phone.c.receive(encodeAcl(0x41, 0b00, Buffer.from('0100040001', 'hex')));
    await vi.advanceTimersByTimeAsync(30);
    expect(till.take()).toEqual([encodeAcl(1, 0b10, Buffer.from('0100040001', 'hex')).toString('hex')]);
    expect(phone.take()).toEqual(['0413050141000100']);
    // The phone's handle means nothing to the till's controller, and the other way round.
    expect(cmd(till, OP.disconnect, '410013')).toEqual(['040f0402010604']);
    expect(cmd(phone, OP.readRssi, '0100')).toEqual(['040e0701051402' + '0100' + '00']);
    expect(cmd(phone, OP.disconnect, '410013')).toEqual(['040f0400010604']);
    await vi.advanceTimersByTimeAsync(30);
    expect(phone.take()).toEqual(['040504004100' + '16']);
    expect(till.take()).toEqual(['040504000100' + '13']);
  });

  it('one ACL buffer of 192 bytes: LE Read Buffer Size says so; a second packet before NOCP or a 193-byte one overflows (7.7.26) and is lost', async () => {
    const { till, phone } = await connect(undefined, { phone: { aclBufferLength: 192, aclBuffers: 1 } });
    expect(cmd(phone, OP.leReadBufferSize)).toEqual(['040e0701022000' + 'c000' + '01']);
    expect(cmd(phone, OP.readBufferSize)).toEqual(['040e0b01051000' + 'c000' + '00' + '0100' + '0000']);
    const first = Buffer.alloc(192, 0x11);
    phone.c.receive(encodeAcl(1, 0b00, first));
    phone.c.receive(encodeAcl(1, 0b01, Buffer.alloc(10, 0x22))); // no NOCP yet: no buffer
    expect(phone.take()).toEqual(['041a0101']);
    await vi.advanceTimersByTimeAsync(30 * 2);
    expect(
      till
        .take()
        .map((e) => e.slice(10))
        .join(''),
    ).toBe(first.toString('hex'));
    expect(phone.take()).toEqual(['0413050101000100']);
    phone.c.receive(encodeAcl(1, 0b00, Buffer.alloc(193, 0x33)));
    expect(phone.take()).toEqual(['041a0101']);
    phone.c.receive(encodeAcl(1, 0b00, Buffer.alloc(5, 0x44)));
    await vi.advanceTimersByTimeAsync(30);
    expect(till.take()).toEqual([encodeAcl(1, 0b10, Buffer.alloc(5, 0x44)).toString('hex')]);
    expect(phone.c.stats.aclOverflows).toBe(2);
  });

  it('a link closed with a packet still in the only buffer frees it: the next link can send at once', async () => {
    const { till, phone } = await connect(undefined, { phone: { aclBuffers: 1, firstHandle: 0x41 } });
    phone.c.shaping = { lossRate: 1 }; // nothing moves; the link times out with the packet queued
    phone.c.receive(encodeAcl(0x41, 0b00, Buffer.alloc(5, 0x44)));
    await vi.advanceTimersByTimeAsync(600);
    expect(phone.take()).toEqual(['040504004100' + '08']);
    phone.c.shaping = {};
    till.take();
    advertise(till);
    cmd(phone, OP.leCreateConnection, createConnParams('c0ffee000001'));
    await vi.advanceTimersByTimeAsync(150);
    expect(
      phone
        .take()
        .find((e) => e.startsWith('043e13'))
        ?.slice(10, 14),
    ).toBe('4200');
    phone.c.receive(encodeAcl(0x42, 0b00, Buffer.alloc(5, 0x55)));
    expect(phone.take()).toEqual([]); // no Data Buffer Overflow
    await vi.advanceTimersByTimeAsync(30);
    expect(phone.take()).toEqual(['0413050142000100']);
    expect(phone.c.stats.aclOverflows).toBe(0);
  });

  it('connectFailRate 1: LE Connection Complete to both, nothing gets through, and after 6 intervals Disconnection Complete 0x3E to both (Vol 6, Part B, 4.5.2)', async () => {
    const { air, till, phone, tillEv, phoneEv } = await connect({ connectFailRate: 1 });
    // Connected at the first advertising event (~1.5 ms); 150 ms later (5 intervals) still up.
    expect(tillEv).toHaveLength(1);
    expect(tillEv[0]?.slice(0, 14)).toBe('043e1301000100');
    expect(phoneEv).toHaveLength(1);
    expect(phoneEv[0]?.slice(0, 14)).toBe('043e1301000100');
    phone.c.receive(encodeAcl(1, 0b00, Buffer.from('0100040001', 'hex')));
    await vi.advanceTimersByTimeAsync(10);
    expect(till.take()).toEqual([]);
    expect(phone.take()).toEqual([]);
    await vi.advanceTimersByTimeAsync(40);
    expect(phone.take()).toEqual(['040504000100' + '3e']);
    expect(till.take()).toEqual(['040504000100' + '3e']);
    expect(air.openLinks()).toHaveLength(0);
  });

  it('rssiUnavailable: advertising reports and Read RSSI carry 127 (7F), "not available"', async () => {
    const { dev } = setup({ rssiUnavailable: true });
    const till = dev('till', 'c0ffee000001', 0);
    const phone = dev('phone', 'c0ffee000002', 2);
    advertise(till);
    cmd(phone, OP.leSetScanParameters, '01100010000000');
    cmd(phone, OP.leSetScanEnable, '0101');
    await vi.advanceTimersByTimeAsync(250);
    const reports = phone.take();
    expect(reports.length).toBe(2);
    for (const r of reports) expect(r.slice(-2)).toBe('7f');
    cmd(phone, OP.leSetScanEnable, '0000');
    cmd(phone, OP.leCreateConnection, createConnParams('c0ffee000001'));
    await vi.advanceTimersByTimeAsync(150);
    phone.take();
    expect(cmd(phone, OP.readRssi, '0100')).toEqual(['040e07010514' + '00' + '0100' + '7f']);
  });

  it('honours a per-link connection interval (7.5 ms .. 4 s)', async () => {
    const { phoneEv } = await connect({ connectionIntervalMs: 7.5 });
    expect(phoneEv[0]?.slice(2 * 15, 2 * 17)).toBe('0600');
  });
});
