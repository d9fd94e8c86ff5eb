import { describe, expect, it } from 'vitest';
import { RateLimiter, addressKey } from './rate-limiter';
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

describe('RateLimiter.check and count (failures counted after the fact)', () => {
  it('check refuses once `max` hits were counted in the window, and counts nothing itself', () => {
    let now = 0;
    const limit = new RateLimiter({ now: () => now }, 2, 1_000, 'failures');
    limit.check('t');
    limit.check('t');
    limit.count('t');
    limit.check('t');
    limit.count('t');
    expect(() => limit.check('t')).toThrow(/too many failures: at most 2/);
    limit.check('u');
    now += 1_001;
    limit.check('t');
  });
});

describe('addressKey', () => {
  it('keeps an IPv4 address, maps an IPv4-mapped IPv6 one to it, and keys an IPv6 address by its /64', () => {
    expect(addressKey('ipv4:192.0.2.7')).toBe('ipv4:192.0.2.7');
    expect(addressKey('ipv6:[::ffff:192.0.2.7]')).toBe('ipv4:192.0.2.7');
    expect(addressKey('ipv6:[2001:db8:1:2:aaaa::1]')).toBe('ipv6:2001:db8:1:2::/64');
    expect(addressKey('ipv6:[2001:db8:1:2:ffff:ffff:ffff:fffe]')).toBe('ipv6:2001:db8:1:2::/64');
    expect(addressKey('ipv6:[2001:db8::1]')).toBe('ipv6:2001:db8:0:0::/64');
    expect(addressKey('ipv6:[2001:db8:1:3::1]')).not.toBe(addressKey('ipv6:[2001:db8:1:2::1]'));
    expect(addressKey('ipv6:[::1]')).toBe('ipv6:0:0:0:0::/64');
  });
});
