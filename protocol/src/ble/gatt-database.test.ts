import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ATT_TYPE,
  BLUETILL_GATT_LAYOUT,
  BLUETILL_GATT_TABLE,
  CHAR_PROP,
  databaseHash,
  databaseHashMessage,
  databaseHashMessageCmac,
  layOutGattTable,
  uuidBytes,
  type GattAttribute,
} from './gatt-database';
import { GATT } from './gatt';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

/**
 * The example database of Bluetooth Core 5.1, Vol 3 Part G, Appendix B (Database Hash example),
 * as BTstack's test tool transcribes it: message and hash F1CA2D48ECF58BAC8A8830BBB9FBA990.
 * The list also holds characteristic value attributes (types 0x2a00, …): they must not count.
 */
const SPEC_DATABASE: GattAttribute[] = [
  { handle: 0x01, type: ATT_TYPE.primaryService, value: bytes('0018') },
  { handle: 0x02, type: ATT_TYPE.characteristic, value: bytes('0a0300002a') },
  { handle: 0x03, type: 0x2a00, value: bytes('6e616d65') },
  { handle: 0x04, type: ATT_TYPE.characteristic, value: bytes('020500012a') },
  { handle: 0x05, type: 0x2a01, value: bytes('0000') },
  { handle: 0x06, type: ATT_TYPE.primaryService, value: bytes('0118') },
  { handle: 0x07, type: ATT_TYPE.characteristic, value: bytes('200800052a') },
  { handle: 0x08, type: 0x2a05 },
  { handle: 0x09, type: ATT_TYPE.clientConfiguration, value: bytes('0000') },
  { handle: 0x0a, type: ATT_TYPE.characteristic, value: bytes('0a0b00292b') },
  { handle: 0x0b, type: 0x2b29, value: bytes('00') },
  { handle: 0x0c, type: ATT_TYPE.characteristic, value: bytes('020d002a2b') },
  { handle: 0x0d, type: 0x2b2a, value: new Uint8Array(16) },
  { handle: 0x0e, type: ATT_TYPE.primaryService, value: bytes('0818') },
  { handle: 0x0f, type: ATT_TYPE.include, value: bytes('140016000f18') },
  { handle: 0x10, type: ATT_TYPE.characteristic, value: bytes('a21100182a') },
  { handle: 0x11, type: 0x2a18 },
  { handle: 0x12, type: ATT_TYPE.clientConfiguration },
  { handle: 0x13, type: ATT_TYPE.extendedProperties, value: bytes('0000') },
  { handle: 0x14, type: ATT_TYPE.secondaryService, value: bytes('0f18') },
  { handle: 0x15, type: ATT_TYPE.characteristic, value: bytes('021600192a') },
  { handle: 0x16, type: 0x2a19, value: bytes('64') },
];

describe('GATT Database Hash (Core 5.1 Vol 3 Part G 7.3)', () => {
  it('matches the specification example (Appendix B, via BTstack test/gatt-service-client)', () => {
    const message = databaseHashMessage([...SPEC_DATABASE].reverse()); // handle order is restored
    expect(hex(message)).toBe(
      '010000280018020003280a0300002a04000328020500012a06000028011807000328200800052a090002290a0003280a0b00292b0c000328020d002a2b0e00002808180f000228140016000f1810000328a21100182a12000229130000290000140001280f1815000328021600192a',
    );
    expect(hex(databaseHashMessageCmac(message))).toBe('f1ca2d48ecf58bac8a8830bbb9fba990');
    expect(hex(databaseHash(SPEC_DATABASE))).toBe('90a9fbb9bb30888aac8bf5ec482dcaf1'); // carried LSO first
  });

  it('changes with any handle, type or declaration, not with characteristic values', () => {
    const base = hex(databaseHash(SPEC_DATABASE));
    const withValue = SPEC_DATABASE.map((a) => (a.type === 0x2a19 ? { ...a, value: bytes('63') } : a));
    expect(hex(databaseHash(withValue))).toBe(base);
    fc.assert(
      fc.property(
        fc.nat({ max: SPEC_DATABASE.length - 1 }),
        fc.constantFrom('handle', 'props'),
        (i, what) => {
          const a = SPEC_DATABASE[i]!;
          const counted =
            a.type === ATT_TYPE.characteristic ||
            (a.type >= 0x2800 && a.type <= 0x2802) ||
            (a.type >= 0x2900 && a.type <= 0x2905);
          fc.pre(counted && (what === 'handle' || a.type === ATT_TYPE.characteristic));
          const changed = SPEC_DATABASE.map((b, j) =>
            j !== i
              ? b
              : what === 'handle'
                ? { ...b, handle: b.handle + 0x100 }
                : { ...b, value: Uint8Array.of(b.value![0]! ^ 0x08, ...b.value!.subarray(1)) },
          );
          expect(hex(databaseHash(changed))).not.toBe(base);
        },
      ),
    );
  });
});

describe('the bluetill GATT table', () => {
  it('is laid out as bleno serves it: GAP 1-5, GATT 6-9, bluetill 10-19 with the hash last', () => {
    expect(BLUETILL_GATT_TABLE.services.get('1800')).toEqual({ start: 1, end: 5 });
    expect(BLUETILL_GATT_TABLE.services.get('1801')).toEqual({ start: 6, end: 9 });
    expect(BLUETILL_GATT_LAYOUT.service).toEqual({ start: 0x0a, end: 0x13 });
    expect(BLUETILL_GATT_LAYOUT.write).toEqual({ declaration: 0x0b, value: 0x0c });
    expect(BLUETILL_GATT_LAYOUT.notify).toEqual({ declaration: 0x0d, value: 0x0e, cccd: 0x0f });
    expect(BLUETILL_GATT_LAYOUT.info).toEqual({ declaration: 0x10, value: 0x11 });
    expect(BLUETILL_GATT_LAYOUT.databaseHash).toEqual({ declaration: 0x12, value: 0x13 });
    // The service declaration carries the 128-bit UUID little-endian; the write declaration its properties.
    expect(hex(BLUETILL_GATT_TABLE.attributes.find((a) => a.handle === 0x0a)!.value!)).toBe(
      hex(uuidBytes(GATT.service)),
    );
    expect(BLUETILL_GATT_TABLE.attributes.find((a) => a.handle === 0x0b)!.value![0]).toBe(
      CHAR_PROP.write | CHAR_PROP.writeWithoutResponse,
    );
    expect(BLUETILL_GATT_LAYOUT.hash).toHaveLength(16);
  });

  it('a different table has a different hash', () => {
    const other = layOutGattTable([
      { uuid: GATT.service, characteristics: [{ uuid: GATT.write, properties: CHAR_PROP.write }] },
    ]);
    expect(hex(databaseHash(other.attributes))).not.toBe(hex(BLUETILL_GATT_LAYOUT.hash));
  });

  it('rejects malformed UUIDs', () => {
    expect(() => uuidBytes('12345')).toThrow(RangeError);
    expect(hex(uuidBytes('2a00'))).toBe('002a');
  });
});
