import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  installAclScheduler,
  pickCappedFifo,
  pickNextPacket,
  type AclPacket,
  type AclPolicy,
  type BlenoHciAclState,
} from './acl-scheduler';

/** bleno's HCI as far as the scheduler sees it: a queue, per-handle counts, a socket that records. */
function fakeHci(maxInProgress: number, handles: number[]) {
  const written: AclPacket[] = [];
  const byPkt = new Map<Buffer, AclPacket>();
  const hci: BlenoHciAclState = {
    _aclMaxInProgress: maxInProgress,
    _handleAclsInProgress: Object.fromEntries(handles.map((h) => [String(h), 0])),
    _aclOutQueue: [],
    _socket: { write: (pkt: Buffer) => written.push(byPkt.get(pkt)!) },
    pushAclOutQueue() {
      throw new Error('replaced by the scheduler');
    },
  };
  let seq = 0;
  return {
    hci,
    written,
    /** What bleno's queueAclDataPkt does: push fragments, then push the queue. */
    queue(handle: number, fragments = 1) {
      for (let i = 0; i < fragments; i++) {
        const p = { handle, pkt: Buffer.from([seq++]), fragId: i };
        byPkt.set(p.pkt, p);
        hci._aclOutQueue.push(p);
      }
      hci.pushAclOutQueue();
    },
    /** Number Of Completed Packets for one handle. */
    complete(handle: number, n = 1) {
      hci._handleAclsInProgress[handle] = Math.max(0, hci._handleAclsInProgress[handle]! - n);
      hci.pushAclOutQueue();
    },
    inFlight: () => Object.values(hci._handleAclsInProgress).reduce((a, b) => a + b, 0),
  };
}

describe('pickNextPacket (fair)', () => {
  const p = (handle: number): AclPacket => ({ handle, pkt: Buffer.alloc(0) });

  it('takes the connection with the fewest packets in the controller', () => {
    expect(pickNextPacket([p(1), p(1), p(2)], { 1: 3, 2: 1 }, 0)).toBe(2);
  });

  it('breaks ties round robin after the last connection served, wrapping around', () => {
    const q = [p(1), p(2), p(3)];
    expect(pickNextPacket(q, {}, 1)).toBe(1);
    expect(pickNextPacket(q, {}, 2)).toBe(2);
    expect(pickNextPacket(q, {}, 3)).toBe(0);
  });

  it("returns each connection's oldest packet and -1 for an empty queue", () => {
    expect(pickNextPacket([p(2), p(1), p(2)], { 1: 1, 2: 0 }, 0)).toBe(0);
    expect(pickNextPacket([], {}, 0)).toBe(-1);
  });
});

describe('pickCappedFifo', () => {
  const p = (handle: number): AclPacket => ({ handle, pkt: Buffer.alloc(0) });
  it('takes the oldest packet whose connection is under the cap; -1 when all are at it', () => {
    expect(pickCappedFifo([p(1), p(2), p(1)], { 1: 0, 2: 0 }, 2)).toBe(0);
    expect(pickCappedFifo([p(1), p(2), p(1)], { 1: 2, 2: 0 }, 2)).toBe(1);
    expect(pickCappedFifo([p(1), p(1)], { 1: 2 }, 2)).toBe(-1);
    expect(pickCappedFifo([], {}, 2)).toBe(-1);
  });
});

describe('installAclScheduler', () => {
  it("a burst to one phone does not hold back another phone's answer (bleno's FIFO does)", () => {
    const waitOfLone = (policy: AclPolicy): number => {
      const f = fakeHci(8, [1, 2]);
      installAclScheduler(f.hci, { policy, perLinkCap: 6 });
      f.queue(1, 40); // a long receipt for phone 1
      f.queue(2); // a one-packet ATT response for phone 2
      let credits = 0;
      while (!f.written.some((w) => w.handle === 2)) {
        f.complete(1);
        credits++;
      }
      return credits;
    };
    expect(waitOfLone('capped_fifo')).toBe(0); // phone 1 holds 6 of the 8 buffers at most: phone 2's goes at once
    expect(waitOfLone('fair')).toBe(1); // phone 1 took all 8 before phone 2's came; the first one back is phone 2's
    expect(waitOfLone('fifo')).toBe(33); // behind the 32 packets of phone 1 still queued
  });

  it("capped_fifo keeps a phone's several packets together, in the order they came (fair interleaves them)", () => {
    const order = (policy: AclPolicy) => {
      const f = fakeHci(24, [1, 2, 3]);
      installAclScheduler(f.hci, { policy });
      f.hci._handleAclsInProgress = { 1: 0, 2: 0, 3: 0 };
      // Three HelloAcks of 3 notifications each, queued before a buffer frees (all 24 taken).
      f.hci._aclMaxInProgress = 0;
      for (const h of [1, 2, 3]) f.queue(h, 3);
      f.hci._aclMaxInProgress = 24;
      f.hci.pushAclOutQueue();
      return f.written.map((w) => w.handle);
    };
    expect(order('capped_fifo')).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3]);
    expect(order('fair')).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3]);
  });

  it('capped_fifo gives a lone connection no more than its cap; the rest goes as buffers come back', () => {
    const f = fakeHci(24, [7]);
    installAclScheduler(f.hci, { perLinkCap: 6 });
    f.queue(7, 10);
    expect(f.inFlight()).toBe(6);
    expect(f.hci._aclOutQueue).toHaveLength(4);
    f.complete(7, 6);
    expect(f.inFlight()).toBe(4);
    expect(f.hci._aclOutQueue).toHaveLength(0);
    expect(() => installAclScheduler(fakeHci(1, [1]).hci, { perLinkCap: 0 })).toThrow(RangeError);
  });

  it('fair gives a lone connection every buffer (work-conserving)', () => {
    const f = fakeHci(4, [7]);
    installAclScheduler(f.hci, { policy: 'fair' });
    f.queue(7, 10);
    expect(f.inFlight()).toBe(4);
    expect(f.hci._aclOutQueue).toHaveLength(6);
  });

  it('drops a packet that names a connection bleno no longer tracks', () => {
    for (const policy of ['capped_fifo', 'fair', 'fifo'] as const) {
      const f = fakeHci(4, [1]);
      installAclScheduler(f.hci, { policy });
      f.queue(9);
      f.queue(1);
      expect(f.written.map((w) => w.handle)).toEqual([1]);
      expect(f.hci._aclOutQueue).toHaveLength(0);
    }
  });

  it('counts waits, reordering and the longest queue', () => {
    const f = fakeHci(1, [1, 2]);
    const stats = installAclScheduler(f.hci, { policy: 'fair' });
    f.queue(1, 3);
    f.queue(2);
    f.complete(1);
    expect(stats.sent).toBe(2);
    expect(stats.reordered).toBe(1); // phone 2's packet went before phone 1's older ones
    expect(stats.maxQueued).toBe(3); // three fragments of phone 1 queued at once
  });

  it("never exceeds the controller's buffers or a cap, keeps each connection's order and loses nothing (random schedules, every policy)", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('queue' as const),
        handle: fc.integer({ min: 1, max: 5 }),
        fragments: fc.integer({ min: 1, max: 6 }),
      }),
      fc.record({
        kind: fc.constant('complete' as const),
        handle: fc.integer({ min: 1, max: 5 }),
        n: fc.integer({ min: 1, max: 3 }),
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom<AclPolicy>('capped_fifo', 'fair', 'fifo'),
        fc.array(op, { maxLength: 200 }),
        (max, cap, policy, ops) => {
          const f = fakeHci(max, [1, 2, 3, 4, 5]);
          installAclScheduler(f.hci, { policy, perLinkCap: cap });
          let queued = 0;
          for (const o of ops) {
            if (o.kind === 'queue') {
              f.queue(o.handle, o.fragments);
              queued += o.fragments;
            } else f.complete(o.handle, o.n);
            expect(f.inFlight()).toBeLessThanOrEqual(max);
            if (policy === 'capped_fifo')
              for (const n of Object.values(f.hci._handleAclsInProgress)) expect(n).toBeLessThanOrEqual(cap);
          }
          // Drain: complete everything until the queue is empty.
          for (let guard = 0; f.hci._aclOutQueue.length > 0 && guard < 10_000; guard++)
            for (const h of [1, 2, 3, 4, 5]) f.complete(h, max);
          expect(f.written).toHaveLength(queued);
          for (const h of [1, 2, 3, 4, 5]) {
            const seqs = f.written.filter((w) => w.handle === h).map((w) => w.pkt[0]!);
            expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
