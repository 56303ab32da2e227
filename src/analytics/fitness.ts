// Fitness (CTL), fatigue (ATL) and form (TSB) from daily TSS, TrainingPeaks' Performance
// Management Chart convention (DESIGN §7). Pure: no I/O, no clock, values never rounded.

import { daysBetween, dayValue, formatDay } from "./calendar.ts";

const dayMs = 86_400_000;

/** Chronic training load time constant, in days. */
export const ctlDays = 42;
/** Acute training load time constant, in days. */
export const atlDays = 7;

/** One day of the fitness chart. */
export type FitnessDay = {
  /** Local date, "YYYY-MM-DD". */
  date: string;
  /** The sum of the TSS of the rides that started that day (0 without any). */
  tss: number;
  /** Fitness at the end of the day. */
  ctl: number;
  /** Fatigue at the end of the day. */
  atl: number;
  /** Form going into the day: yesterday's CTL minus yesterday's ATL. */
  tsb: number;
};

/**
 * The fitness chart for the days [from, to], given the TSS of every day with rides, oldest first.
 *
 * CTL and ATL are 0 on the day before the first day with a ride (or before `from`, if earlier) and
 * then, for each day d: CTL(d) = CTL(d−1) + (TSS(d) − CTL(d−1)) / 42 and
 * ATL(d) = ATL(d−1) + (TSS(d) − ATL(d−1)) / 7; TSB(d) = CTL(d−1) − ATL(d−1). Days before `from`
 * warm the values up but are not returned; days after `to` are ignored.
 */
export function fitnessSeries(
  daily: readonly { date: string; tss: number }[],
  range: { from: string; to: string },
): FitnessDay[] {
  const { from, to } = range;
  if (daysBetween(from, to) < 0) throw new RangeError("from must not be after to");
  const first = daily.length > 0 && daily[0].date < from ? daily[0].date : from;
  const firstValue = dayValue(first);
  const count = daysBetween(first, to) + 1;
  const skipped = count - daysBetween(from, to) - 1;
  const tssByDay = new Float64Array(count);
  for (const { date, tss } of daily) {
    // Dates from the database, already valid: parsed directly (dayValue validates, slower).
    const i = Math.round((Date.parse(`${date}T00:00:00Z`) - firstValue) / dayMs);
    if (i >= 0 && i < count) tssByDay[i] += tss;
  }
  const days: FitnessDay[] = [];
  let ctl = 0;
  let atl = 0;
  for (let i = 0; i < count; i++) {
    const tss = tssByDay[i];
    const tsb = ctl - atl;
    ctl += (tss - ctl) / ctlDays;
    atl += (tss - atl) / atlDays;
    if (i >= skipped) days.push({ date: formatDay(firstValue + i * dayMs), tss, ctl, atl, tsb });
  }
  return days;
}
