import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { caKeysFromList } from './ca-key-list';

const key = (index: number) => ({
  index,
  modulus: Buffer.from([0xc1, 0x02]).toString('base64'),
  exponent: 'Aw==',
});

describe('caKeysFromList', () => {
  it('reads each entry by its index, modulus and exponent as bytes', () => {
    const keys = caKeysFromList([key(0x92), key(0)]);
    expect([...keys.keys()]).toEqual([0x92, 0]);
    expect(keys.get(0x92)).toEqual({ modulus: Uint8Array.of(0xc1, 0x02), exponent: Uint8Array.of(3) });
  });

  it('refuses what is not a list, an entry out of shape, and an index listed twice', () => {
    expect(() => caKeysFromList({})).toThrow('not a list');
    expect(() => caKeysFromList([{ ...key(1), index: 256 }])).toThrow('index 0-255');
    expect(() => caKeysFromList([{ ...key(1), index: 1.5 }])).toThrow('index 0-255');
    expect(() => caKeysFromList([{ ...key(1), modulus: 'not base64!' }])).toThrow('base64');
    expect(() => caKeysFromList([{ index: 1, modulus: 'AQ==' }])).toThrow('base64');
    expect(() => caKeysFromList([null])).toThrow('index 0-255');
    expect(() => caKeysFromList([key(7), key(7)])).toThrow('index 7 twice');
  });

  it('any JSON value gives a map or an Error, nothing else', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        let out: unknown;
        try {
          out = caKeysFromList(v);
        } catch (e) {
          out = e;
        }
        expect(out instanceof Map || out instanceof Error).toBe(true);
      }),
    );
  });
});
