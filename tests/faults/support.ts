/**
 * Shared pieces of the fault (garbage-in) suites: case counts for the fast slice and the soak,
 * the seed (FC_SEED / FC_PATH to replay a failure), the typed-error check and the JSON figure line.
 */
import fc from 'fast-check';
import { seededRandom } from '@bluetill/simulator';

/** `make soak` sets SOAK=1: at least a million cases per parser. */
export const SOAK = process.env.SOAK === '1';

/** Cases per property: `fast` in `make test`, `soak` (≥ 1,000,000 per parser in total) under SOAK=1. */
export const cases = (fast: number, soak = 1_000_000): number => {
  const forced = Number(process.env.FC_RUNS);
  if (Number.isInteger(forced) && forced > 0) return forced;
  return SOAK ? soak : fast;
};

/** A test's own time limit: generous under SOAK (hours), vitest's default otherwise. */
export const timeout = (fastMs = 30_000): number => (SOAK ? 12 * 3600_000 : fastMs);

/** One seed per process unless FC_SEED is given; printed in every figure line and by fast-check on failure. */
const envSeed = Number(process.env.FC_SEED);
export const SEED =
  Number.isInteger(envSeed) && process.env.FC_SEED !== undefined && process.env.FC_SEED !== ''
    ? envSeed
    : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;

/** fc.assert parameters: numRuns, the seed, and FC_PATH (the counterexample path fast-check printed) when replaying. */
export function params<T>(numRuns: number): fc.Parameters<T> {
  const path = process.env.FC_PATH;
  return { numRuns, seed: SEED, ...(path ? { path, endOnFailure: true } : {}) };
}

/** Counts cases and crashes (errors of the wrong type) for one parser, and prints its figure line. */
export class Tally {
  cases = 0;
  crashes = 0;
  readonly byCode = new Map<string, number>();
  private readonly t0 = performance.now();

  constructor(readonly name: string) {}

  /** Records one thrown error; returns true when it is one of the allowed classes. */
  typed(error: unknown, allowed: ReadonlyArray<abstract new (...args: never[]) => Error>): boolean {
    const ok = allowed.some((cls) => error instanceof cls);
    if (!ok) {
      this.crashes++;
      return false;
    }
    const code = (error as { code?: unknown }).code;
    const key = `${(error as Error).name}:${typeof code === 'string' ? code : '?'}`;
    this.byCode.set(key, (this.byCode.get(key) ?? 0) + 1);
    return true;
  }

  /** One JSON line on stdout: {"bench":"faults_<name>","value":cases,"unit":"cases","crashes":…}. */
  print(extra: Record<string, unknown> = {}): void {
    const line = {
      bench: `faults_${this.name}`,
      value: this.cases,
      unit: 'cases',
      crashes: this.crashes,
      ms: Math.round(performance.now() - this.t0),
      seed: SEED,
      soak: SOAK,
      ...extra,
      errors: Object.fromEntries([...this.byCode.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}

/** Hex for messages (test inputs are random bytes, never card data). */
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

/** Random bytes, biased to short values and to the edges (empty, one byte, long). */
export const bytes = (maxLength = 300): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength }) },
    { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(0xff)) },
  );

/** A mutation of `base`: bit flips, truncation, splice of random bytes, byte set to an edge value. */
export const mutation = (base: Uint8Array): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.array(fc.nat(Math.max(0, base.length * 8 - 1)), { minLength: 1, maxLength: 4 }).map((bits) => {
      const out = Uint8Array.from(base);
      for (const b of bits) if (out.length > 0) out[b >> 3]! ^= 1 << (b & 7);
      return out;
    }),
    fc.nat(base.length).map((n) => base.slice(0, n)),
    fc
      .tuple(fc.nat(base.length), fc.uint8Array({ maxLength: 16 }), fc.nat(8))
      .map(([at, ins, del]) =>
        Uint8Array.from([...base.subarray(0, at), ...ins, ...base.subarray(Math.min(base.length, at + del))]),
      ),
    fc
      .tuple(
        fc.nat(Math.max(0, base.length - 1)),
        fc.constantFrom(0x00, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0xff),
      )
      .map(([at, v]) => {
        const out = Uint8Array.from(base);
        if (out.length > 0) out[at] = v;
        return out;
      }),
  );

/** A small seeded generator (mulberry32) for the crash suites' timings: a run replays from its seed. */
export function prng(seed: number): {
  next(): number;
  int(min: number, max: number): number;
  pick<T>(xs: readonly T[]): T;
} {
  const next = seededRandom(seed);
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
  };
}
