/**
 * The till's GATT database as attributes, its Database Hash (Bluetooth Core 5.1, Vol 3 Part G
 * 7.3: "robust caching"), and the well-known bluetill layout a phone may use without discovery.
 *
 * A phone that connects for the first time would otherwise spend eight ATT round trips (about
 * two connection intervals each) before its first message: MTU, three Read By Group Type, two
 * Read By Type for the characteristics, one for the CCCD, the CCCD write. Instead it reads the Database Hash at its well-known handle; if the
 * hash equals the hash of the bluetill layout below, every handle is known and only the CCCD
 * write is left. Any other hash (another stack, another version) means full discovery. The hash
 * covers every handle, attribute type and declaration, so equal hashes mean the same layout.
 *
 * Deviation, documented: the standard puts the Database Hash characteristic (0x2B2A) in the GATT
 * service (0x1801). bleno builds that service itself, so the till carries it as the last
 * characteristic of the bluetill service; the hash is computed the standard way over the whole
 * database either way.
 */
import { aesCmac } from '../emv/mac';
import { GATT } from './gatt';

/** Attribute types (16-bit UUIDs) of GATT declarations and descriptors (Core Vol 3 Part G 3). */
export const ATT_TYPE = {
  primaryService: 0x2800,
  secondaryService: 0x2801,
  include: 0x2802,
  characteristic: 0x2803,
  extendedProperties: 0x2900,
  userDescription: 0x2901,
  clientConfiguration: 0x2902,
  serverConfiguration: 0x2903,
  presentationFormat: 0x2904,
  aggregateFormat: 0x2905,
} as const;

/** The Database Hash characteristic (Core 5.1 Vol 3 Part G 7.3). */
export const DATABASE_HASH_UUID = '2b2a';

/** Characteristic properties (Core Vol 3 Part G 3.3.1.1). */
export const CHAR_PROP = {
  read: 0x02,
  writeWithoutResponse: 0x04,
  write: 0x08,
  notify: 0x10,
  indicate: 0x20,
} as const;

/** One attribute of a GATT database: handle, type (a 16-bit UUID) and value (declarations only). */
export interface GattAttribute {
  readonly handle: number;
  readonly type: number;
  /** The declaration's value; characteristic values are not part of the hash and are left out. */
  readonly value?: Uint8Array;
}

export interface GattCharacteristicSpec {
  /** 16-bit ('2a00') or 128-bit UUID as hex, most significant byte first, no dashes. */
  readonly uuid: string;
  readonly properties: number;
}

export interface GattServiceSpec {
  readonly uuid: string;
  readonly characteristics: readonly GattCharacteristicSpec[];
}

/** A UUID as it is carried over the air: little-endian, 2 or 16 bytes. */
export function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '').toLowerCase();
  if (!/^([0-9a-f]{4}|[0-9a-f]{32})$/.test(hex)) throw new RangeError(`not a 16- or 128-bit UUID: ${uuid}`);
  return new Uint8Array(Buffer.from(hex, 'hex').reverse());
}

const le16 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >> 8) & 0xff);

/** Where each characteristic landed: declaration, value and (notify/indicate) CCCD handles. */
export interface CharacteristicHandles {
  readonly declaration: number;
  readonly value: number;
  readonly cccd?: number;
}

export interface GattTable {
  readonly attributes: readonly GattAttribute[];
  /** By service UUID: first and last handle. */
  readonly services: ReadonlyMap<string, { readonly start: number; readonly end: number }>;
  /** By characteristic UUID (unique in the tables built here). */
  readonly characteristics: ReadonlyMap<string, CharacteristicHandles>;
}

/**
 * Lays out services from handle 1 the way a simple server does (and bleno does): service
 * declaration, then per characteristic its declaration, its value, and a CCCD when it notifies
 * or indicates.
 */
export function layOutGattTable(services: readonly GattServiceSpec[]): GattTable {
  const attributes: GattAttribute[] = [];
  const serviceRanges = new Map<string, { start: number; end: number }>();
  const chars = new Map<string, CharacteristicHandles>();
  let handle = 0;
  for (const s of services) {
    const start = ++handle;
    attributes.push({ handle: start, type: ATT_TYPE.primaryService, value: uuidBytes(s.uuid) });
    for (const c of s.characteristics) {
      const declaration = ++handle;
      const value = ++handle;
      attributes.push({
        handle: declaration,
        type: ATT_TYPE.characteristic,
        value: Uint8Array.of(c.properties, ...le16(value), ...uuidBytes(c.uuid)),
      });
      let cccd: number | undefined;
      if (c.properties & (CHAR_PROP.notify | CHAR_PROP.indicate)) {
        cccd = ++handle;
        attributes.push({ handle: cccd, type: ATT_TYPE.clientConfiguration });
      }
      chars.set(c.uuid, cccd === undefined ? { declaration, value } : { declaration, value, cccd });
    }
    serviceRanges.set(s.uuid, { start, end: handle });
  }
  return { attributes, services: serviceRanges, characteristics: chars };
}

const WITH_VALUE = new Set<number>([
  ATT_TYPE.primaryService,
  ATT_TYPE.secondaryService,
  ATT_TYPE.include,
  ATT_TYPE.characteristic,
  ATT_TYPE.extendedProperties,
]);
const WITHOUT_VALUE = new Set<number>([
  ATT_TYPE.userDescription,
  ATT_TYPE.clientConfiguration,
  ATT_TYPE.serverConfiguration,
  ATT_TYPE.presentationFormat,
  ATT_TYPE.aggregateFormat,
]);

/**
 * The Database Hash: AES-CMAC with a zero key over, in handle order, handle ‖ type ‖ value of
 * every service, include, characteristic declaration and extended-properties descriptor, and
 * handle ‖ type of the other GATT-defined descriptors (Core 5.1 Vol 3 Part G 7.3.1). Returned
 * in the order it is carried over the air (least significant octet first).
 */
export function databaseHash(attributes: readonly GattAttribute[]): Uint8Array {
  return databaseHashMessageCmac(databaseHashMessage(attributes)).reverse();
}

/** The bytes the hash is computed over (exported for the specification's test vector). */
export function databaseHashMessage(attributes: readonly GattAttribute[]): Uint8Array {
  const parts: number[] = [];
  for (const a of [...attributes].sort((x, y) => x.handle - y.handle)) {
    if (WITH_VALUE.has(a.type)) parts.push(...le16(a.handle), ...le16(a.type), ...(a.value ?? []));
    else if (WITHOUT_VALUE.has(a.type)) parts.push(...le16(a.handle), ...le16(a.type));
  }
  return Uint8Array.from(parts);
}

/** AES-CMAC under the all-zero key, most significant octet first (as the specification prints it). */
export const databaseHashMessageCmac = (message: Uint8Array): Uint8Array =>
  aesCmac(new Uint8Array(16), message);

/**
 * The bluetill till's whole database as bleno serves it: GAP (device name, appearance), GATT
 * (Service Changed with its CCCD), then the bluetill service with the Database Hash last.
 */
export const BLUETILL_GATT_TABLE: GattTable = layOutGattTable([
  {
    uuid: '1800',
    characteristics: [
      { uuid: '2a00', properties: CHAR_PROP.read },
      { uuid: '2a01', properties: CHAR_PROP.read },
    ],
  },
  { uuid: '1801', characteristics: [{ uuid: '2a05', properties: CHAR_PROP.indicate }] },
  {
    uuid: GATT.service,
    characteristics: [
      { uuid: GATT.write, properties: CHAR_PROP.write | CHAR_PROP.writeWithoutResponse },
      { uuid: GATT.notify, properties: CHAR_PROP.notify },
      { uuid: GATT.info, properties: CHAR_PROP.read },
      { uuid: DATABASE_HASH_UUID, properties: CHAR_PROP.read },
    ],
  },
]);

const handlesOf = (uuid: string): CharacteristicHandles => {
  const h = BLUETILL_GATT_TABLE.characteristics.get(uuid);
  if (!h) throw new Error(`bluetill GATT table lacks ${uuid}`);
  return h;
};

/** The handles a phone uses when the till's Database Hash equals `hash`. */
export const BLUETILL_GATT_LAYOUT = {
  hash: databaseHash(BLUETILL_GATT_TABLE.attributes),
  service: BLUETILL_GATT_TABLE.services.get(GATT.service)!,
  write: handlesOf(GATT.write),
  notify: handlesOf(GATT.notify) as Required<CharacteristicHandles>,
  info: handlesOf(GATT.info),
  databaseHash: handlesOf(DATABASE_HASH_UUID),
} as const;
