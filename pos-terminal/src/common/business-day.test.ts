import { describe, expect, it } from 'vitest';
import { businessDate, businessDayBounds, isTimeZone } from './business-day';

describe('business day', () => {
  it("is midnight to midnight in the shop's zone, across the change to summer time", () => {
    expect(businessDayBounds('2026-12-07', 'Europe/Berlin')).toEqual({
      startMs: Date.parse('2026-12-06T23:00:00Z'),
      endMs: Date.parse('2026-12-07T23:00:00Z'),
    });
    expect(businessDayBounds('2026-12-07', 'America/New_York')).toEqual({
      startMs: Date.parse('2026-12-07T05:00:00Z'),
      endMs: Date.parse('2026-12-08T05:00:00Z'),
    });
    // 29 March 2026: Berlin goes from +1 to +2 at 02:00, a day of 23 hours.
    expect(businessDayBounds('2026-03-29', 'Europe/Berlin')).toEqual({
      startMs: Date.parse('2026-03-28T23:00:00Z'),
      endMs: Date.parse('2026-03-29T22:00:00Z'),
    });
    expect(businessDayBounds('2026-12-31', 'UTC').endMs).toBe(Date.parse('2027-01-01T00:00:00Z'));
    expect(() => businessDayBounds('7.12.2026', 'UTC')).toThrow(RangeError);
  });

  it("names the day a moment falls in, in the shop's zone", () => {
    expect(businessDate(Date.parse('2026-12-07T23:55:00Z'), 'America/New_York')).toBe('2026-12-07');
    expect(businessDate(Date.parse('2026-12-07T23:05:00Z'), 'Europe/Berlin')).toBe('2026-12-08');
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
