/**
 * SQL for the whole power curve (sql/0016): a period's curve from the rider's month curves and
 * the rides of the partial months at its ends, the weight history and the CP/W′ history.
 *
 * Every query is scoped to one rider (`user_id`).
 */
import type { Sql } from "../db/client.ts";
import { bestOfCurves, type CurvePart, fitCriticalPower, type PeriodCurvePoint } from "./curve.ts";

/** The first instant of the UTC month containing t. */
function monthStart(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The first instant of the UTC month after the one containing t. */
function nextMonth(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

type PartRow = {
  watts: number[];
  rideIndex: number[] | null;
  rides: string[];
  rideStarts: Date[];
};

/**
 * The rider's whole curve over the rides that started in [from, to): per curve duration the best
 * watts and its ride (on a tie, the earlier ride); durations no ride reached are left out.
 *
 * The UTC months wholly inside the range come pre-reduced from `curve_months` (one row each); the
 * rides of the partial months at the ends from `workout_curves`. The element-wise best is taken
 * here rather than in SQL: unnesting ~60 × 1,500 values and sorting them measured ~40 ms of
 * Postgres CPU, the loop here under 1 ms.
 */
export async function periodCurve(
  sql: Sql,
  options: { userId: string; from: Date; to: Date },
): Promise<PeriodCurvePoint[]> {
  const { userId } = options;
  const from = options.from.getTime();
  const to = options.to.getTime();
  if (!(from < to)) return [];
  // Whole months [wholeFrom, wholeTo); when there are none, every ride is read on its own.
  let wholeFrom = monthStart(from) === from ? from : nextMonth(from);
  let wholeTo = monthStart(to);
  if (wholeFrom >= wholeTo) wholeFrom = wholeTo = to;
  const rows = await sql<PartRow[]>`
    select watts, ride_index, rides, ride_starts
    from curve_months
    where
      user_id = ${userId}::uuid
      and month >= ${new Date(wholeFrom)}::timestamptz
      and month < ${new Date(wholeTo)}::timestamptz
    union all
    select watts, null, array[workout_id], array[start_time]
    from workout_curves
    where
      user_id = ${userId}::uuid
      and (
        (start_time >= ${options.from}::timestamptz and start_time < ${new Date(
    wholeFrom,
  )}::timestamptz)
        or (start_time >= ${new Date(
    wholeTo,
  )}::timestamptz and start_time < ${options.to}::timestamptz)
      )
  `;
  const parts: CurvePart[] = rows.map((r) => ({
    watts: r.watts,
    // 1-based in SQL.
    rideIndex: r.rideIndex ? r.rideIndex.map((k) => k - 1) : null,
    rides: r.rides.map((workoutId, i) => ({ workoutId, startTime: r.rideStarts[i] })),
  }));
  return bestOfCurves(parts);
}

/** One recorded weight, from an instant on. */
export type WeightEntry = { weightKg: number; validFrom: Date };

/** The rider's weight history, oldest first. */
export async function weightHistory(sql: Sql, userId: string): Promise<WeightEntry[]> {
  return await sql<WeightEntry[]>`
    select weight_kg, valid_from
    from weight_history
    where user_id = ${userId}::uuid
    order by valid_from, created_at
  `;
}

/**
 * The weight for a ride that started at `at`: the newest history entry valid at or before it,
 * else the profile's weight (`fallbackKg`, null when none).
 */
export function weightAt(
  history: readonly WeightEntry[],
  at: Date,
  fallbackKg: number | null,
): number | null {
  let found: number | null = null;
  for (const entry of history) {
    if (entry.validFrom.getTime() <= at.getTime()) found = entry.weightKg;
    else break;
  }
  return found ?? fallbackKg;
}

/** The rider's profile weight (null without one). */
export async function profileWeight(sql: Sql, userId: string): Promise<number | null> {
  const [row] = await sql<{ weightKg: number | null }[]>`
    select weight_kg from users where id = ${userId}::uuid
  `;
  return row?.weightKg ?? null;
}

/** The CP and W′ used for a ride's W′ balance, and where they came from. */
export type CpInForce = {
  cpWatts: number;
  wPrimeJ: number;
  /** `profile`: set by the rider; `model`: fitted on the 90 days before the ride. */
  source: "profile" | "model";
};

/** Days of rides before a ride that the CP model for its W′ balance is fitted on. */
export const cpModelDays = 90;

/**
 * The CP and W′ in force when a ride started at `at`: the newest values the rider set at or
 * before it; else the 2-parameter model (default range) over the rides that started in the 90
 * days before it, [at − 90 d, at) (so the ride itself is excluded); else undefined (also
 * when the model's CP or W′ is not positive).
 */
export async function cpInForce(
  sql: Sql,
  options: { userId: string; at: Date },
): Promise<CpInForce | undefined> {
  const { userId, at } = options;
  const [set] = await sql<{ cpWatts: number; wPrimeJ: number }[]>`
    select cp_watts, w_prime_j
    from cp_history
    where user_id = ${userId}::uuid and valid_from <= ${at}::timestamptz
    order by valid_from desc, created_at desc
    limit 1
  `;
  if (set) return { cpWatts: set.cpWatts, wPrimeJ: set.wPrimeJ, source: "profile" };
  const curve = await periodCurve(sql, {
    userId,
    from: new Date(at.getTime() - cpModelDays * 86_400_000),
    to: at,
  });
  const fit = fitCriticalPower(curve);
  if (!fit || !(fit.cpWatts > 0) || !(fit.wPrimeJ > 0)) return undefined;
  return { cpWatts: fit.cpWatts, wPrimeJ: fit.wPrimeJ, source: "model" };
}
