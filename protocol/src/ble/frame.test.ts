import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameError, Reassembler, fragment } from './frame';
import { fromHex, toHex } from '../bytes';

describe('fragment', () => {
  it('puts a small message in one value with FIRST|LAST, counter and length', () => {
    expect(fragment(fromHex('AABBCC'), 20, 5).map(toHex)).toEqual(['C50003AABBCC']);
  });

  it('splits over the value size: first carries the header, continuations one byte', () => {
    const msg = fromHex('00112233445566778899');
    // value size 6: first = 3 header + 3 data, then 5 data per continuation.
    expect(fragment(msg, 6, 1).map(toHex)).toEqual(['81000A001122', '013344556677', '41' + '8899']);
  });

  it('refuses messages over the maximum size and empty ones', () => {
    expect(() => fragment(new Uint8Array(101), 20, 0, 100)).toThrow(FrameError);
    expect(() => fragment(new Uint8Array(0), 20, 0)).toThrow(FrameError);
  });
});

describe('Reassembler', () => {
  const cases: Array<[string, string[], string]> = [
    ['continuation without a first', ['01AABB'], 'unexpected_continuation'],
    ['declared length over the maximum', ['8040000000'], 'message_too_large'],
    ['declared length zero', ['C00000'], 'bad_length'],
    ['more data than declared', ['C00001AABB'], 'too_much_data'],
    ['LAST before the declared length', ['C00003AABB'], 'length_mismatch'],
    ['declared length reached without LAST', ['800002AABB'], 'length_mismatch'],
    ['a first while another is in progress', ['800004AABB', '800001AA'], 'unexpected_first'],
    ['a fragment of another message', ['810004AABB', '42CCDD'], 'counter_mismatch'],
    ['empty value', [''], 'empty_value'],
    ['reserved bits', ['E00001AA'], 'bad_length'],
    ['first shorter than its header', ['C000'], 'bad_length'],
  ];
  it.each(cases)('rejects %s', (_name, values, code) => {
    const r = new Reassembler({ maxMessageSize: 1024 });
    const run = () => values.forEach((v) => r.push(fromHex(v), 0));
    expect(run).toThrow(FrameError);
    try {
      run();
    } catch (e) {
      // the reassembler resets after an error; replaying the same values fails the same way
      expect((e as FrameError).code).toBe(code);
    }
  });

  it('times out an incomplete message', () => {
    const r = new Reassembler({ timeoutMs: 1000 });
    expect(r.push(fromHex('800004AABB'), 0)).toBeNull();
    expect(() => r.check(1001)).toThrowError(expect.objectContaining({ code: 'reassembly_timeout' }));
    expect(r.inProgress).toBe(false);
  });

  it('round-trips any message over any value size (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        fc.integer({ min: 4, max: 512 }),
        fc.nat(15),
        (msg, size, counter) => {
          const r = new Reassembler({ maxMessageSize: 4096 });
          const values = fragment(msg, size, counter, 4096);
          values.forEach((v) => expect(v.length).toBeLessThanOrEqual(size));
          const out = values.map((v) => r.push(v, 0));
          expect(out.slice(0, -1).every((x) => x === null)).toBe(true);
          expect(out.at(-1)).toEqual(msg);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes raise only FrameError (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (values) => {
        const r = new Reassembler({ maxMessageSize: 512, maxValueSize: 60 });
        for (const v of values) {
          try {
            r.push(v, 0);
          } catch (e) {
            expect(e).toBeInstanceOf(FrameError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
