import { describe, expect, it } from 'vitest';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { parseCount, parseHci } from './hci-option';

describe('--hci', () => {
  it.each([
    [undefined, { transport: 'socket', deviceId: 0 }],
    ['socket:1', { transport: 'socket', deviceId: 1 }],
    ['socket', { transport: 'socket', deviceId: 0 }],
    ['uart:/dev/pts/7', { transport: 'uart', path: '/dev/pts/7' }],
    ['uart:/dev/ttyUSB0@115200', { transport: 'uart', path: '/dev/ttyUSB0', baudRate: 115200 }],
  ])('%s', (value, expected) => {
    expect(parseHci(value)).toEqual(expected);
  });

  it.each(['usb:1', 'uart:', 'socket:-1', 'socket:x', 'uart:/dev/x@fast'])(
    '%s is a usage error (exit 2)',
    (value) => {
      expect(() => parseHci(value)).toThrow(CliError);
      try {
        parseHci(value);
      } catch (e) {
        expect((e as CliError).exitCode).toBe(EXIT.usage);
      }
    },
  );

  it('counts are whole non-negative numbers', () => {
    expect(parseCount('--timeout', '1500')).toBe(1500);
    expect(() => parseCount('--timeout', '1.5')).toThrow('--timeout must be a whole number');
    expect(() => parseCount('--timeout', '-1')).toThrow(CliError);
  });
});
