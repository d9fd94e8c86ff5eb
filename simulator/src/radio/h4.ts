/**
 * H4 (UART) framing of HCI packets, Bluetooth Core v5.4, Vol 4, Part A, 2: one indicator byte
 * (0x01 command, 0x02 ACL data, 0x04 event) followed by the HCI packet (Vol 4, Part E, 5.4).
 */
export const H4_COMMAND = 0x01;
export const H4_ACL = 0x02;
export const H4_EVENT = 0x04;

/** ACL packet-boundary flag (Vol 4, Part E, 5.4.2). */
export const PB_FIRST_NON_FLUSHABLE = 0b00;
export const PB_CONTINUATION = 0b01;
export const PB_FIRST_FLUSHABLE = 0b10;

export type H4Packet =
  | { readonly kind: 'command'; readonly opcode: number; readonly params: Buffer; readonly raw: Buffer }
  | {
      readonly kind: 'acl';
      readonly handle: number;
      readonly pb: number;
      readonly bc: number;
      readonly data: Buffer;
      readonly raw: Buffer;
    }
  | { readonly kind: 'event'; readonly code: number; readonly params: Buffer; readonly raw: Buffer }
  | { readonly kind: 'garbage'; readonly raw: Buffer };

/**
 * Splits a byte stream into H4 packets. Keeps partial packets across chunks (nothing in the
 * receive buffer is dropped); an unknown indicator byte is reported as `garbage` and skipped so
 * the stream can resynchronise.
 */
export class H4Parser {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): H4Packet[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const packets: H4Packet[] = [];
    for (;;) {
      const b = this.buffer;
      if (b.length === 0) break;
      const type = b[0];
      let total: number;
      if (type === H4_COMMAND) {
        if (b.length < 4) break;
        total = 4 + b.readUInt8(3);
      } else if (type === H4_ACL) {
        if (b.length < 5) break;
        total = 5 + b.readUInt16LE(3);
      } else if (type === H4_EVENT) {
        if (b.length < 3) break;
        total = 3 + b.readUInt8(2);
      } else {
        packets.push({ kind: 'garbage', raw: b.subarray(0, 1) });
        this.buffer = b.subarray(1);
        continue;
      }
      if (b.length < total) break;
      const raw = Buffer.from(b.subarray(0, total));
      this.buffer = b.subarray(total);
      packets.push(decode(raw));
    }
    return packets;
  }

  /** Bytes held for an incomplete packet. */
  get pending(): number {
    return this.buffer.length;
  }

  reset(): void {
    this.buffer = Buffer.alloc(0);
  }
}

const decode = (raw: Buffer): H4Packet => {
  switch (raw[0]) {
    case H4_COMMAND:
      return { kind: 'command', opcode: raw.readUInt16LE(1), params: raw.subarray(4), raw };
    case H4_ACL: {
      const hf = raw.readUInt16LE(1);
      return {
        kind: 'acl',
        handle: hf & 0x0fff,
        pb: (hf >> 12) & 0b11,
        bc: (hf >> 14) & 0b11,
        data: raw.subarray(5),
        raw,
      };
    }
    default:
      return { kind: 'event', code: raw.readUInt8(1), params: raw.subarray(3), raw };
  }
};

/** One H4 ACL data packet, controller to host or host to controller. */
export const encodeAcl = (handle: number, pb: number, data: Buffer): Buffer => {
  const pkt = Buffer.alloc(5 + data.length);
  pkt.writeUInt8(H4_ACL, 0);
  pkt.writeUInt16LE((handle & 0x0fff) | ((pb & 0b11) << 12), 1);
  pkt.writeUInt16LE(data.length, 3);
  data.copy(pkt, 5);
  return pkt;
};

/** One H4 command packet (used by tests and by tools that play the host). */
export const encodeCommand = (opcode: number, params: Buffer = Buffer.alloc(0)): Buffer => {
  const pkt = Buffer.alloc(4 + params.length);
  pkt.writeUInt8(H4_COMMAND, 0);
  pkt.writeUInt16LE(opcode, 1);
  pkt.writeUInt8(params.length, 3);
  params.copy(pkt, 4);
  return pkt;
};
