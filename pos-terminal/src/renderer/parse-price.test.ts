import { describe, expect, it } from 'vitest';
import { parsePrice } from './parse-price';

describe('parsePrice', () => {
  it('reads prices with a dot or a comma into integer minor units', () => {
    expect(parsePrice('2.49')).toBe(249);
    expect(parsePrice('2,5')).toBe(250);
    expect(parsePrice(' 12 ')).toBe(1200);
    expect(parsePrice('0.07')).toBe(7);
  });
  it('refuses what is not a price', () => {
    for (const bad of ['', '-1', '1.234', 'abc', '1e3', '12345678']) expect(parsePrice(bad)).toBeNull();
  });
});
