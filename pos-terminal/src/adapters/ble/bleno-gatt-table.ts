/**
 * bleno's attribute table (`_bindings._gatt._handles`, @stoprocent/bleno 0.12) as GATT
 * attributes, and the Database Hash over it. Computed over what bleno really serves, never over
 * what we think it serves: if a bleno upgrade lays the table out differently, the hash differs
 * from the bluetill layout and phones fall back to discovery instead of writing to wrong handles.
 */
import { ATT_TYPE, databaseHash, uuidBytes, type GattAttribute } from '@bluetill/protocol';

/** One entry of bleno's table, indexed by handle (holes are undefined). */
export type BlenoHandleEntry =
  | { readonly type: 'service'; readonly uuid: string; readonly startHandle: number }
  | {
      readonly type: 'characteristic';
      readonly uuid: string;
      readonly properties: number;
      readonly startHandle: number;
      readonly valueHandle: number;
    }
  | { readonly type: 'characteristicValue'; readonly handle: number }
  | {
      readonly type: 'descriptor';
      readonly uuid: string;
      readonly handle: number;
      readonly value?: Uint8Array;
    };

export type BlenoHandleTable = ReadonlyArray<BlenoHandleEntry | undefined>;

const le16 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff];

export function blenoGattAttributes(table: BlenoHandleTable): GattAttribute[] {
  const out: GattAttribute[] = [];
  table.forEach((e, handle) => {
    if (!e) return;
    switch (e.type) {
      case 'service':
        out.push({ handle, type: ATT_TYPE.primaryService, value: uuidBytes(e.uuid) });
        break;
      case 'characteristic':
        out.push({
          handle,
          type: ATT_TYPE.characteristic,
          value: Uint8Array.of(e.properties, ...le16(e.valueHandle), ...uuidBytes(e.uuid)),
        });
        break;
      case 'descriptor': {
        const type = /^[0-9a-f]{4}$/i.test(e.uuid) ? parseInt(e.uuid, 16) : -1;
        // 128-bit descriptor types are not GATT-defined: not part of the hash (-1 never matches).
        out.push(e.value ? { handle, type, value: new Uint8Array(e.value) } : { handle, type });
        break;
      }
      case 'characteristicValue':
        break;
    }
  });
  return out;
}

export const blenoDatabaseHash = (table: BlenoHandleTable): Uint8Array =>
  databaseHash(blenoGattAttributes(table));
