import { notFound } from "../core/errors.ts";
import type { Sql } from "../db/client.ts";
import {
  addCp,
  addWeight,
  cpEntries,
  type CpHistoryRow,
  ftpHistory,
  type FtpHistoryRow,
  getUser,
  type ProfilePatch,
  setFtp,
  updateProfile,
  type User,
  userStats,
  weightEntries,
  type WeightHistoryRow,
} from "./queries.ts";

/** What reading and changing a rider's profile uses. */
export type ProfileDeps = { sql: Sql };

/** The rider's profile; 404 when the account is gone. */
export async function getProfile(deps: ProfileDeps, userId: string): Promise<User> {
  const user = await getUser(deps.sql, userId);
  if (!user) throw notFound("User");
  return user;
}

/** Applies a profile patch (a changed FTP goes into the history); 404 when the account is gone. */
export async function changeProfile(
  deps: ProfileDeps,
  userId: string,
  patch: ProfilePatch,
): Promise<User> {
  const user = await updateProfile(deps.sql, userId, patch);
  if (!user) throw notFound("User");
  return user;
}

/** Sets the rider's FTP (default source `manual`); answers the FTP now in force. */
export async function changeFtp(
  deps: ProfileDeps,
  userId: string,
  change: { ftp: number; source?: string },
): Promise<number> {
  const row = await setFtp(deps.sql, userId, {
    ftpWatts: change.ftp,
    source: change.source ?? "manual",
  });
  if (!row) throw notFound("User");
  return row.ftpWatts;
}

/** Every FTP the rider has had, newest first. */
export async function listFtpHistory(deps: ProfileDeps, userId: string): Promise<FtpHistoryRow[]> {
  return await ftpHistory(deps.sql, userId);
}

/** Totals over the rider's completed workouts. */
export async function profileStats(
  deps: ProfileDeps,
  userId: string,
): Promise<{ totalWorkouts: number; totalDuration: number }> {
  return await userStats(deps.sql, userId);
}

/** Records a weight (valid from `validFrom`, default now); answers the profile's weight now. */
export async function recordWeight(
  deps: ProfileDeps,
  userId: string,
  entry: { weightKg: number; validFrom?: Date; source?: string },
): Promise<number | null> {
  const weight = await addWeight(deps.sql, userId, {
    weightKg: entry.weightKg,
    validFrom: entry.validFrom ?? new Date(),
    source: entry.source ?? "manual",
  });
  if (weight === undefined) throw notFound("User");
  return weight;
}

/** Every weight the rider recorded, newest first. */
export async function listWeights(deps: ProfileDeps, userId: string): Promise<WeightHistoryRow[]> {
  return await weightEntries(deps.sql, userId);
}

/** Records a CP and W′ (in force from `validFrom`, default now). */
export async function recordCp(
  deps: ProfileDeps,
  userId: string,
  entry: { cp: number; wPrime: number; validFrom?: Date; source?: string },
): Promise<CpHistoryRow> {
  const row = await addCp(deps.sql, userId, {
    cpWatts: entry.cp,
    wPrimeJ: entry.wPrime,
    validFrom: entry.validFrom ?? new Date(),
    source: entry.source ?? "manual",
  });
  if (!row) throw notFound("User");
  return row;
}

/** Every CP and W′ the rider set, newest first. */
export async function listCps(deps: ProfileDeps, userId: string): Promise<CpHistoryRow[]> {
  return await cpEntries(deps.sql, userId);
}
