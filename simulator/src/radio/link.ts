/**
 * One LE connection between a central and a peripheral controller. Host ACL packets are split
 * into LL data PDUs (llPayloadBytes each) and moved only at connection events, a few per
 * direction per event; Number Of Completed Packets goes back to the sender once a host packet is
 * fully sent. A lost event moves nothing; no good event for the supervision timeout ends the link
 * with reason 0x08, and no good event within the first 6 intervals with 0x3E "Connection Failed to
 * be Established" (Vol 6, Part B, 4.5.2). Each end knows the link by its own controller's handle.
 */
import type { HciController } from './controller';
import { PB_CONTINUATION, PB_FIRST_FLUSHABLE } from './h4';
import { disconnectionComplete, leConnectionUpdateComplete, numberOfCompletedPackets } from './hci-events';
import { STATUS } from './hci-opcodes';
import { intervalUnits, type ResolvedShaping } from './shaping';

interface Chunk {
  readonly data: Buffer;
  readonly first: boolean;
  /** Last LL PDU of one host ACL packet: counts as one completed packet for the sender. */
  readonly endsHostPacket: boolean;
}

export type LinkEndReason =
  | { readonly kind: 'terminated'; readonly by: HciController; readonly reason: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'failed_to_establish' };

/** Connection events within which the first packet must get through (Vol 6, Part B, 4.5.2). */
export const ESTABLISH_EVENTS = 6;

export interface LinkStats {
  events: number;
  lostEvents: number;
  pdus: number;
}

export class Link {
  readonly stats: LinkStats = { events: 0, lostEvents: 0, pdus: 0 };
  closed = false;
  /** Why the link ended (set when it does). */
  endReason: LinkEndReason | undefined;
  private readonly queues = new Map<HciController, Chunk[]>();
  private readonly dead = new Set<HciController>();
  private timer: NodeJS.Timeout | undefined;
  private lastGoodEvent: number;
  private readonly createdAt: number;
  private established = false;
  private pendingEnd: LinkEndReason | undefined;
  private pendingUpdate = false;
  private currentIntervalMs: number;
  requestedIntervalMs: number | undefined;
  requestedSupervisionMs: number;

  constructor(
    readonly handles: { readonly central: number; readonly peripheral: number },
    readonly central: HciController,
    readonly peripheral: HciController,
    private readonly shaping: () => ResolvedShaping & { readonly intervalExplicit: boolean },
    hostSupervisionMs: number,
    private readonly onClosed: (link: Link) => void,
    /** Shaping drew a connection that never gets going (connectFailRate): every event is lost. */
    private readonly failsToEstablish = false,
  ) {
    this.queues.set(central, []);
    this.queues.set(peripheral, []);
    this.requestedSupervisionMs = hostSupervisionMs;
    this.currentIntervalMs = this.intervalMs;
    this.lastGoodEvent = performance.now();
    this.createdAt = this.lastGoodEvent;
    this.schedule();
  }

  /** The handle `c`'s controller gave this link. */
  handleOf(c: HciController): number {
    return c === this.central ? this.handles.central : this.handles.peripheral;
  }

  /** Effective connection interval, ms, on the 1.25 ms grid. */
  get intervalMs(): number {
    const s = this.shaping();
    const ms = s.intervalExplicit
      ? s.connectionIntervalMs
      : (this.requestedIntervalMs ?? s.connectionIntervalMs);
    return intervalUnits(ms) * 1.25;
  }

  get supervisionTimeoutMs(): number {
    const s = this.shaping();
    return s.supervisionTimeoutMs ?? Math.max(this.requestedSupervisionMs, 3 * this.intervalMs, 100);
  }

  peerOf(c: HciController): HciController {
    return c === this.central ? this.peripheral : this.central;
  }

  has(c: HciController): boolean {
    return c === this.central || c === this.peripheral;
  }

  /** An ACL packet from `from`'s host, as received (pb 00/10 first, 01 continuation). */
  hostAcl(from: HciController, pb: number, data: Buffer): void {
    if (this.closed || this.dead.has(from)) return;
    const q = this.queues.get(from);
    if (!q) return;
    const size = this.shaping().llPayloadBytes;
    if (data.length === 0) {
      q.push({ data, first: pb !== PB_CONTINUATION, endsHostPacket: true });
      return;
    }
    for (let off = 0; off < data.length; off += size) {
      const part = data.subarray(off, off + size);
      q.push({
        data: Buffer.from(part),
        first: off === 0 && pb !== PB_CONTINUATION,
        endsHostPacket: off + size >= data.length,
      });
    }
  }

  /** Host asked to disconnect: both ends hear it at the next good event. */
  terminate(by: HciController, reason: number): void {
    if (!this.pendingEnd) this.pendingEnd = { kind: 'terminated', by, reason };
  }

  /** This end's controller vanished (host died or reset): the link can only time out. */
  lose(end: HciController): void {
    this.dead.add(end);
    this.queues.set(end, []);
    end.aclReleased(this.handleOf(end));
  }

  requestUpdate(intervalMs: number, supervisionMs: number): void {
    this.requestedIntervalMs = intervalMs;
    this.requestedSupervisionMs = supervisionMs;
    this.pendingUpdate = true;
  }

  /** Ends the link now without any event (radio shut down). */
  dispose(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    this.currentIntervalMs = this.intervalMs;
    this.timer = setTimeout(() => this.event(), this.currentIntervalMs);
  }

  private event(): void {
    if (this.closed) return;
    this.stats.events++;
    const s = this.shaping();
    const now = performance.now();
    const lost =
      this.failsToEstablish || this.dead.size > 0 || (s.lossRate > 0 && Math.random() < s.lossRate);
    if (lost) {
      this.stats.lostEvents++;
      if (!this.established && now - this.createdAt >= ESTABLISH_EVENTS * this.intervalMs - 1)
        return this.end({ kind: 'failed_to_establish' });
      if (now - this.lastGoodEvent >= this.supervisionTimeoutMs) return this.end({ kind: 'timeout' });
      return this.schedule();
    }
    this.established = true;
    this.lastGoodEvent = now;
    if (this.pendingEnd) return this.end(this.pendingEnd);
    if (this.pendingUpdate) {
      this.pendingUpdate = false;
      for (const end of [this.central, this.peripheral]) {
        const h = this.handleOf(end);
        end.sendEvent(
          leConnectionUpdateComplete(
            h,
            intervalUnits(this.intervalMs),
            0,
            Math.round(this.supervisionTimeoutMs / 10),
          ),
          `le-conn-update h=${h}`,
        );
      }
    }
    this.move(this.central, s);
    this.move(this.peripheral, s);
    this.schedule();
  }

  private move(from: HciController, s: ResolvedShaping): void {
    const q = this.queues.get(from);
    if (!q || q.length === 0) return;
    const to = this.peerOf(from);
    const toHandle = this.handleOf(to);
    const fromHandle = this.handleOf(from);
    const batch = q.splice(0, s.packetsPerEvent);
    let completed = 0;
    for (const chunk of batch) {
      this.stats.pdus++;
      if (chunk.endsHostPacket) completed++;
      const deliver = (): void => {
        if (!this.closed)
          to.sendAcl(toHandle, chunk.first ? PB_FIRST_FLUSHABLE : PB_CONTINUATION, chunk.data);
      };
      if (s.latencyMs > 0) setTimeout(deliver, s.latencyMs);
      else deliver();
    }
    if (completed > 0) {
      from.aclCompleted(fromHandle, completed);
      from.sendEvent(
        numberOfCompletedPackets([{ handle: fromHandle, count: completed }]),
        `nocp h=${fromHandle} n=${completed}`,
      );
    }
  }

  private end(why: LinkEndReason): void {
    this.closed = true;
    this.endReason = why;
    if (this.timer) clearTimeout(this.timer);
    for (const end of [this.central, this.peripheral]) {
      const h = this.handleOf(end);
      // Vol 4, Part E, 4.3: the host counts every packet outstanding on the handle as completed.
      end.aclReleased(h);
      if (this.dead.has(end)) continue;
      let reason: number = STATUS.connectionTimeout;
      if (why.kind === 'terminated') reason = why.by === end ? STATUS.localHostTerminated : why.reason;
      if (why.kind === 'failed_to_establish') reason = STATUS.connectionFailedToBeEstablished;
      end.sendEvent(
        disconnectionComplete(h, reason),
        `disconn-complete h=${h} reason=0x${reason.toString(16)}`,
      );
    }
    this.onClosed(this);
  }
}
