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
  /** array_send of the watts (float8[]), base64. */
  watts: string;
  /** array_send of the 1-based ride positions (int2[]), base64; null for one ride's curve. */
  rideIndex: string | null;
  rides: string[];
  rideStarts: Date[];
};

/**
 * The elements of a one-dimensional float8[] or int2[] in Postgres's binary form (array_send):
 * a 20-byte header (dimensions, null flag, element type, length, lower bound), then per element
 * its byte length (4 bytes) and its big-endian value. Exact: the doubles are the stored bits.
 */
export function decodeArraySend(base64: string, element: "float8" | "int2"): number[] {
  const bytes = Uint8Array.fromBase64(base64);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getInt32(0) === 0) return [];
  const length = view.getInt32(12);
  const out = new Array<number>(length);
  const size = element === "float8" ? 8 : 2;
  for (let i = 0, at = 20; i < length; i++, at += 4 + size) {
    out[i] = element === "float8" ? view.getFloat64(at + 4) : view.getInt16(at + 4);
  }
  return out;
}

/**
 * The rider's whole curve over the rides that started in [from, to): per curve duration the best
 * watts and its ride (on a tie, the earlier ride); durations no ride reached are left out.
 *
 * Each UTC month the range touches comes pre-reduced from `curve_months` (one row) when all its
 * rides started in the range (always so for the months inside, and for the current month when `to`
 * is now); the rides of an end month cut by the range come from `workout_curves` one by one. The
 * element-wise best is taken here rather than in SQL: measured on five years (61 months), the
 * Postgres reductions (unnest and group by, or distinct on) took 38-130 ms against a few ms here.
 * The arrays travel as base64 of array_send: their text form (float8out) and its parsing measured
 * 2-3 times slower.
 */
export async function periodCurve(
  sql: Sql,
  options: { userId: string; from: Date; to: Date },
): Promise<PeriodCurvePoint[]> {
  const { userId, from, to } = options;
  if (!(from.getTime() < to.getTime())) return [];
  const first = new Date(monthStart(from.getTime()));
  const afterFirst = new Date(nextMonth(from.getTime()));
  const last = new Date(monthStart(to.getTime() - 1));
  const rows = await sql<PartRow[]>`
    select
      encode(array_send(watts), 'base64') as watts,
      encode(array_send(ride_index), 'base64') as ride_index,
      rides,
      ride_starts
    from curve_months
    where
      user_id = ${userId}::uuid
      and month >= ${first}::timestamptz
      and month <= ${last}::timestamptz
      and (
        (month > ${first}::timestamptz and month < ${last}::timestamptz)
        or (
          ride_starts[1] >= ${from}::timestamptz
          and ride_starts[cardinality(ride_starts)] < ${to}::timestamptz
        )
      )
    union all
    select encode(array_send(c.watts), 'base64'), null, array[c.workout_id], array[c.start_time]
    from workout_curves as c
    where
      c.user_id = ${userId}::uuid
      and c.start_time >= ${from}::timestamptz
      and c.start_time < ${to}::timestamptz
      and (c.start_time < ${afterFirst}::timestamptz or c.start_time >= ${last}::timestamptz)
      and not exists (
        select from curve_months as m
        where
          m.user_id = c.user_id
          and m.month = curve_month(c.start_time)
          and m.ride_starts[1] >= ${from}::timestamptz
          and m.ride_starts[cardinality(m.ride_starts)] < ${to}::timestamptz
      )
  `;
  const parts: CurvePart[] = rows.map((r) => ({
    watts: decodeArraySend(r.watts, "float8"),
    // 1-based in SQL.
    rideIndex: r.rideIndex ? decodeArraySend(r.rideIndex, "int2").map((k) => k - 1) : null,
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
