// Local calendar dates ("YYYY-MM-DD", a day in the rider's time zone) and the periods they fall
// in. Pure: dates are handled as UTC midnights only to do calendar arithmetic, never as instants.

/** A calendar period of the history totals. */
export type Period = "week" | "month" | "year";

const dayMs = 86_400_000;
const dayPattern = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC-midnight milliseconds of a "YYYY-MM-DD" date, for calendar arithmetic. */
export function dayValue(day: string): number {
  const match = dayPattern.exec(day);
  if (!match) throw new RangeError(`${day} is not a YYYY-MM-DD date`);
  const [, y, m, d] = match.map(Number);
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);
  if (date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
    throw new RangeError(`${day} is not a calendar date`);
  }
  return date.getTime();
}

/** The "YYYY-MM-DD" of a UTC-midnight millisecond value. */
export function formatDay(value: number): string {
  return new Date(value).toISOString().slice(0, 10);
}

/** The date `days` days after `day` (before, when negative). */
export function addDays(day: string, days: number): string {
  return formatDay(dayValue(day) + days * dayMs);
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((dayValue(to) - dayValue(from)) / dayMs);
}

/** The first day of the period containing `day`: its ISO week's Monday, month's 1st or Jan 1. */
export function periodStart(day: string, period: Period): string {
  const date = new Date(dayValue(day));
  if (period === "week") return formatDay(date.getTime() - ((date.getUTCDay() + 6) % 7) * dayMs);
  if (period === "month") date.setUTCDate(1);
  else date.setUTCMonth(0, 1);
  return formatDay(date.getTime());
}

/** The first day of the period after the one starting on `start`, `count` periods later. */
export function addPeriods(start: string, period: Period, count: number): string {
  if (period === "week") return addDays(start, 7 * count);
  const date = new Date(dayValue(start));
  if (period === "month") date.setUTCMonth(date.getUTCMonth() + count, 1);
  else date.setUTCFullYear(date.getUTCFullYear() + count, 0, 1);
  return formatDay(date.getTime());
}

/** Today's date in an IANA time zone (from the runtime's time-zone data). */
export function todayIn(timeZone: string, now = new Date()): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(now);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${part("year")}-${part("month")}-${part("day")}`;
}

/** Whether a string names an IANA time zone (such as "Europe/Berlin" or "UTC"). */
export function isTimeZone(name: string): boolean {
  // Names only: an offset such as "+05:30" would mean the opposite sign to PostgreSQL (POSIX).
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
