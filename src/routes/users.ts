import { createRoute, z } from "@hono/zod-openapi";
import { requireUser, userIdOf } from "../http/authenticate.ts";
import type { Principal } from "../http/deps.ts";
import { ApiError } from "../core/errors.ts";
import { createRouter, errors, json, jsonBody, userSecurity } from "../http/openapi.ts";
import { deleteAccount } from "../users/account.ts";
import {
  ftpHistory,
  type FtpHistoryRow,
  getUser,
  setFtp,
  updateProfile,
  type User,
  userStats,
} from "../users/queries.ts";

/** A rider's profile as the API returns it. */
export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.string().nullable(),
    displayName: z.string().nullable(),
    avatarUrl: z.string().nullable(),
    weightKg: z.number().nullable(),
    ftpWatts: z.number().int().nullable(),
    maxHr: z.number().int().nullable(),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
    lastLoginAt: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("User");

/** Serialises a user row for the API. */
export function userJson(user: User): z.infer<typeof UserSchema> {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    avatarUrl: user.avatarUrl,
    weightKg: user.weightKg,
    ftpWatts: user.ftpWatts,
    maxHr: user.maxHr,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
  };
}

const getMe = createRoute({
  method: "get",
  path: "/me",
  tags: ["Users"],
  summary: "The signed-in rider's profile",
  security: userSecurity,
  middleware: [requireUser] as const,
  responses: { 200: json(UserSchema, "Profile"), ...errors("unauthorized") },
});

const ftp = z
  .number({ error: "must be a whole number of watts between 1 and 3000" })
  .int("must be a whole number of watts between 1 and 3000")
  .min(1, "must be a whole number of watts between 1 and 3000")
  .max(3000, "must be a whole number of watts between 1 and 3000");

const ProfilePatchSchema = z
  .object({
    displayName: z.string().trim().min(1).max(100).nullable(),
    avatarUrl: z.url({ protocol: /^https?$/ }).max(2048).nullable(),
    weightKg: z.number().gt(0).lt(500).nullable(),
    // Not nullable: every FTP is kept in ftp_history, and a ride's TSS uses the one in force.
    ftpWatts: ftp.openapi({ description: "Recorded in the FTP history when it changes" }),
    maxHr: z.number().int().min(1).max(299).nullable(),
  })
  .partial()
  .strict()
  .openapi("ProfilePatch");

const patchMe = createRoute({
  method: "patch",
  path: "/me",
  tags: ["Users"],
  summary: "Change the signed-in rider's profile (null clears a field, except ftpWatts)",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { body: jsonBody(ProfilePatchSchema) },
  responses: {
    200: json(UserSchema, "Updated profile"),
    ...errors("validation_failed", "unauthorized", "unsupported_media_type"),
  },
});

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UserIdParams = z.object({
  id: z
    .string()
    .refine((id) => id === "me" || uuid.test(id), "must be me or a user id (UUID)")
    .openapi({
      param: { name: "id", in: "path" },
      description: "`me`, or the signed-in rider's own id (another rider's id answers 404)",
      example: "me",
    }),
});

/** The caller's id when `id` names the caller (`me` or their uuid); another rider's is 404. */
function ownId(principal: Principal | null, id: string): string {
  const userId = userIdOf(principal);
  if (id !== "me" && id.toLowerCase() !== userId.toLowerCase()) {
    throw new ApiError("not_found", "User not found");
  }
  return userId;
}

const FtpHistoryEntrySchema = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    ftp: z.number().int(),
    source: z.string(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("FtpHistoryEntry");

function historyJson(row: FtpHistoryRow): z.infer<typeof FtpHistoryEntrySchema> {
  return {
    id: row.id,
    userId: row.userId,
    ftp: row.ftpWatts,
    source: row.source,
    createdAt: row.createdAt.toISOString(),
  };
}

const getOne = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["Users"],
  summary: "A rider's profile (only your own: `me` or your id)",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { params: UserIdParams },
  responses: {
    200: json(UserSchema, "Profile"),
    ...errors("validation_failed", "unauthorized", "not_found"),
  },
});

const putFtp = createRoute({
  method: "put",
  path: "/{id}/ftp",
  tags: ["Users"],
  summary: "Set your FTP; every change is kept in the FTP history",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    params: UserIdParams,
    body: jsonBody(
      z.object({
        ftp,
        source: z.string().trim().min(1).max(50).optional()
          .openapi({ description: "Where the value came from; default `manual`" }),
      }),
    ),
  },
  responses: {
    200: json(z.object({ ftp: z.number().int() }), "The FTP now in force"),
    ...errors("validation_failed", "unauthorized", "not_found", "unsupported_media_type"),
  },
});

const getFtpHistory = createRoute({
  method: "get",
  path: "/{id}/ftp-history",
  tags: ["Users"],
  summary: "Every FTP you have had, newest first",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { params: UserIdParams },
  responses: {
    200: json(z.array(FtpHistoryEntrySchema), "FTP history, newest first"),
    ...errors("validation_failed", "unauthorized", "not_found"),
  },
});

const getStats = createRoute({
  method: "get",
  path: "/{id}/stats",
  tags: ["Users"],
  summary: "Totals over your completed workouts",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { params: UserIdParams },
  responses: {
    200: json(
      z.object({
        totalWorkouts: z.number().int().openapi({ description: "Completed workouts" }),
        totalDuration: z.number().openapi({
          description: "Sum of their elapsed seconds (first to last sample, pauses included)",
        }),
      }),
      "Totals",
    ),
    ...errors("validation_failed", "unauthorized", "not_found"),
  },
});

const deleteMe = createRoute({
  method: "delete",
  path: "/me",
  tags: ["Users"],
  summary: "Delete your account with every ride, sample, stream, key and session (Bearer only)",
  description: "Needs a Bearer access token: a personal API key (a device) cannot delete the " +
    "account. Afterwards every access token, refresh token and API key of the account answers 401.",
  security: [{ bearerAuth: [] }],
  middleware: [requireUser] as const,
  responses: {
    200: json(
      z.object({
        success: z.literal(true),
        deletedWorkouts: z.number().int(),
        deletedStreams: z.number().int().openapi({ description: "Live /api/streams streams" }),
      }),
      "Deleted",
    ),
    ...errors("unauthorized", "forbidden", "not_found"),
  },
});

/** Routes under /api/users. */
export function userRoutes() {
  const app = createRouter();

  app.openapi(getMe, async (c) => {
    const user = await getUser(c.var.deps.sql, userIdOf(c.var.principal));
    if (!user) throw new ApiError("not_found", "User not found");
    return c.json(userJson(user), 200);
  });

  app.openapi(patchMe, async (c) => {
    const user = await updateProfile(
      c.var.deps.sql,
      userIdOf(c.var.principal),
      c.req.valid("json"),
    );
    if (!user) throw new ApiError("not_found", "User not found");
    return c.json(userJson(user), 200);
  });

  app.openapi(deleteMe, async (c) => {
    const principal = c.var.principal;
    if (principal?.kind !== "user" || principal.via !== "token") {
      throw new ApiError(
        "forbidden",
        "Deleting an account needs a Bearer access token, not an API key",
      );
    }
    const deleted = await deleteAccount(c.var.deps, principal.userId);
    if (!deleted) throw new ApiError("not_found", "User not found");
    return c.json({
      success: true as const,
      deletedWorkouts: deleted.workouts,
      deletedStreams: deleted.streams,
    }, 200);
  });

  app.openapi(getOne, async (c) => {
    const userId = ownId(c.var.principal, c.req.valid("param").id);
    const user = await getUser(c.var.deps.sql, userId);
    if (!user) throw new ApiError("not_found", "User not found");
    return c.json(userJson(user), 200);
  });

  app.openapi(putFtp, async (c) => {
    const userId = ownId(c.var.principal, c.req.valid("param").id);
    const body = c.req.valid("json");
    const row = await setFtp(c.var.deps.sql, userId, {
      ftpWatts: body.ftp,
      source: body.source ?? "manual",
    });
    if (!row) throw new ApiError("not_found", "User not found");
    return c.json({ ftp: row.ftpWatts }, 200);
  });

  app.openapi(getFtpHistory, async (c) => {
    const userId = ownId(c.var.principal, c.req.valid("param").id);
    const rows = await ftpHistory(c.var.deps.sql, userId);
    return c.json(rows.map(historyJson), 200);
  });

  app.openapi(getStats, async (c) => {
    const userId = ownId(c.var.principal, c.req.valid("param").id);
    return c.json(await userStats(c.var.deps.sql, userId), 200);
  });

  return app;
}
