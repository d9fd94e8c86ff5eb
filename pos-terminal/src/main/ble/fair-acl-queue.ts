/**
 * Fair sharing of the controller's ACL buffers between connections.
 *
 * bleno 0.12 keeps one FIFO of outgoing ACL packets for all connections and sends from its head
 * whenever the controller has a free buffer (`_aclMaxInProgress`, from LE Read Buffer Size). A
 * buffer is only given back (Number Of Completed Packets) at that connection's next connection
 * event, so a burst to one phone (a receipt, a certificate chain) fills the queue and every other
 * phone's one-packet ATT response waits behind it: measured with 50 phones at a 30 ms interval and
 * 24 buffers, simple GATT requests took 200-270 ms to be answered.
 *
 * This replaces bleno's `pushAclOutQueue` on one HCI instance with a scheduler that, for each free
 * buffer, picks the connection with the fewest packets in the controller (ties: round robin after
 * the last one served) and sends that connection's oldest queued packet. It is work-conserving (a
 * lone connection still gets every buffer), keeps each connection's packets in order (fragments
 * of one L2CAP PDU stay contiguous per handle), and leaves bleno's own bookkeeping
 * (`_handleAclsInProgress`, the queue array that bleno filters on disconnect) as it is.
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

export interface FairAclStats {
  /** Packets sent out of arrival order (another connection's older packet was waiting). */
  reordered: number;
  /** Largest queue length seen. */
  maxQueued: number;
  /** Packets sent, and the time they waited in the host's queue for a controller buffer. */
  sent: number;
  waitMsTotal: number;
  waitMsMax: number;
}

/** Index in `queue` of the next packet to send, or -1 when the queue is empty. */
export function pickNextPacket(queue: readonly AclPacket[], inProgress: Readonly<Record<string, number>>, lastHandle: number): number {
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

/**
 * Installs the scheduler on one bleno HCI instance and returns its counters. With `fair: false`
 * bleno's own order (one FIFO) is kept and only counted, to measure the difference.
 */
export function installFairAclQueue(hci: BlenoHciAclState, o: { fair?: boolean } = {}): FairAclStats {
  const fair = o.fair ?? true;
  const stats: FairAclStats = { reordered: 0, maxQueued: 0, sent: 0, waitMsTotal: 0, waitMsMax: 0 };
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
      const index = fair ? pickNextPacket(queue, hci._handleAclsInProgress, lastHandle) : 0;
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
