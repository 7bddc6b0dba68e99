/** Small helpers shared by the benchmarks: percentiles and result lines. */

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function summarize(samples: number[]): { p50: number; p99: number; mean: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / s.length, n: s.length };
}

export interface BenchResult {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  /** Goal from the issue, when it names one. */
  goal?: string;
  note?: string;
}

export function report(r: BenchResult): void {
  const v = Math.abs(r.value) >= 100 ? r.value.toFixed(0) : r.value.toFixed(3);
  process.stdout.write(`${r.bench.padEnd(10)} ${r.metric.padEnd(48)} ${v.padStart(12)} ${r.unit}${r.goal ? `   (goal: ${r.goal})` : ''}${r.note ? `   ${r.note}` : ''}\n`);
  process.stdout.write(`BENCH ${JSON.stringify(r)}\n`);
}
