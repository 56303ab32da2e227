import { notFound } from "../core/errors.ts";
import type { Sql } from "../db/client.ts";
import {
  ftpHistory,
  type FtpHistoryRow,
  getUser,
  type ProfilePatch,
  setFtp,
  updateProfile,
  type User,
  userStats,
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
