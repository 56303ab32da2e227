import { createRoute, z } from "@hono/zod-openapi";
import { errors, json, jsonBody, userSecurity } from "../../http/openapi.ts";
import { jsonBodyErrors, signedInErrors } from "../../http/schemas.ts";
import { UserSchema } from "../../users/user_json.ts";

const tags = ["Users"];

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
    restingHr: z.number().int().min(1).max(299).nullable().openapi({
      description: "bpm; TRIMP needs it below the max HR",
    }),
    lthr: z.number().int().min(1).max(299).nullable().openapi({
      description: "Lactate-threshold heart rate, bpm",
    }),
  })
  .partial()
  .strict()
  .openapi("ProfilePatch");

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Not idParams: `me` is accepted besides a UUID.
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

/** One FTP a rider has had, as JSON. */
export const FtpHistoryEntrySchema = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    ftp: z.number().int(),
    source: z.string(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("FtpHistoryEntry");

/** GET /api/users/me */
export const getMe = createRoute({
  method: "get",
  path: "/me",
  operationId: "getMe",
  tags,
  summary: "The signed-in rider's profile",
  security: userSecurity,
  responses: { 200: json(UserSchema, "Profile"), ...errors(...signedInErrors, "not_found") },
});

/** PATCH /api/users/me */
export const patchMe = createRoute({
  method: "patch",
  path: "/me",
  operationId: "updateMe",
  tags,
  summary: "Change the signed-in rider's profile (null clears a field, except ftpWatts)",
  security: userSecurity,
  request: { body: jsonBody(ProfilePatchSchema) },
  responses: {
    200: json(UserSchema, "Updated profile"),
    ...errors(...jsonBodyErrors, ...signedInErrors, "not_found"),
  },
});

/** GET /api/users/{id} */
export const getOne = createRoute({
  method: "get",
  path: "/{id}",
  operationId: "getUser",
  tags,
  summary: "A rider's profile (only your own: `me` or your id)",
  security: userSecurity,
  request: { params: UserIdParams },
  responses: {
    200: json(UserSchema, "Profile"),
    ...errors("validation_failed", ...signedInErrors, "not_found"),
  },
});

/** PUT /api/users/{id}/ftp */
export const putFtp = createRoute({
  method: "put",
  path: "/{id}/ftp",
  operationId: "setFtp",
  tags,
  summary: "Set your FTP; every change is kept in the FTP history",
  security: userSecurity,
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
    ...errors(...jsonBodyErrors, ...signedInErrors, "not_found"),
  },
});

/** GET /api/users/{id}/ftp-history */
export const getFtpHistory = createRoute({
  method: "get",
  path: "/{id}/ftp-history",
  operationId: "getFtpHistory",
  tags,
  summary: "Every FTP you have had, newest first",
  security: userSecurity,
  request: { params: UserIdParams },
  responses: {
    200: json(z.array(FtpHistoryEntrySchema), "FTP history, newest first"),
    ...errors("validation_failed", ...signedInErrors, "not_found"),
  },
});

/** GET /api/users/{id}/stats */
export const getStats = createRoute({
  method: "get",
  path: "/{id}/stats",
  operationId: "getUserStats",
  tags,
  summary: "Totals over your completed workouts",
  security: userSecurity,
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
    ...errors("validation_failed", ...signedInErrors, "not_found"),
  },
});

/** DELETE /api/users/me */
export const deleteMe = createRoute({
  method: "delete",
  path: "/me",
  operationId: "deleteMe",
  tags,
  summary: "Delete your account with every ride, sample, stream, key and session (Bearer only)",
  description: "Needs a Bearer access token: a personal API key (a device) cannot delete the " +
    "account. Afterwards every access token, refresh token and API key of the account answers 401.",
  security: [{ bearerAuth: [] }],
  responses: {
    200: json(
      z.object({
        success: z.literal(true),
        deletedWorkouts: z.number().int(),
        deletedStreams: z.number().int().openapi({ description: "Live /api/streams streams" }),
      }),
      "Deleted",
    ),
    ...errors(...signedInErrors, "forbidden", "not_found", "revocation_pending"),
  },
});
