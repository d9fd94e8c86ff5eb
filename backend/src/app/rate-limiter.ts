/**
 * A sliding-window limit per key (a card's PAN hash, a peer address), in memory: at most `max`
 * hits per `windowMs`. One backend process; several processes would keep it in a shared store.
 */
import type { Clock } from '../ports/clock';
import { RequestError } from './request-error';

export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly max: number,
    private readonly windowMs: number,
    private readonly what: string,
  ) {}

  /** Counts a hit for `key`; throws RequestError('resource_exhausted') when over the limit (that hit is not counted). */
  take(key: string): void {
    this.check(key);
    this.count(key);
  }

  /** Throws RequestError('resource_exhausted') when `key` has had `max` hits in the window; counts nothing. */
  check(key: string): void {
    const now = this.clock.now();
    const recent = (this.hits.get(key) ?? []).filter((t) => t > now - this.windowMs);
    this.hits.set(key, recent);
    if (recent.length >= this.max)
      throw new RequestError(
        'resource_exhausted',
        `too many ${this.what}: at most ${this.max} per ${Math.round(this.windowMs / 1000)} s`,
      );
  }

  /** Counts a hit for `key` (an outcome known only after the request ran: a failure). */
  count(key: string): void {
    const now = this.clock.now();
    const recent = (this.hits.get(key) ?? []).filter((t) => t > now - this.windowMs);
    recent.push(now);
    this.hits.set(key, recent);
    if (this.hits.size > 100_000) this.prune(now);
  }

  private prune(now: number): void {
    for (const [k, v] of this.hits) if (!v.some((t) => t > now - this.windowMs)) this.hits.delete(k);
  }
}

/**
 * The key a client address is limited by: an IPv4 address as it is; an IPv6 address by its /64
 * (one subscriber's prefix: a client that owns a /64 would otherwise have 2^64 addresses to rotate
 * through). `peer` is the transport's address without the port ("ipv4:1.2.3.4", "ipv6:[2001:db8::1]").
 */
export function addressKey(peer: string): string {
  const v6 = /^(?:ipv6:)?\[?([0-9a-fA-F:.]*:[0-9a-fA-F:.]*)\]?$/.exec(peer);
  if (!v6?.[1]) return peer;
  const addr = v6[1].toLowerCase();
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/.test(addr)) return `ipv4:${addr.slice(7)}`;
  const [head = '', tail = ''] = addr.split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = addr.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = addr.includes('::')
    ? [
        ...headParts,
        ...Array<string>(Math.max(0, 8 - headParts.length - tailParts.length)).fill('0'),
        ...tailParts,
      ]
    : headParts;
  return `ipv6:${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
