import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { installFairAclQueue, pickNextPacket, type AclPacket, type BlenoHciAclState } from './fair-acl-queue';

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

describe('pickNextPacket', () => {
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

  it('returns each connection\'s oldest packet and -1 for an empty queue', () => {
    expect(pickNextPacket([p(2), p(1), p(2)], { 1: 1, 2: 0 }, 0)).toBe(0);
    expect(pickNextPacket([], {}, 0)).toBe(-1);
  });
});

describe('installFairAclQueue', () => {
  it('a burst to one phone does not hold back another phone\'s answer (bleno\'s FIFO does)', () => {
    const waitOfLone = (fair: boolean): number => {
      const f = fakeHci(4, [1, 2]);
      installFairAclQueue(f.hci, { fair });
      f.queue(1, 40); // a receipt and certificates for phone 1
      f.queue(2); // a one-packet ATT response for phone 2
      let credits = 0;
      while (!f.written.some((w) => w.handle === 2)) {
        f.complete(1);
        credits++;
      }
      return credits;
    };
    expect(waitOfLone(true)).toBe(1);
    expect(waitOfLone(false)).toBe(37); // behind the 36 packets of phone 1 still queued
  });

  it('gives a lone connection every buffer (work-conserving)', () => {
    const f = fakeHci(4, [7]);
    installFairAclQueue(f.hci);
    f.queue(7, 10);
    expect(f.inFlight()).toBe(4);
    expect(f.hci._aclOutQueue).toHaveLength(6);
  });

  it('drops a packet that names a connection bleno no longer tracks', () => {
    const f = fakeHci(4, [1]);
    installFairAclQueue(f.hci);
    f.queue(9);
    f.queue(1);
    expect(f.written.map((w) => w.handle)).toEqual([1]);
    expect(f.hci._aclOutQueue).toHaveLength(0);
  });

  it('counts waits, reordering and the longest queue', () => {
    const f = fakeHci(1, [1, 2]);
    const stats = installFairAclQueue(f.hci);
    f.queue(1, 3);
    f.queue(2);
    f.complete(1);
    expect(stats.sent).toBe(2);
    expect(stats.reordered).toBe(1); // phone 2's packet went before phone 1's older ones
    expect(stats.maxQueued).toBe(3); // three fragments of phone 1 queued at once
  });

  it('never exceeds the controller\'s buffers, keeps each connection\'s order and loses nothing (random schedules)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('queue' as const), handle: fc.integer({ min: 1, max: 5 }), fragments: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant('complete' as const), handle: fc.integer({ min: 1, max: 5 }), n: fc.integer({ min: 1, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 200 }), (max, ops) => {
        const f = fakeHci(max, [1, 2, 3, 4, 5]);
        installFairAclQueue(f.hci);
        let queued = 0;
        for (const o of ops) {
          if (o.kind === 'queue') {
            f.queue(o.handle, o.fragments);
            queued += o.fragments;
          } else f.complete(o.handle, o.n);
          expect(f.inFlight()).toBeLessThanOrEqual(max);
        }
        // Drain: complete everything until the queue is empty.
        for (let guard = 0; f.hci._aclOutQueue.length > 0 && guard < 10_000; guard++) for (const h of [1, 2, 3, 4, 5]) f.complete(h, max);
        expect(f.written).toHaveLength(queued);
        for (const h of [1, 2, 3, 4, 5]) {
          const seqs = f.written.filter((w) => w.handle === h).map((w) => w.pkt[0]!);
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        }
      }),
      { numRuns: 300 },
    );
  });
});
