/** Latency statistics over samples in nanoseconds (process.hrtime.bigint() differences). */

export interface LatencySummary {
  readonly n: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

/**
 * Nearest-rank percentile of an ascending array: the smallest sample with at least q% of the
 * samples at or below it (no interpolation, so the value is one that was actually observed).
 */
export function percentile(sortedAscending: readonly number[], q: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  if (q <= 0) return sortedAscending[0];
  const rank = Math.ceil((q / 100) * sortedAscending.length);
  return sortedAscending[Math.min(sortedAscending.length, rank) - 1];
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

const NS_PER_MS = 1_000_000;

export function summarize(samplesNs: readonly bigint[]): LatencySummary {
  const ms = samplesNs.map((ns) => Number(ns) / NS_PER_MS).sort((a, b) => a - b);
  return {
    n: ms.length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    meanMs: mean(ms),
    minMs: ms[0] ?? Number.NaN,
    maxMs: ms[ms.length - 1] ?? Number.NaN,
  };
}

/** Median of the values (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
}

/** Percentile (nearest rank) of samples in ns, in ms. */
export function percentileMs(samplesNs: readonly bigint[], q: number): number {
  const ms = samplesNs.map((ns) => Number(ns) / NS_PER_MS).sort((a, b) => a - b);
  return percentile(ms, q);
}
