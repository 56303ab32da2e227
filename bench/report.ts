/**
 * Figures a benchmark hands to `deno task bench` (bench/run.ts), which gathers them into the
 * dated table of docs/benchmarks.md.
 *
 * A bench prints its own human-readable output as before and calls {@linkcode record} for each
 * figure worth tracking. Run by itself, `record` prints nothing; under bench/run.ts (which sets
 * `BPT_BENCH_REPORT=1`) it prints one line `@bench {json}` that the runner reads off stdout.
 * @module
 */

/** One figure: a cell of one bench, with the floor it is compared with, measured in the same run. */
export type Figure = {
  /** The bench file's name without `_bench.ts`, e.g. `streams`. */
  bench: string;
  /** What was measured, e.g. `legacy POST, 50 senders, requests/s`. */
  cell: string;
  value: number;
  /** `req/s`, `ms`, `µs`, `KiB`, … */
  unit: string;
  /** Which way is better, for the ratio's reading. */
  better: "higher" | "lower";
  /** The floor measured in the same run: Hono's "hello" route, a raw `unnest` insert, a direct XADD. */
  floor?: { name: string; value: number };
  /** The target, in words, e.g. `≤ 20 ms` or `≥ 0.8× legacy POST`. */
  target?: string;
  /** Whether the target was met in this run (when there is one). */
  met?: boolean;
};

/** The prefix of a figure's line on stdout. */
export const reportPrefix = "@bench ";

function reporting(): boolean {
  try {
    return Deno.env.get("BPT_BENCH_REPORT") === "1";
  } catch {
    return false; // no --allow-env: run by hand
  }
}

/** Hands one figure to bench/run.ts (prints nothing when the bench runs by itself). */
export function record(figure: Figure): void {
  if (reporting()) console.log(reportPrefix + JSON.stringify(figure));
}

/** The value at percentile `p` (0–100) of `values` (not sorted in place). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
