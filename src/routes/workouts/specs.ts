import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { ErrorCode } from "../../core/error_codes.ts";
import { ApiError } from "../../core/errors.ts";
import { maxBatchSamples, maxImportSamples, metricFields } from "../../core/sample.ts";
import { essence, fileContentTypes, isFileContentType } from "../../files/detect.ts";
import { formatContentTypes, rideFormats } from "../../files/ride_file.ts";
import type { AppEnv } from "../../http/deps.ts";
import { errors, json, jsonBody, userSecurity } from "../../http/openapi.ts";
import { idParams, streamNameSchema } from "../../http/schemas.ts";
import { sampleBatch } from "../../workouts/sample_input.ts";
import { LapSchema } from "../../workouts/lap_json.ts";
import { SampleSchema, WorkoutSchema } from "../../workouts/workout_json.ts";

const tags = ["Workouts"];

/** What any signed-in route can answer before its handler runs: credentials, limits, an outage. */
const signedIn: ErrorCode[] = [
  "unauthorized",
  "invalid_token",
  "invalid_api_key",
  "rider_not_registered",
  "too_many_attempts",
  "rate_limited",
  "service_unavailable",
];
/** What a JSON body can answer before its handler runs. */
const jsonInput: ErrorCode[] = [
  "bad_request",
  "validation_failed",
  "unsupported_media_type",
  "payload_too_large",
];
/** What reading and checking an uploaded ride file can answer (src/files). */
const rideFileErrors: ErrorCode[] = [
  "unsupported_file",
  "empty_file",
  "invalid_encoding",
  "invalid_fit",
  "truncated_fit",
  "fit_crc_mismatch",
  "invalid_tcx",
  "invalid_gpx",
  "invalid_xml",
  "invalid_csv",
  "invalid_time",
  "no_samples",
  "no_positions",
  "too_many_samples",
  "ride_too_long",
];
const IdParams = idParams("must be a workout id (UUID)");
const streamName = streamNameSchema;
const title = z.string().trim().max(200);
const sport = z.string().trim().min(1).max(50);
const status = z
  .string()
  .transform((value) => value.toLowerCase())
  .pipe(z.enum(["active", "completed"], "status must be active or completed"));

const WorkoutEnvelope = z.object({ success: z.literal(true), workout: WorkoutSchema });
const ArchiveEnvelope = WorkoutEnvelope.extend({
  archivedMessages: z.number().int().openapi({ description: "Samples archived" }),
});

/** `createWorkout`. */
export const createWorkoutRoute = createRoute({
  operationId: "createWorkout",
  method: "post",
  path: "/",
  tags,
  summary: "Start a workout (an active row and its live stream)",
  security: userSecurity,
  request: {
    body: jsonBody(z.object({
      title: title.optional(),
      sport: sport.optional(),
      streamName: streamName.optional(),
    })),
  },
  responses: {
    201: json(WorkoutEnvelope, "Started"),
    ...errors(...signedIn, ...jsonInput, "stream_in_use"),
  },
});

const binary = { schema: { type: "string" as const, format: "binary" } };

const ImportEnvelope = ArchiveEnvelope.extend({
  file: z
    .object({
      format: z.enum(rideFormats),
      sha256: z.string().openapi({ description: "Hex SHA-256 of the uploaded bytes" }),
      duplicate: z.boolean().openapi({
        description: "True when this rider had uploaded these exact bytes before (200)",
      }),
    })
    .optional()
    .openapi({ description: "Present when a ride file was uploaded" }),
});

/** The JSON body of an import: samples of a finished ride. */
export const ImportJson = z.object({
  title: title.optional(),
  sport: sport.optional(),
  samples: sampleBatch(maxImportSamples),
});

/** The multipart body of an import: a ride file. */
export const FileForm = z.object({
  file: z
    .instanceof(File, { message: "file must be a file upload (FIT, TCX, GPX or CSV)" })
    .openapi({ type: "string", format: "binary" }),
  title: title.optional(),
  sport: sport.optional(),
});

/** Lets JSON, multipart and ride file bodies through; anything else is a clear 415. */
const importBodyTypes: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = essence(c.req.header("content-type"));
  if (type && (isJsonType(type) || type === "multipart/form-data" || isFileContentType(type))) {
    return await next();
  }
  throw new ApiError(
    "unsupported_media_type",
    "Content-Type must be application/json (samples), multipart/form-data (a file field) or " +
      `a ride file type (${fileContentTypes.join(", ")})`,
  );
};

/** Whether a Content-Type essence is JSON. */
export function isJsonType(type: string): boolean {
  return type === "application/json" || type.endsWith("+json");
}

const ImportJobFileSchema = z.object({
  name: z.string().openapi({ description: "The entry's path inside the archive" }),
  outcome: z.enum(["imported", "duplicate", "failed", "skipped"]),
  reason: z.string().nullable().openapi({ description: "Why it was not imported" }),
  workoutId: z.string().nullable().openapi({
    description: "The workout it made, or (a duplicate) the one it duplicates",
  }),
});

/** An import job as the API shows it. */
export const ImportJobSchema = z.object({
  id: z.string(),
  state: z.enum(["running", "done", "failed", "interrupted"]),
  reason: z.string().nullable().openapi({ description: "Why a job failed or was interrupted" }),
  filesTotal: z.number().int(),
  filesDone: z.number().int(),
  imported: z.number().int(),
  duplicates: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  files: z.array(ImportJobFileSchema),
}).openapi("ImportJob");

/** `importWorkout`. */
export const importWorkoutRoute = createRoute({
  operationId: "importWorkout",
  method: "post",
  path: "/import",
  tags,
  summary: "Archive a finished ride: JSON samples, or a FIT, TCX, GPX or CSV file",
  description: `JSON: at most ${maxImportSamples} samples. A file: raw body (its type, or ` +
    "application/octet-stream: told by its bytes) or multipart/form-data with a `file` field. " +
    "A new ride answers 201; the same file uploaded again by the same rider answers 200 with " +
    "the workout it made the first time. A zip archive (application/zip, or told by its bytes) " +
    "answers 202 with an import job (GET /api/workouts/import-jobs/{id}); its entries are " +
    "checked first against IMPORT_ZIP_MAX_ENTRIES (413 too_many_entries) and " +
    "IMPORT_MAX_FILE_BYTES / IMPORT_ZIP_MAX_TOTAL_BYTES (413 payload_too_large), nothing stored.",
  security: userSecurity,
  middleware: [importBodyTypes] as const,
  request: {
    query: z.object({
      title: title.optional().openapi({ description: "Title for a raw file upload" }),
      sport: sport.optional().openapi({ description: "Sport for a raw file upload" }),
      filename: z.string().trim().min(1).max(255).optional()
        .openapi({ description: "Original file name of a raw file upload" }),
      duplicate: z.enum(["refuse", "keep"], "duplicate must be refuse or keep").default("refuse")
        .openapi({
          description: "A file of a ride this rider already has (start within 60 s, elapsed " +
            "within 2 %): refuse answers 409 duplicate_workout with existingWorkoutId; keep " +
            "stores it as another workout",
        }),
    }),
    body: {
      required: false,
      content: {
        "application/json": { schema: ImportJson },
        "multipart/form-data": { schema: FileForm },
        ...Object.fromEntries(fileContentTypes.map((type) => [type, binary])),
      },
    },
  },
  responses: {
    200: json(ImportEnvelope, "This file was uploaded before: its workout"),
    201: json(ImportEnvelope, "Archived"),
    202: json(
      z.object({ success: z.literal(true), job: ImportJobSchema }),
      "A zip archive: its import job, started (Location: the job)",
    ),
    ...errors(
      ...signedIn,
      ...jsonInput,
      "invalid_sample",
      "validation_failed",
      "duplicate_workout",
      "invalid_zip",
      "too_many_entries",
      ...rideFileErrors,
    ),
  },
});

const JobParams = idParams("must be an import job id (UUID)");

/** `getImportJob`. */
export const importJobRoute = createRoute({
  operationId: "getImportJob",
  method: "get",
  path: "/import-jobs/{id}",
  tags,
  summary: "A zip import's progress: files done, imported, duplicates, failed with reasons",
  security: userSecurity,
  request: { params: JobParams },
  responses: {
    200: json(z.object({ success: z.literal(true), job: ImportJobSchema }), "The job"),
    ...errors(...signedIn, "validation_failed", "not_found"),
  },
});

/** `importJobEvents`. */
export const importJobEventsRoute = createRoute({
  operationId: "importJobEvents",
  method: "get",
  path: "/import-jobs/{id}/events",
  tags,
  summary: "A zip import's progress as server-sent events, until the job ends",
  description: "One `progress` event (the job without its files) at once and whenever a file " +
    "is done, then one `end` event with the whole job when it is no longer running.",
  security: userSecurity,
  request: { params: JobParams },
  responses: {
    200: {
      description: "Progress events",
      content: { "text/event-stream": { schema: z.string() } },
    },
    ...errors(...signedIn, "validation_failed", "not_found"),
  },
});

/** `exportWorkout`. */
export const exportWorkoutRoute = createRoute({
  operationId: "exportWorkout",
  method: "get",
  path: "/{id}/export",
  tags,
  summary: "A completed workout's archived samples as a FIT, TCX, GPX or CSV file",
  security: userSecurity,
  request: {
    params: IdParams,
    query: z.object({
      format: z.enum(rideFormats, "format must be fit, tcx, gpx or csv").default("fit"),
    }),
  },
  responses: {
    200: {
      description: "The ride file, as an attachment",
      content: Object.fromEntries(
        rideFormats.map((format) => [essence(formatContentTypes[format]), binary]),
      ),
    },
    ...errors(...signedIn, "validation_failed", "not_found", "workout_active", "telemetry_expired"),
  },
});

/** `getOriginalFile`. */
export const originalFileRoute = createRoute({
  operationId: "getOriginalFile",
  method: "get",
  path: "/{id}/original",
  tags,
  summary: "The ride file this workout was imported from, byte for byte",
  description: "The bytes exactly as uploaded (a `.gz` stays gzipped; a zip entry is that " +
    "entry's own file, as it was inside the archive), with the upload's Content-Type and file " +
    "name. 404 for a workout with no uploaded file (a live ride, a JSON import).",
  security: userSecurity,
  request: { params: IdParams },
  responses: {
    200: {
      description: "The uploaded file, as an attachment",
      content: { "application/octet-stream": binary },
    },
    ...errors(...signedIn, "validation_failed", "not_found"),
  },
});

/** `addSamples`. */
export const addSamplesRoute = createRoute({
  operationId: "addSamples",
  method: "post",
  path: "/{id}/samples",
  tags,
  summary: `Add a batch of live samples (at most ${maxBatchSamples}); one Redis command`,
  security: userSecurity,
  request: {
    params: IdParams,
    body: jsonBody(z.object({ samples: sampleBatch(maxBatchSamples) })),
  },
  responses: {
    202: json(
      z.object({
        success: z.literal(true),
        accepted: z.number().int(),
        cursor: z.string().openapi({ description: "Id of the stored batch, for /live?after=" }),
      }),
      "Accepted into the live stream",
    ),
    ...errors(
      ...signedIn,
      ...jsonInput,
      "invalid_sample",
      "not_found",
      "workout_not_active",
      "workout_closing",
      "ride_too_long",
    ),
  },
});

/** `listLiveSamples`. */
export const liveSamplesRoute = createRoute({
  operationId: "listLiveSamples",
  method: "get",
  path: "/{id}/live",
  tags,
  summary: "Samples received so far (after a cursor), for a reconnecting client",
  security: userSecurity,
  request: {
    params: IdParams,
    query: z.object({
      after: z.string().regex(/^\d+-\d+$/, "after must be a cursor from an earlier answer")
        .optional(),
      limit: z.coerce.number().int().min(1).max(10_000).default(1000)
        .openapi({ description: "Most stored batches to return" }),
    }),
  },
  responses: {
    200: json(
      z.object({
        status: z.enum(["active", "completed"]),
        samples: z.array(SampleSchema),
        cursor: z.string().nullable(),
        more: z.boolean(),
      }),
      "Live samples",
    ),
    ...errors(...signedIn, "validation_failed", "invalid_value", "not_found"),
  },
});

/** `completeWorkout`. */
export const completeWorkoutRoute = createRoute({
  operationId: "completeWorkout",
  method: "post",
  path: "/{id}/complete",
  tags,
  summary: "Complete a workout: archive every live sample and compute its summary",
  security: userSecurity,
  request: {
    params: IdParams,
    body: {
      content: {
        "application/json": { schema: z.object({ archiveTelemetry: z.boolean().optional() }) },
      },
      required: false,
    },
  },
  responses: {
    200: json(ArchiveEnvelope, "Archived"),
    ...errors(
      ...signedIn,
      ...jsonInput,
      "not_found",
      "workout_not_active",
      "workout_already_completed",
    ),
  },
});

/** `listWorkouts`. */
export const listWorkoutsRoute = createRoute({
  operationId: "listWorkouts",
  method: "get",
  path: "/",
  tags,
  summary: "The rider's workouts, newest first",
  security: userSecurity,
  request: {
    query: z.object({
      page: z.coerce.number().int().min(1).default(1),
      limit: z.coerce.number().int().min(1).max(1000).default(20),
      status: status.optional(),
      sport: sport.optional(),
      title: z.string().trim().min(1).max(200).optional()
        .openapi({ description: "Only rides whose title contains this (case-insensitive)" }),
      startDate: z.coerce.date("startDate must be a date").optional(),
      endDate: z.coerce.date("endDate must be a date").optional(),
    }),
  },
  responses: {
    200: json(
      z.object({
        workouts: z.array(WorkoutSchema),
        pagination: z.object({
          page: z.number().int(),
          limit: z.number().int(),
          total: z.number().int(),
          totalPages: z.number().int(),
        }),
      }),
      "A page of workouts",
    ),
    ...errors(...signedIn, "validation_failed"),
  },
});

/** `getWorkoutByStream`. */
export const workoutByStreamRoute = createRoute({
  operationId: "getWorkoutByStream",
  method: "get",
  path: "/by-stream/{streamName}",
  tags,
  summary: "The rider's active workout bound to a stream name",
  security: userSecurity,
  request: {
    params: z.object({
      streamName: streamName.openapi({ param: { name: "streamName", in: "path" } }),
    }),
  },
  // The bare workout, as the old service answered and the PWA reads it (COMPAT "Workout JSON").
  responses: {
    200: json(WorkoutSchema, "The active workout"),
    ...errors(...signedIn, "validation_failed", "not_found"),
  },
});

/** `getWorkout`. */
export const getWorkoutRoute = createRoute({
  operationId: "getWorkout",
  method: "get",
  path: "/{id}",
  tags,
  summary: "One workout (with its samples when includeTelemetry=true)",
  security: userSecurity,
  request: {
    params: IdParams,
    query: z.object({
      includeTelemetry: z.enum(["true", "false"]).default("false"),
    }),
  },
  responses: {
    200: json(WorkoutSchema, "The bare workout (COMPAT)"),
    ...errors(...signedIn, "validation_failed", "not_found"),
  },
});

/** `updateWorkout`. */
export const updateWorkoutRoute = createRoute({
  operationId: "updateWorkout",
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Change title, description or sport",
  security: userSecurity,
  request: {
    params: IdParams,
    body: jsonBody(
      z.object({
        title: title.nullable().optional(),
        description: z.string().max(10_000).nullable().optional(),
        sport: sport.optional(),
      }).strict(),
    ),
  },
  responses: {
    200: json(WorkoutEnvelope, "Updated"),
    ...errors(...signedIn, ...jsonInput, "invalid_value", "not_found"),
  },
});

/** `deleteWorkout`. */
export const deleteWorkoutRoute = createRoute({
  operationId: "deleteWorkout",
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete a workout with its telemetry, efforts and live stream",
  security: userSecurity,
  request: { params: IdParams },
  responses: {
    200: json(z.object({ success: z.literal(true) }), "Deleted"),
    ...errors(...signedIn, "validation_failed", "not_found"),
  },
});

/** The metrics a telemetry series may hold. */
export const telemetryFields = metricFields;

/** `getWorkoutTelemetry`. */
export const workoutTelemetryRoute = createRoute({
  operationId: "getWorkoutTelemetry",
  method: "get",
  path: "/{id}/telemetry",
  tags,
  summary: "Archived samples as columns; 10s and 1m come from the aggregates",
  security: userSecurity,
  request: {
    params: IdParams,
    query: z.object({
      resolution: z.enum(["raw", "1s", "10s", "1m"]).default("raw"),
      fields: z
        .string()
        .transform((v) => v.split(",").map((f) => f.trim()).filter(Boolean))
        .pipe(z.array(
          z.enum(
            [...telemetryFields, "wPrimeBalance"],
            "fields must be a comma list of metric names",
          ),
        ))
        .optional()
        .openapi({
          description: "Comma list; default every metric. `wPrimeBalance` (J, only when asked " +
            "for): W′ balance with the ride's CP and W′ — at 1s each grid second, at raw the " +
            "value of the sample's second, at 10s and 1m the minimum over the bucket's seconds; " +
            "all null when the ride had no CP and W′",
        }),
    }),
  },
  responses: {
    200: json(
      z.record(z.string(), z.array(z.union([z.string(), z.number(), z.null()]))),
      "Column-oriented series: time plus one array per field",
    ),
    ...errors(...signedIn, "validation_failed", "not_found", "telemetry_expired"),
  },
});

/** `getWorkoutLaps`. */
export const workoutLapsRoute = createRoute({
  operationId: "getWorkoutLaps",
  method: "get",
  path: "/{id}/laps",
  tags,
  summary: "The laps of an imported ride (FIT lap messages, TCX laps), each with its summary",
  security: userSecurity,
  request: { params: IdParams },
  responses: {
    200: json(z.object({ laps: z.array(LapSchema) }), "Laps in time order; empty without laps"),
    ...errors(...signedIn, "validation_failed", "not_found"),
  },
});
