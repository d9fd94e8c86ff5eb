/**
 * vpcd wire format (vsmartcard's virtual reader driver for pcscd, card side = "vpicc"):
 *
 *   | length (2 bytes, big-endian) | payload (length bytes) |
 *
 * From vpcd to the card, a 1-byte payload is a control code, anything longer is a command APDU.
 * From the card to vpcd: the ATR (after GET ATR) or the response APDU (after a command).
 * Power off / power on / reset get no answer. A length of 0 never occurs (vpcd treats a
 * 0-byte read as the card leaving).
 *
 * | control | byte | card answers    |
 * | ------- | ---- | --------------- |
 * | off     | 0x00 | nothing         |
 * | on      | 0x01 | nothing         |
 * | reset   | 0x02 | nothing         |
 * | get ATR | 0x04 | the ATR         |
 */
export const VPCD_CONTROL = { powerOff: 0x00, powerOn: 0x01, reset: 0x02, getAtr: 0x04 } as const;

/** The largest payload the 2-byte length can carry. */
export const VPCD_MAX_PAYLOAD = 0xffff;

export type VpcdFrameErrorCode = 'empty_frame' | 'frame_too_long' | 'payload_too_long';

export class VpcdFrameError extends Error {
  constructor(
    readonly code: VpcdFrameErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'VpcdFrameError';
  }
}

/** Frames one payload (1 … 65535 bytes). */
export function encodeVpcdFrame(payload: Uint8Array): Uint8Array {
  if (payload.length === 0 || payload.length > VPCD_MAX_PAYLOAD) {
    throw new VpcdFrameError(
      'payload_too_long',
      `a vpcd payload is 1…${VPCD_MAX_PAYLOAD} bytes, got ${payload.length}`,
    );
  }
  const frame = new Uint8Array(2 + payload.length);
  frame[0] = payload.length >> 8;
  frame[1] = payload.length & 0xff;
  frame.set(payload, 2);
  return frame;
}

/**
 * Reassembles frames from a TCP byte stream. `push` returns the payloads completed by a chunk
 * and throws VpcdFrameError on a length the protocol never sends (0, or over `maxPayload`);
 * after an error the stream is out of sync and the connection should be dropped.
 */
export class VpcdFrameDecoder {
  private buffer = new Uint8Array(0);

  constructor(private readonly maxPayload: number = VPCD_MAX_PAYLOAD) {
    if (!Number.isInteger(maxPayload) || maxPayload < 1 || maxPayload > VPCD_MAX_PAYLOAD) {
      throw new RangeError(`maxPayload must be 1…${VPCD_MAX_PAYLOAD}`);
    }
  }

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.length);
    const payloads: Uint8Array[] = [];
    let at = 0;
    while (joined.length - at >= 2) {
      const length = (joined[at]! << 8) | joined[at + 1]!;
      if (length === 0) throw new VpcdFrameError('empty_frame', 'vpcd frame with length 0');
      if (length > this.maxPayload) {
        throw new VpcdFrameError('frame_too_long', `vpcd frame of ${length} bytes, limit ${this.maxPayload}`);
      }
      if (joined.length - at - 2 < length) break;
      payloads.push(joined.slice(at + 2, at + 2 + length));
      at += 2 + length;
    }
    this.buffer = joined.slice(at);
    return payloads;
  }

  /** Bytes received that do not yet form a whole frame. */
  get pending(): number {
    return this.buffer.length;
  }
}
