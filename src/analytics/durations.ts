/** Standard best-effort durations in seconds (DESIGN §7). */
export const effortDurations = [
  1,
  5,
  10,
  15,
  30,
  60,
  120,
  300,
  600,
  1200,
  1800,
  3600,
  5400,
  7200,
] as const;
