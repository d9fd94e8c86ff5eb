/**
 * A token bucket: up to `burst` events at once, refilled at `perSecond`. The till takes one token
 * for each Hello it answers, because every Hello costs a Challenge from the authorization server:
 * a radio neighbour opening link after link cannot turn the till into an amplifier against the
 * backend. Pure: time comes from the caller's clock.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {
    if (!(burst >= 1) || !(perSecond > 0))
      throw new RangeError('a token bucket needs burst >= 1 and perSecond > 0');
    this.tokens = burst;
    this.at = now();
  }

  /** Takes a token if there is one. */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.at) / 1000) * this.perSecond);
    this.at = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
