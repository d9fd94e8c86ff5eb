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
    const now = this.clock.now();
    const recent = (this.hits.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (recent.length >= this.max) {
      this.hits.set(key, recent);
      throw new RequestError('resource_exhausted', `too many ${this.what}: at most ${this.max} per ${Math.round(this.windowMs / 1000)} s`);
    }
    recent.push(now);
    this.hits.set(key, recent);
    if (this.hits.size > 100_000) this.prune(now);
  }

  private prune(now: number): void {
    for (const [k, v] of this.hits) if (!v.some((t) => t > now - this.windowMs)) this.hits.delete(k);
  }
}
