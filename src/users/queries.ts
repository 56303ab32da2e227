import type { Sql } from "../db/client.ts";

/** A user as the API shows it (never the password hash). */
export type User = {
  id: string;
  email: string | null;
  displayName: string | null;
  avatarUrl: string | null;
  weightKg: number | null;
  ftpWatts: number | null;
  maxHr: number | null;
  restingHr: number | null;
  lthr: number | null;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
};

/** Fields a rider may change on their profile; null clears a field. */
export type ProfilePatch = Partial<{
  displayName: string | null;
  avatarUrl: string | null;
  weightKg: number | null;
  ftpWatts: number | null;
  maxHr: number | null;
  restingHr: number | null;
  lthr: number | null;
}>;

/** Inserts a password account; a duplicate email raises SQLSTATE 23505. */
export async function insertUser(
  sql: Sql,
  user: { email: string; passwordHash: string; displayName: string | null },
): Promise<User> {
  const [row] = await sql<User[]>`
    insert into users (email, password_hash, display_name, last_login_at)
    values (${user.email}, ${user.passwordHash}, ${user.displayName}, now())
    returning id, email, display_name, avatar_url, weight_kg, ftp_watts, max_hr,
      resting_hr, lthr, created_at, updated_at, last_login_at
  `;
  return row;
}

/** Finds the id and password hash for an email, ignoring case. */
export async function findLogin(
  sql: Sql,
  email: string,
): Promise<{ id: string; passwordHash: string | null } | undefined> {
  const [row] = await sql<{ id: string; passwordHash: string | null }[]>`
    select id, password_hash from users where lower(email) = lower(${email})
  `;
  return row;
}

/** Records a successful sign-in. */
export async function touchLogin(sql: Sql, userId: string): Promise<void> {
  await sql`update users set last_login_at = now() where id = ${userId}`;
}

/** Reads one user by id. */
export async function getUser(sql: Sql, userId: string): Promise<User | undefined> {
  const [row] = await sql<User[]>`
    select id, email, display_name, avatar_url, weight_kg, ftp_watts, max_hr,
      resting_hr, lthr, created_at, updated_at, last_login_at
    from users where id = ${userId}
  `;
  return row;
}

const profileColumns = {
  displayName: "display_name",
  avatarUrl: "avatar_url",
  weightKg: "weight_kg",
  ftpWatts: "ftp_watts",
  maxHr: "max_hr",
  restingHr: "resting_hr",
  lthr: "lthr",
} as const;

/** Who changed an FTP: a free label such as `manual`, `profile` or `ramp-test`. */
export type FtpSource = string;

/**
 * Applies a profile patch and returns the updated user. A new `ftpWatts` (different from the
 * current one) is recorded in `ftp_history` in the same transaction, with source `profile`.
 */
export async function updateProfile(
  sql: Sql,
  userId: string,
  patch: ProfilePatch,
): Promise<User | undefined> {
  const keys = (Object.keys(profileColumns) as (keyof ProfilePatch)[]).filter((key) =>
    patch[key] !== undefined
  );
  if (keys.length === 0) return getUser(sql, userId);
  const values = Object.fromEntries(keys.map((key) => [key, patch[key]]));
  return await sql.begin(async (tx) => {
    const [before] = await tx<{ ftpWatts: number | null; weightKg: number | null }[]>`
      select ftp_watts, weight_kg from users where id = ${userId} for update
    `;
    if (!before) return undefined;
    const [row] = await tx<User[]>`
      update users set ${tx(values, ...keys)}, updated_at = now()
      where id = ${userId}
      returning id, email, display_name, avatar_url, weight_kg, ftp_watts, max_hr,
        resting_hr, lthr, created_at, updated_at, last_login_at
    `;
    if (typeof patch.ftpWatts === "number" && patch.ftpWatts !== before.ftpWatts) {
      await tx`
        insert into ftp_history (user_id, ftp_watts, source, created_at)
        values (${userId}, ${patch.ftpWatts}, 'profile', clock_timestamp())
      `;
    }
    if (typeof patch.weightKg === "number" && patch.weightKg !== before.weightKg) {
      await tx`
        insert into weight_history (user_id, weight_kg, valid_from, source)
        values (${userId}, ${patch.weightKg}, clock_timestamp(), 'profile')
      `;
    }
    return row;
  });
}

/** One FTP a rider has had, from when it was set. */
export type FtpHistoryRow = {
  id: string;
  userId: string;
  ftpWatts: number;
  source: string;
  createdAt: Date;
};

/** Sets the rider's FTP and records it in `ftp_history`, in one transaction. */
export async function setFtp(
  sql: Sql,
  userId: string,
  change: { ftpWatts: number; source: FtpSource },
): Promise<FtpHistoryRow | undefined> {
  return await sql.begin(async (tx) => {
    const [user] = await tx<{ id: string }[]>`
      update users set ftp_watts = ${change.ftpWatts}, updated_at = now()
      where id = ${userId}
      returning id
    `;
    if (!user) return undefined;
    // clock_timestamp(), not now() (the transaction's start): taken after the user row is
    // locked, so concurrent changes are ordered in the history as they were applied, and the
    // newest entry is always the FTP that users.ftp_watts holds.
    const [row] = await tx<FtpHistoryRow[]>`
      insert into ftp_history (user_id, ftp_watts, source, created_at)
      values (${userId}, ${change.ftpWatts}, ${change.source}, clock_timestamp())
      returning id, user_id, ftp_watts, source, created_at
    `;
    return row;
  });
}

/** The rider's FTP history, newest first. */
export async function ftpHistory(sql: Sql, userId: string): Promise<FtpHistoryRow[]> {
  return await sql<FtpHistoryRow[]>`
    select id, user_id, ftp_watts, source, created_at
    from ftp_history
    where user_id = ${userId}
    order by created_at desc, id desc
  `;
}

/** One weight a rider recorded, valid from an instant on. */
export type WeightHistoryRow = {
  id: string;
  weightKg: number;
  validFrom: Date;
  source: string;
  createdAt: Date;
};

/**
 * Records a weight valid from `validFrom` and sets the profile's weight to the newest entry valid
 * now, in one transaction; answers that weight (undefined: no such rider).
 */
export async function addWeight(
  sql: Sql,
  userId: string,
  entry: { weightKg: number; validFrom: Date; source: string },
): Promise<number | null | undefined> {
  return await sql.begin(async (tx) => {
    const [user] = await tx`select id from users where id = ${userId} for update`;
    if (!user) return undefined;
    await tx`
      insert into weight_history (user_id, weight_kg, valid_from, source)
      values (${userId}, ${entry.weightKg}, ${entry.validFrom}, ${entry.source})
    `;
    const [row] = await tx<{ weightKg: number | null }[]>`
      update users set updated_at = now(), weight_kg = coalesce((
        select weight_kg from weight_history
        where user_id = ${userId} and valid_from <= now()
        order by valid_from desc, created_at desc
        limit 1
      ), weight_kg)
      where id = ${userId}
      returning weight_kg
    `;
    return row.weightKg;
  });
}

/** The rider's weight history, newest first. */
export async function weightEntries(sql: Sql, userId: string): Promise<WeightHistoryRow[]> {
  return await sql<WeightHistoryRow[]>`
    select id, weight_kg, valid_from, source, created_at
    from weight_history
    where user_id = ${userId}
    order by valid_from desc, created_at desc
  `;
}

/** One critical power and W′ a rider set, in force from an instant on. */
export type CpHistoryRow = {
  id: string;
  cpWatts: number;
  wPrimeJ: number;
  validFrom: Date;
  source: string;
  createdAt: Date;
};

/** Records a CP and W′ in force from `validFrom`; undefined when there is no such rider. */
export async function addCp(
  sql: Sql,
  userId: string,
  entry: { cpWatts: number; wPrimeJ: number; validFrom: Date; source: string },
): Promise<CpHistoryRow | undefined> {
  const [row] = await sql<CpHistoryRow[]>`
    insert into cp_history (user_id, cp_watts, w_prime_j, valid_from, source)
    select id, ${entry.cpWatts}, ${entry.wPrimeJ}, ${entry.validFrom}, ${entry.source}
    from users where id = ${userId}
    returning id, cp_watts, w_prime_j, valid_from, source, created_at
  `;
  return row;
}

/** The rider's CP and W′ history, newest first. */
export async function cpEntries(sql: Sql, userId: string): Promise<CpHistoryRow[]> {
  return await sql<CpHistoryRow[]>`
    select id, cp_watts, w_prime_j, valid_from, source, created_at
    from cp_history
    where user_id = ${userId}
    order by valid_from desc, created_at desc
  `;
}

/** Totals over the rider's completed workouts: how many, and their elapsed seconds. */
export async function userStats(
  sql: Sql,
  userId: string,
): Promise<{ totalWorkouts: number; totalDuration: number }> {
  const [row] = await sql<{ totalWorkouts: number; totalDuration: number }[]>`
    select count(*)::int as total_workouts, coalesce(sum(duration_s), 0)::float8 as total_duration
    from workouts
    where user_id = ${userId} and status = 'completed'
  `;
  return row;
}

/** A workout removed with its rider's account. */
export type DeletedWorkout = {
  id: string;
  status: "active" | "completed";
  startTime: Date;
  endTime: Date | null;
};

/**
 * Deletes a rider and every row they own, in one transaction: workouts, their telemetry and
 * efforts, then the user row, whose foreign keys cascade to sessions, refresh tokens, API keys and
 * FTP history. Answers the deleted workouts, or undefined when there was no such rider.
 *
 * Telemetry is deleted by workout id (the `unique (workout_id, time)` index, and the segment-by
 * column of compressed chunks) within the rides' time range, not by user_id, which has no index
 * on the hypertable: every telemetry row belongs to a workout row of the same rider (only the
 * archive transaction writes them, for a workout it holds locked).
 */
export async function deleteUserRows(
  sql: Sql,
  userId: string,
): Promise<DeletedWorkout[] | undefined> {
  return await sql.begin(async (tx) => {
    // Locking the user row makes a concurrent insert that references it (a workout being
    // started) wait for this transaction, then fail its foreign key.
    const [user] = await tx`select id from users where id = ${userId} for update`;
    if (!user) return undefined;
    // The month curves first: the workouts' deletion then cascades to their curves without
    // computing each month again ride by ride (sql/0016's trigger skips a month that is gone).
    await tx`delete from curve_months where user_id = ${userId}`;
    const workouts = await tx<DeletedWorkout[]>`
      delete from workouts where user_id = ${userId}
      returning id, status, start_time, end_time
    `;
    if (workouts.length > 0) {
      // Time bounds let TimescaleDB skip every chunk outside the rider's rides.
      const span = timeSpan(workouts);
      const from = new Date(span.from.getTime() - 86_400_000);
      const to = new Date(span.to.getTime() + 86_400_000);
      await tx`
        delete from telemetry
        where workout_id = any(${workouts.map((w) => w.id)}::uuid[])
          and time >= ${from} and time <= ${to}
      `;
    }
    await tx`delete from workout_efforts where user_id = ${userId}`;
    await tx`delete from users where id = ${userId}`;
    return workouts;
  });
}

/** The earliest start and the latest end (or start) of some workouts; call with at least one. */
export function timeSpan(workouts: readonly DeletedWorkout[]): { from: Date; to: Date } {
  let from = Infinity;
  let to = -Infinity;
  for (const w of workouts) {
    from = Math.min(from, w.startTime.getTime());
    to = Math.max(to, (w.endTime ?? w.startTime).getTime());
  }
  return { from: new Date(from), to: new Date(to) };
}
