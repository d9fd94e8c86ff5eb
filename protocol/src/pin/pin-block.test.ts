import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  PinBlockError,
  decipherPinBlock4,
  readPinField4,
  decodePinBlock,
  decodePinBlock0,
  encipherPinBlock4,
  encodePinBlock0,
  encodePinBlock1,
  encodePinBlock3,
  panField4,
  pinField4,
} from './pin-block';
import { fromHex, toHex } from '../bytes';

// Vectors: PIN 1234 / 12345 with PAN 0123456789012345, from the test table of
// github.com/ilyadubinsky/cfpp (test/pin_test.c, pin_block_format_tests).
describe('ISO 9564-1 format 0', () => {
  it('matches the published blocks', () => {
    expect(toHex(encodePinBlock0('1234', '0123456789012345'))).toBe('041200A9876FEDCB');
    expect(toHex(encodePinBlock0('12345', '0123456789012345'))).toBe('0512000987 6FEDCB'.replace(' ', ''));
    expect(decodePinBlock0(fromHex('041200A9876FEDCB'), '0123456789012345')).toBe('1234');
  });
  it('rejects a block whose fill is not F', () => {
    expect(() => decodePinBlock0(fromHex('041200A9876FEDCA'), '0123456789012345')).toThrow(PinBlockError);
  });
});

describe('formats 1 and 3', () => {
  it('round-trip and carry their control nibble', () => {
    const b1 = encodePinBlock1('98765');
    expect(b1[0]).toBe(0x15);
    expect(decodePinBlock(1, b1)).toBe('98765');
    const b3 = encodePinBlock3('4321', '4761739001010010');
    expect(decodePinBlock(3, b3, '4761739001010010')).toBe('4321');
    expect(() => decodePinBlock(0, b3, '4761739001010010')).toThrow(PinBlockError);
  });
});

describe('ISO 9564-1 format 4', () => {
  // Field layouts from the same cfpp table: PIN field 4512345AAAAAAAAA ‖ random, PAN field 4 0123456789012345 0…
  it('builds the published plaintext fields', () => {
    expect(toHex(pinField4('12345', fromHex('FB1B8F4DB06CC4F5')))).toBe('4512345AAAAAAAAAFB1B8F4DB06CC4F5');
    expect(toHex(panField4('0123456789012345'))).toBe('40123456789012345000000000000000');
    expect(toHex(panField4('123456789'))).toBe('00001234567890000000000000000000');
  });

  // Expected ciphertext computed independently with the OpenSSL command line (two AES-128-ECB
  // passes around the XOR with the PAN field): key DEADBEEF×4, the fields above.
  it('enciphers to the independently computed block and back', () => {
    const key = fromHex('DEADBEEFDEADBEEFDEADBEEFDEADBEEF');
    const block = encipherPinBlock4(key, '12345', '0123456789012345', fromHex('FB1B8F4DB06CC4F5'));
    expect(toHex(block)).toBe('AC3324A70A56B19744554BD6563AD25C');
    expect(decipherPinBlock4(key, block, '0123456789012345')).toBe('12345');
  });

  it('does not open under another PAN', () => {
    const key = fromHex('000102030405060708090A0B0C0D0E0F');
    const block = encipherPinBlock4(key, '1234', '4761739001010010');
    expect(() => decipherPinBlock4(key, block, '4761739001010011')).toThrow(PinBlockError);
  });

  it('round-trips any PIN and PAN (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^\d{4,12}$/),
        fc.stringMatching(/^\d{12,19}$/),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (pin, pan, key) => {
          expect(decipherPinBlock4(key, encipherPinBlock4(key, pin, pan), pan)).toBe(pin);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random blocks raise only PinBlockError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), (block) => {
        try {
          decipherPinBlock4(new Uint8Array(16), block, '4761739001010010');
        } catch (e) {
          expect(e).toBeInstanceOf(PinBlockError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('format 4 fields, byte by byte', () => {
  it('panField4 is M ‖ the PAN (12 digits at least, zero-padded on the left) ‖ zeros, as hex (ISO 9564-1 format 4), for random PANs', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,19}$/), (pan) => {
        const expected = `${Math.max(0, pan.length - 12).toString(16)}${pan.padStart(12, '0')}`.padEnd(
          32,
          '0',
        );
        expect(toHex(panField4(pan))).toBe(expected.toUpperCase());
      }),
      { numRuns: 500 },
    );
  });

  it('readPinField4 reads back what pinField4 wrote, and refuses every field whose control, length, digits or fill is off', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9]{4,12}$/),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 1, max: 15 }),
        (pin, fill, at, flip) => {
          const field = pinField4(pin, fill);
          expect(readPinField4(field)).toBe(pin);
          const bad = Uint8Array.from(field);
          bad[at]! ^= flip; // a change in the first 8 bytes (control, length, digits, fill)
          let read: string | undefined;
          try {
            read = readPinField4(bad);
          } catch (e) {
            expect(e).toBeInstanceOf(PinBlockError);
          }
          // A changed digit still reads as a (different) PIN; anything else is refused.
          if (read !== undefined) expect(read).not.toBe(pin);
        },
      ),
      { numRuns: 500 },
    );
  });
});
