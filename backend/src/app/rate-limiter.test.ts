import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter';
import { RequestError } from './request-error';

describe('RateLimiter', () => {
  it('lets max hits per key through in a window, refuses the next, and forgets them once the window has passed', () => {
    let now = 1_000;
    const limit = new RateLimiter({ now: () => now }, 2, 60_000, 'tries');
    limit.take('a');
    limit.take('a');
    expect(() => limit.take('a')).toThrow(RequestError);
    expect(() => limit.take('a')).toThrow(/at most 2 per 60 s/);
    limit.take('b');
    now += 60_001;
    limit.take('a');
    limit.take('a');
    expect(() => limit.take('a')).toThrow(expect.objectContaining({ code: 'resource_exhausted' }));
  });
});
