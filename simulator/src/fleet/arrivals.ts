/**
 * When shoppers reach the till in an open-loop fleet: a Poisson process, i.e. exponential
 * inter-arrival times with mean 1/rate, drawn from a seeded generator so that a run can be
 * repeated from its seed. Each arrival is one phone that pays once and leaves.
 *
 * @example
 *   poissonArrivals({ perSecond: 5, durationS: 10, seed: 42 }); // [112.4, 391.0, …] ms from the start, ~50 of them
 *   poissonArrivals({ perSecond: 5, count: 3, seed: 42 });      // exactly 3
 */
import { seededRandom } from '@bluetill/protocol';

export type ArrivalPlan = { readonly perSecond: number; readonly seed: number } & (
  { readonly durationS: number } | { readonly count: number }
);

/** Arrival times, ms from the start, ascending: within `durationS`, or the first `count`. */
export function poissonArrivals(p: ArrivalPlan): number[] {
  if (!(p.perSecond > 0) || !Number.isFinite(p.perSecond))
    throw new RangeError('arrivals per second must be a positive number');
  const random = seededRandom(p.seed);
  const meanMs = 1000 / p.perSecond;
  const limitMs = 'durationS' in p ? p.durationS * 1000 : Infinity;
  const count = 'count' in p ? p.count : Infinity;
  if (!(limitMs > 0) || !(count > 0))
    throw new RangeError('an open-loop run needs a positive duration or phone count');
  const out: number[] = [];
  let t = 0;
  for (;;) {
    // Inverse transform: -ln(1 - U) is exponential with mean 1 (1 - U is in (0, 1]).
    t += -Math.log(1 - random()) * meanMs;
    if (t >= limitMs || out.length >= count) return out;
    out.push(t);
  }
}

/** A fresh seed for a run that did not ask for one (printed, so the run can be repeated). */
export const freshSeed = (): number => Math.floor(Math.random() * 0x7fffffff);
