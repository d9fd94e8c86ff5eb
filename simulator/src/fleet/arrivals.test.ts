import { describe, expect, it } from 'vitest';
import { poissonArrivals } from './arrivals';

describe('poissonArrivals', () => {
  it('is seeded: the same seed gives the same arrivals, another seed others', () => {
    const a = poissonArrivals({ perSecond: 5, count: 50, seed: 7 });
    expect(poissonArrivals({ perSecond: 5, count: 50, seed: 7 })).toEqual(a);
    expect(poissonArrivals({ perSecond: 5, count: 50, seed: 8 })).not.toEqual(a);
  });

  it('draws exponential inter-arrival times: mean 1/rate and standard deviation 1/rate over many draws', () => {
    const n = 20_000;
    const at = poissonArrivals({ perSecond: 10, count: n, seed: 12345 });
    expect(at).toHaveLength(n);
    const gaps = at.map((t, i) => t - (i === 0 ? 0 : at[i - 1]!));
    expect(Math.min(...gaps)).toBeGreaterThan(0);
    const mean = gaps.reduce((s, g) => s + g, 0) / n;
    const sd = Math.sqrt(gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / (n - 1));
    // Standard error of the mean: 100 ms / sqrt(20,000) ≈ 0.7 ms; 3 % is over four of them.
    expect(mean).toBeGreaterThan(97);
    expect(mean).toBeLessThan(103);
    expect(sd / mean).toBeGreaterThan(0.95); // exponential: sd = mean (evenly spaced would give 0)
    expect(sd / mean).toBeLessThan(1.05);
    // Memoryless: about e^-1 of the gaps are longer than the mean.
    expect(gaps.filter((g) => g > 100).length / n).toBeCloseTo(Math.exp(-1), 1);
  });

  it('within a duration: ascending, inside it, about rate x duration of them', () => {
    const at = poissonArrivals({ perSecond: 20, durationS: 100, seed: 3 });
    expect(at.every((t, i) => t < 100_000 && (i === 0 || t > at[i - 1]!))).toBe(true);
    expect(at.length).toBeGreaterThan(2000 - 4 * Math.sqrt(2000));
    expect(at.length).toBeLessThan(2000 + 4 * Math.sqrt(2000));
  });

  it('refuses a rate or a length that is not positive', () => {
    expect(() => poissonArrivals({ perSecond: 0, count: 3, seed: 1 })).toThrow(RangeError);
    expect(() => poissonArrivals({ perSecond: 5, durationS: 0, seed: 1 })).toThrow(RangeError);
  });
});
