// Rounding at the edge (docs/analytics.md, "Precision"): figures are computed exactly and rounded
// only when an answer is built, to the decimals of their kind. Values smaller than half the last
// decimal (an ATL of 5e-169 long after the last ride) become 0.

/** Decimals kept per kind of figure in API answers. */
export const precision = {
  /** W: power averages, NP, best efforts, FTP estimates. */
  watts: 1,
  /** kJ: work. */
  kj: 1,
  /** m: distance, elevation gain. */
  metres: 1,
  /** km/h: speed. */
  kmh: 2,
  /** bpm and rpm averages. */
  perMinute: 1,
  /** %: decoupling. */
  pct: 2,
  /** Ratios: IF, VI, EF (W/bpm). */
  ratio: 3,
  /** TSS, TRIMP, CTL, ATL, TSB. */
  load: 1,
} as const;

/** A kind of figure with its documented precision. */
export type PrecisionKind = keyof typeof precision;

/** Rounds a figure to its kind's decimals (half away from zero); -0 and tiny values become 0. */
export function rounded(value: number, kind: PrecisionKind): number {
  const f = 10 ** precision[kind];
  const r = Math.sign(value) * Math.round(Math.abs(value) * f) / f;
  return r === 0 ? 0 : r;
}

/** `rounded`, passing null (and undefined) through as null. */
export function roundedOrNull(
  value: number | null | undefined,
  kind: PrecisionKind,
): number | null {
  return value === null || value === undefined ? null : rounded(value, kind);
}
