import type { RouteHandler, z } from "@hono/zod-openapi";
import { userIdOf } from "../../http/authenticate.ts";
import type { AppEnv, Principal } from "../../http/deps.ts";
import { forbidden, notFound } from "../../core/errors.ts";
import { deleteAccount } from "../../users/account.ts";
import {
  changeFtp,
  changeProfile,
  getProfile,
  listCps,
  listFtpHistory,
  listWeights,
  profileStats,
  recordCp,
  recordWeight,
} from "../../users/profile.ts";
import type { CpHistoryRow, FtpHistoryRow } from "../../users/queries.ts";
import { userJson } from "../../users/user_json.ts";
import type * as specs from "./specs.ts";
import type { FtpHistoryEntrySchema } from "./specs.ts";

/** The caller's id when `id` names the caller (`me` or their uuid); another rider's is 404. */
function ownId(principal: Principal | null, id: string): string {
  const userId = userIdOf(principal);
  if (id !== "me" && id.toLowerCase() !== userId.toLowerCase()) throw notFound("User");
  return userId;
}

function historyJson(row: FtpHistoryRow): z.infer<typeof FtpHistoryEntrySchema> {
  return {
    id: row.id,
    userId: row.userId,
    ftp: row.ftpWatts,
    source: row.source,
    createdAt: row.createdAt.toISOString(),
  };
}

/** GET /api/users/me: the caller's profile. */
export const getMe: RouteHandler<typeof specs.getMe, AppEnv> = async (c) => {
  const user = await getProfile(c.var.deps, userIdOf(c.var.principal));
  return c.json(userJson(user), 200);
};

/** PATCH /api/users/me: changes the caller's profile. */
export const updateMe: RouteHandler<typeof specs.patchMe, AppEnv> = async (c) => {
  const user = await changeProfile(c.var.deps, userIdOf(c.var.principal), c.req.valid("json"));
  return c.json(userJson(user), 200);
};

/** DELETE /api/users/me: deletes the account (only with a Bearer access token). */
export const deleteMe: RouteHandler<typeof specs.deleteMe, AppEnv> = async (c) => {
  const principal = c.var.principal;
  if (principal?.kind !== "user" || principal.via !== "token") {
    throw forbidden("Deleting an account needs a Bearer access token, not an API key");
  }
  const deleted = await deleteAccount(c.var.deps, principal.userId);
  if (!deleted) throw notFound("User");
  return c.json({
    success: true as const,
    deletedWorkouts: deleted.workouts,
    deletedStreams: deleted.streams,
  }, 200);
};

/** GET /api/users/{id}: the caller's own profile by `me` or id. */
export const getUser: RouteHandler<typeof specs.getOne, AppEnv> = async (c) => {
  const user = await getProfile(c.var.deps, ownId(c.var.principal, c.req.valid("param").id));
  return c.json(userJson(user), 200);
};

/** PUT /api/users/{id}/ftp: sets the caller's FTP. */
export const setFtp: RouteHandler<typeof specs.putFtp, AppEnv> = async (c) => {
  const userId = ownId(c.var.principal, c.req.valid("param").id);
  const ftp = await changeFtp(c.var.deps, userId, c.req.valid("json"));
  return c.json({ ftp }, 200);
};

/** GET /api/users/{id}/ftp-history: the caller's FTP history. */
export const getFtpHistory: RouteHandler<typeof specs.getFtpHistory, AppEnv> = async (c) => {
  const rows = await listFtpHistory(c.var.deps, ownId(c.var.principal, c.req.valid("param").id));
  return c.json(rows.map(historyJson), 200);
};

/** GET /api/users/{id}/stats: totals over the caller's completed workouts. */
export const getUserStats: RouteHandler<typeof specs.getStats, AppEnv> = async (c) => {
  const userId = ownId(c.var.principal, c.req.valid("param").id);
  return c.json(await profileStats(c.var.deps, userId), 200);
};

function cpJson(row: CpHistoryRow) {
  return {
    id: row.id,
    cp: row.cpWatts,
    wPrime: row.wPrimeJ,
    validFrom: row.validFrom.toISOString(),
    source: row.source,
    createdAt: row.createdAt.toISOString(),
  };
}

/** PUT /api/users/{id}/weight: records the caller's weight from a date on. */
export const setWeight: RouteHandler<typeof specs.putWeight, AppEnv> = async (c) => {
  const userId = ownId(c.var.principal, c.req.valid("param").id);
  const weightKg = await recordWeight(c.var.deps, userId, c.req.valid("json"));
  return c.json({ weightKg }, 200);
};

/** GET /api/users/{id}/weight-history: the caller's weights, newest first. */
export const getWeightHistory: RouteHandler<typeof specs.getWeightHistory, AppEnv> = async (c) => {
  const rows = await listWeights(c.var.deps, ownId(c.var.principal, c.req.valid("param").id));
  return c.json(
    rows.map((r) => ({
      id: r.id,
      weightKg: r.weightKg,
      validFrom: r.validFrom.toISOString(),
      source: r.source,
      createdAt: r.createdAt.toISOString(),
    })),
    200,
  );
};

/** PUT /api/users/{id}/critical-power: sets the caller's CP and W′ from a date on. */
export const setCp: RouteHandler<typeof specs.putCp, AppEnv> = async (c) => {
  const userId = ownId(c.var.principal, c.req.valid("param").id);
  return c.json(cpJson(await recordCp(c.var.deps, userId, c.req.valid("json"))), 200);
};

/** GET /api/users/{id}/critical-power-history: the caller's CP and W′, newest first. */
export const getCpHistory: RouteHandler<typeof specs.getCpHistory, AppEnv> = async (c) => {
  const rows = await listCps(c.var.deps, ownId(c.var.principal, c.req.valid("param").id));
  return c.json(rows.map(cpJson), 200);
};
