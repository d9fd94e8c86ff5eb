/** compact: byte views into larger buffers cross threads at their own size, with the same bytes. */
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compact, ownBytes } from './messages';

describe('compact', () => {
  it('gives views into a larger buffer their own buffer, and keeps every value', () => {
    const pool = Buffer.alloc(8192, 7);
    const msg = {
      a: pool.subarray(10, 14),
      nested: { list: [pool.subarray(0, 3), 'x', 5, null], own: new Uint8Array(4) },
      n: 1,
      s: 's',
      u: undefined,
    };
    const out = compact(msg);
    expect(out).toEqual({
      ...msg,
      a: new Uint8Array(pool.subarray(10, 14)),
      nested: { list: [new Uint8Array(pool.subarray(0, 3)), 'x', 5, null], own: msg.nested.own },
    });
    expect(out.a.buffer.byteLength).toBe(4);
    expect((out.nested.list[0] as Uint8Array).buffer.byteLength).toBe(3);
    expect(out.nested.own).toBe(msg.nested.own); // already compact: not copied
    // What postMessage carries: the whole pool for a view, the bytes alone once compact.
    const { port1, port2 } = new MessageChannel();
    const carried = (m: unknown) => {
      port1.postMessage(m);
      return (receiveMessageOnPort(port2)!.message as { a: Uint8Array }).a.buffer.byteLength;
    };
    expect(carried(msg)).toBe(8192);
    expect(carried(out)).toBe(4);
    port1.close();
  });

  it('leaves the bytes of any view unchanged (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(32), (bytes, at) => {
        const backing = new Uint8Array(bytes.length + at + 5);
        backing.set(bytes, at);
        const view = backing.subarray(at, at + bytes.length);
        expect(Array.from(compact({ v: view }).v)).toEqual(Array.from(bytes));
      }),
    );
  });

  it('ownBytes moves a buffer of its own and copies a view out of a larger one', () => {
    const own = Uint8Array.of(1, 2, 3);
    expect(ownBytes(own).bytes).toBe(own);
    const view = new Uint8Array(8192).subarray(10, 14);
    view.set([9, 8, 7, 6]);
    const { bytes, transfer } = ownBytes(view);
    expect(Array.from(bytes)).toEqual([9, 8, 7, 6]);
    expect(bytes.buffer.byteLength).toBe(4);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage({ bytes }, transfer);
    expect(bytes.byteLength).toBe(0); // moved: detached here
    expect(Array.from((receiveMessageOnPort(port2)!.message as { bytes: Uint8Array }).bytes)).toEqual([
      9, 8, 7, 6,
    ]);
    port1.close();
  });
});
