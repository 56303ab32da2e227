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

const source = z.string().trim().min(1).max(50).optional()
  .openapi({ description: "Where the value came from; default `manual`" });
const validFrom = z.coerce.date("validFrom must be a date").optional()
  .openapi({
    description: "From when it holds (ISO); default now. Rides that started at or " +
      "after it and before the next entry use it",
  });

/** One recorded weight, as JSON. */
export const WeightEntrySchema = z
  .object({
    id: z.uuid(),
    weightKg: z.number().openapi({ description: "kg" }),
    validFrom: z.string().openapi({ format: "date-time" }),
    source: z.string(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("WeightEntry");

/** PUT /api/users/{id}/weight */
export const putWeight = createRoute({
  method: "put",
  path: "/{id}/weight",
  operationId: "setWeight",
  tags,
  summary: "Record your weight from a date on (kept in the weight history, used for W/kg)",
  security: userSecurity,
  request: {
    params: UserIdParams,
    body: jsonBody(
      z.object({
        weightKg: z.number("weightKg must be a number of kg").gt(0, "weightKg must be 0-500 kg")
          .lt(500, "weightKg must be 0-500 kg"),
        validFrom,
        source,
      }).strict(),
    ),
  },
  responses: {
    200: json(
      z.object({
        weightKg: z.number().nullable().openapi({
          description: "The profile's weight now (the newest entry valid now), kg",
        }),
      }),
      "Recorded",
    ),
    ...errors(...jsonBodyErrors, ...signedInErrors, "not_found"),
  },
});

/** GET /api/users/{id}/weight-history */
export const getWeightHistory = createRoute({
  method: "get",
  path: "/{id}/weight-history",
  operationId: "getWeightHistory",
  tags,
  summary: "Every weight you recorded, newest validFrom first",
  security: userSecurity,
  request: { params: UserIdParams },
  responses: {
    200: json(z.array(WeightEntrySchema), "Weight history"),
    ...errors("validation_failed", ...signedInErrors, "not_found"),
  },
});

/** One critical power and W′ set by the rider, as JSON. */
export const CpEntrySchema = z
  .object({
    id: z.uuid(),
    cp: z.number().openapi({ description: "Critical power, W" }),
    wPrime: z.number().openapi({ description: "W′, J" }),
    validFrom: z.string().openapi({ format: "date-time" }),
    source: z.string(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("CriticalPowerEntry");

/** PUT /api/users/{id}/critical-power */
export const putCp = createRoute({
  method: "put",
  path: "/{id}/critical-power",
  operationId: "setCriticalPower",
  tags,
  summary: "Set your critical power and W′ from a date on (used for W′ balance; kept in history)",
  security: userSecurity,
  request: {
    params: UserIdParams,
    body: jsonBody(
      z.object({
        cp: z.number("cp must be a number of watts").gt(0, "cp must be 0-3000 W")
          .max(3000, "cp must be 0-3000 W"),
        wPrime: z.number("wPrime must be a number of joules").gt(0, "wPrime must be 0-200000 J")
          .max(200000, "wPrime must be 0-200000 J"),
        validFrom,
        source,
      }).strict(),
    ),
  },
  responses: {
    200: json(CpEntrySchema, "Recorded"),
    ...errors(...jsonBodyErrors, ...signedInErrors, "not_found"),
  },
});

/** GET /api/users/{id}/critical-power-history */
export const getCpHistory = createRoute({
  method: "get",
  path: "/{id}/critical-power-history",
  operationId: "getCriticalPowerHistory",
  tags,
  summary: "Every critical power and W′ you set, newest validFrom first",
  security: userSecurity,
  request: { params: UserIdParams },
  responses: {
    200: json(z.array(CpEntrySchema), "CP and W′ history"),
    ...errors("validation_failed", ...signedInErrors, "not_found"),
  },
});
