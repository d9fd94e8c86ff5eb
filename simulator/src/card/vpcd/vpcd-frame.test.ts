import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeVpcdFrame, VpcdFrameDecoder, VpcdFrameError } from './vpcd-frame';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('vpcd frames', () => {
  it.each([
    ['power off', '00', '00 01 00'],
    ['get ATR', '04', '00 01 04'],
    ['SELECT', '00 A4 04 00 00', '00 05 00 A4 04 00 00'],
  ])('encodes %s', (_name, payload, frame) => {
    expect(encodeVpcdFrame(hex(payload))).toEqual(hex(frame));
  });

  it('refuses an empty or oversized payload', () => {
    expect(() => encodeVpcdFrame(new Uint8Array(0))).toThrow(VpcdFrameError);
    expect(() => encodeVpcdFrame(new Uint8Array(0x10000))).toThrow(VpcdFrameError);
  });

  it('reassembles frames split and joined arbitrarily', () => {
    const decoder = new VpcdFrameDecoder();
    expect(decoder.push(hex('00'))).toEqual([]);
    expect(decoder.push(hex('01 04 00 05 00 A4'))).toEqual([hex('04')]);
    expect(decoder.pending).toBe(4);
    expect(decoder.push(hex('04 00 00 00 01 01'))).toEqual([hex('00 A4 04 00 00'), hex('01')]);
    expect(decoder.pending).toBe(0);
  });

  it.each([
    ['length 0', '00 00', 'empty_frame'],
    ['over the limit', '01 06', 'frame_too_long'],
  ])('rejects %s', (_name, bytes, code) => {
    const decoder = new VpcdFrameDecoder(261);
    expect(() => decoder.push(hex(bytes))).toThrow(expect.objectContaining({ code }));
  });

  it('decode(encode(x)) = x over any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 64 }),
        (payloads, chunk) => {
          const stream = Buffer.concat(payloads.map(encodeVpcdFrame));
          const decoder = new VpcdFrameDecoder();
          const out: Uint8Array[] = [];
          for (let i = 0; i < stream.length; i += chunk)
            out.push(...decoder.push(stream.subarray(i, i + chunk)));
          expect(out).toEqual(payloads);
          expect(decoder.pending).toBe(0);
        },
      ),
    );
  });

  it('random bytes raise only VpcdFrameError and never buffer past the limit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const decoder = new VpcdFrameDecoder(300);
        try {
          decoder.push(bytes);
          expect(decoder.pending).toBeLessThanOrEqual(2 + 300);
        } catch (error) {
          expect(error).toBeInstanceOf(VpcdFrameError);
        }
      }),
    );
  });
});
