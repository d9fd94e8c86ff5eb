/** Benchmark output: one JSON object per line per figure, as `make bench` promises. */
export interface Figure {
  readonly bench: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: number;
  readonly ratio?: number;
  readonly [extra: string]: unknown;
}

export function report(f: Figure): void {
  const round = (n: number) => (Number.isInteger(n) ? n : Number(n.toPrecision(4)));
  const out: Record<string, unknown> = { ...f, value: round(f.value) };
  if (f.baseline !== undefined) {
    out.baseline = round(f.baseline);
    out.ratio = round(f.ratio ?? f.value / f.baseline);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
