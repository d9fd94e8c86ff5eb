/**
 * How the till shares the controller's ACL buffers between connections.
 *
 * bleno 0.12 keeps one FIFO of outgoing ACL packets for all connections and sends from its head
 * whenever the controller has a free buffer (`_aclMaxInProgress`, from LE Read Buffer Size). A
 * buffer is only given back (Number Of Completed Packets) at that connection's next connection
 * event, so a long burst to one phone (a big receipt, 30+ packets) takes every buffer and every
 * other phone's packets wait behind it for several connection events.
 *
 * This replaces bleno's `pushAclOutQueue` on one HCI instance with a scheduler; policies:
 * - `capped_fifo` (default): packets go in the order they were queued, but no connection holds
 *   more than `perLinkCap` (default 6) of the controller's buffers: a connection moves only so many
 *   packets per connection event, so more buffers would only hold the others back. A phone's
 *   several notifications (a HelloAck is 3) leave together, in one connection event, and a long
 *   burst cannot starve the others. Not work-conserving past the cap, on purpose.
 * - `fair`: each free buffer to the connection with the fewest packets in the controller (ties
 *   round robin), its oldest packet. Every phone progresses, one packet each in turn — which
 *   spreads each phone's multi-packet message over as many rounds (measured, 50 phones at 30 ms,
 *   24 buffers, 5 interleaved pairs: p99 connect-to-receipt median 898 ms against 796 ms for
 *   capped_fifo; p50 860 against 734 ms; in two whole `make bench` runs 917 / 791 against 683 / 792).
 * - `fifo`: bleno's own order (kept for measuring the difference).
 * Every policy keeps each connection's packets in order (fragments of one L2CAP PDU stay
 * contiguous per handle) and leaves bleno's own bookkeeping (`_handleAclsInProgress`, the queue
 * array that bleno filters on disconnect) as it is.
 */

export interface AclPacket {
  readonly handle: number;
  readonly pkt: Buffer;
  readonly fragId?: number;
}

/** The part of bleno's `Hci` (lib/hci-socket/hci.js, 0.12) the scheduler works on. */
export interface BlenoHciAclState {
  _aclMaxInProgress: number;
  _handleAclsInProgress: Record<string, number>;
  _aclOutQueue: AclPacket[];
  _socket: { write(data: Buffer): unknown };
  pushAclOutQueue(): void;
}

export type AclPolicy = 'capped_fifo' | 'fair' | 'fifo';

export interface AclStats {
  /** Packets sent out of arrival order (another connection's older packet was waiting). */
  reordered: number;
  /** Largest queue length seen. */
  maxQueued: number;
  /** Packets sent, and the time they waited in the host's queue for a controller buffer. */
  sent: number;
  waitMsTotal: number;
  waitMsMax: number;
}

/** `fair`: index in `queue` of the next packet to send, or -1 when the queue is empty. */
export function pickNextPacket(
  queue: readonly AclPacket[],
  inProgress: Readonly<Record<string, number>>,
  lastHandle: number,
): number {
  const firstOf = new Map<number, number>();
  for (let i = 0; i < queue.length; i++) {
    const h = queue[i]!.handle;
    if (!firstOf.has(h)) firstOf.set(h, i);
  }
  let best = -1;
  let bestLoad = Infinity;
  let bestOrder = Infinity;
  for (const [handle, index] of firstOf) {
    const load = inProgress[handle] ?? 0;
    // Round robin: handles after the last one served come first, then wrap around.
    const order = handle > lastHandle ? handle - lastHandle : handle - lastHandle + 0x10000;
    if (load < bestLoad || (load === bestLoad && order < bestOrder)) {
      best = index;
      bestLoad = load;
      bestOrder = order;
    }
  }
  return best;
}

/** Index in `queue` of the oldest packet whose connection holds fewer than `cap` buffers, or -1. */
export function pickCappedFifo(
  queue: readonly AclPacket[],
  inProgress: Readonly<Record<string, number>>,
  cap: number,
): number {
  return queue.findIndex((p) => (inProgress[p.handle] ?? 0) < cap);
}

/** Installs the scheduler on one bleno HCI instance and returns its counters. */
export function installAclScheduler(
  hci: BlenoHciAclState,
  o: { policy?: AclPolicy; perLinkCap?: number } = {},
): AclStats {
  const policy = o.policy ?? 'capped_fifo';
  const cap = o.perLinkCap ?? 6;
  if (!Number.isInteger(cap) || cap < 1) throw new RangeError('perLinkCap must be a positive integer');
  const stats: AclStats = { reordered: 0, maxQueued: 0, sent: 0, waitMsTotal: 0, waitMsMax: 0 };
  const queuedAt = new WeakMap<AclPacket, number>();
  let lastHandle = 0;
  hci.pushAclOutQueue = function pushAclOutQueue(this: BlenoHciAclState): void {
    const queue = hci._aclOutQueue;
    stats.maxQueued = Math.max(stats.maxQueued, queue.length);
    const now = performance.now();
    for (let i = queue.length - 1; i >= 0 && !queuedAt.has(queue[i]!); i--) queuedAt.set(queue[i]!, now);
    let inFlight = 0;
    for (const n of Object.values(hci._handleAclsInProgress)) inFlight += n;
    while (inFlight < hci._aclMaxInProgress && queue.length > 0) {
      const index =
        policy === 'fair'
          ? pickNextPacket(queue, hci._handleAclsInProgress, lastHandle)
          : policy === 'capped_fifo'
            ? pickCappedFifo(queue, hci._handleAclsInProgress, cap)
            : 0;
      if (index < 0) break; // every queued packet's connection is at its cap
      const [packet] = queue.splice(index, 1);
      if (index > 0) stats.reordered++;
      lastHandle = packet!.handle;
      // bleno drops a connection's queued packets when it disconnects; one that still names a
      // handle bleno no longer tracks is dropped the same way.
      if (hci._handleAclsInProgress[packet!.handle] === undefined) continue;
      hci._handleAclsInProgress[packet!.handle]!++;
      inFlight++;
      hci._socket.write(packet!.pkt);
      const waited = now - (queuedAt.get(packet!) ?? now);
      stats.sent++;
      stats.waitMsTotal += waited;
      stats.waitMsMax = Math.max(stats.waitMsMax, waited);
    }
  };
  return stats;
}
