import { createRoute, z } from "@hono/zod-openapi";
import { requireUser, userIdOf } from "../http/authenticate.ts";
import { telemetrySeries } from "../analytics/aggregate_queries.ts";
import { ApiError } from "../core/errors.ts";
import { createRouter, errors, json, jsonBody, userSecurity } from "../http/openapi.ts";
import {
  completeWorkout,
  importWorkout,
  ingestSamples,
  startWorkout,
  WorkoutAlreadyCompleted,
} from "../workouts/lifecycle.ts";
import {
  deleteWorkout,
  getActiveByStream,
  getWorkout,
  listWorkouts,
  readTelemetry,
  updateWorkout,
} from "../workouts/queries.ts";
import { sampleBatch, toSample } from "../workouts/sample_input.ts";
import { gridSeries } from "../workouts/grid_series.ts";
import { sampleJson, SampleSchema, workoutJson, WorkoutSchema } from "../workouts/workout_json.ts";
import { refreshAfterCommit } from "../db/timescale.ts";
import { maxBatchSamples, maxImportSamples, metricFields } from "../core/sample.ts";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/deps.ts";
import { essence, fileContentTypes, isFileContentType } from "../files/detect.ts";
import { importRideFile } from "../workouts/import_file.ts";
import { formatContentTypes, rideFormats, safeFilename } from "../files/ride_file.ts";
import { writeRideFile } from "../files/ride_files.ts";

const tags = ["Workouts"];
const IdParams = z.object({
  id: z.uuid("must be a workout id (UUID)").openapi({ param: { name: "id", in: "path" } }),
});
const streamName = z
  .string()
  .min(1, "streamName is required")
  .max(64, "streamName must be at most 64 characters")
  .regex(/^[a-zA-Z0-9_-]+$/, "streamName must be alphanumeric (letters, digits, _ and -)");
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

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Start a workout (an active row and its live stream)",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    body: jsonBody(z.object({
      title: title.optional(),
      sport: sport.optional(),
      streamName: streamName.optional(),
    })),
  },
  responses: {
    201: json(WorkoutEnvelope, "Started"),
    ...errors(
      "validation_failed",
      "unauthorized",
      "conflict",
      "unsupported_media_type",
      "service_unavailable",
    ),
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

const ImportJson = z.object({
  title: title.optional(),
  sport: sport.optional(),
  samples: sampleBatch(maxImportSamples),
});

const FileForm = z.object({
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

function isJsonType(type: string): boolean {
  return type === "application/json" || type.endsWith("+json");
}

const importRide = createRoute({
  method: "post",
  path: "/import",
  tags,
  summary: "Archive a finished ride: JSON samples, or a FIT, TCX, GPX or CSV file",
  description: `JSON: at most ${maxImportSamples} samples. A file: raw body (its type, or ` +
    "application/octet-stream: told by its bytes) or multipart/form-data with a `file` field. " +
    "A new ride answers 201; the same file uploaded again by the same rider answers 200 with " +
    "the workout it made the first time.",
  security: userSecurity,
  middleware: [requireUser, importBodyTypes] as const,
  request: {
    query: z.object({
      title: title.optional().openapi({ description: "Title for a raw file upload" }),
      sport: sport.optional().openapi({ description: "Sport for a raw file upload" }),
      filename: z.string().trim().min(1).max(255).optional()
        .openapi({ description: "Original file name of a raw file upload" }),
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
    ...errors(
      "validation_failed",
      "unauthorized",
      "payload_too_large",
      "unsupported_media_type",
      "unprocessable_entity",
      "service_unavailable",
    ),
  },
});

const exportRide = createRoute({
  method: "get",
  path: "/{id}/export",
  tags,
  summary: "A completed workout's archived samples as a FIT, TCX, GPX or CSV file",
  security: userSecurity,
  middleware: [requireUser] as const,
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
    ...errors("validation_failed", "unauthorized", "not_found", "conflict", "unprocessable_entity"),
  },
});

const addSamples = createRoute({
  method: "post",
  path: "/{id}/samples",
  tags,
  summary: `Add a batch of live samples (at most ${maxBatchSamples}); one Redis command`,
  security: userSecurity,
  middleware: [requireUser] as const,
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
      "validation_failed",
      "unauthorized",
      "not_found",
      "conflict",
      "unsupported_media_type",
      "unprocessable_entity",
      "service_unavailable",
    ),
  },
});

const liveSamples = createRoute({
  method: "get",
  path: "/{id}/live",
  tags,
  summary: "Samples received so far (after a cursor), for a reconnecting client",
  security: userSecurity,
  middleware: [requireUser] as const,
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
    ...errors("validation_failed", "unauthorized", "not_found", "service_unavailable"),
  },
});

const complete = createRoute({
  method: "post",
  path: "/{id}/complete",
  tags,
  summary: "Complete a workout: archive every live sample and compute its summary",
  security: userSecurity,
  middleware: [requireUser] as const,
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
    ...errors("validation_failed", "unauthorized", "not_found", "service_unavailable"),
  },
});

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The rider's workouts, newest first",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      page: z.coerce.number().int().min(1).default(1),
      limit: z.coerce.number().int().min(1).max(1000).default(20),
      status: status.optional(),
      sport: sport.optional(),
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
    ...errors("validation_failed", "unauthorized"),
  },
});

const byStream = createRoute({
  method: "get",
  path: "/by-stream/{streamName}",
  tags,
  summary: "The rider's active workout bound to a stream name",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    params: z.object({
      streamName: streamName.openapi({ param: { name: "streamName", in: "path" } }),
    }),
  },
  // The bare workout, as the old service answered and the PWA reads it (COMPAT "Workout JSON").
  responses: {
    200: json(WorkoutSchema, "The active workout"),
    ...errors("validation_failed", "unauthorized", "not_found"),
  },
});

const getOne = createRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "One workout (with its samples when includeTelemetry=true)",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    params: IdParams,
    query: z.object({
      includeTelemetry: z.enum(["true", "false"]).default("false"),
    }),
  },
  responses: {
    200: json(WorkoutSchema, "The bare workout (COMPAT)"),
    ...errors("validation_failed", "unauthorized", "not_found"),
  },
});

const patch = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Change title, description or sport",
  security: userSecurity,
  middleware: [requireUser] as const,
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
    ...errors("validation_failed", "unauthorized", "not_found", "unsupported_media_type"),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete a workout with its telemetry, efforts and live stream",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { params: IdParams },
  responses: {
    200: json(z.object({ success: z.literal(true) }), "Deleted"),
    ...errors("validation_failed", "unauthorized", "not_found"),
  },
});

const telemetryFields = metricFields;

const telemetry = createRoute({
  method: "get",
  path: "/{id}/telemetry",
  tags,
  summary: "Archived samples as columns; 10s and 1m come from the aggregates",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    params: IdParams,
    query: z.object({
      resolution: z.enum(["raw", "1s", "10s", "1m"]).default("raw"),
      fields: z
        .string()
        .transform((v) => v.split(",").map((f) => f.trim()).filter(Boolean))
        .pipe(z.array(z.enum(telemetryFields, "fields must be a comma list of metric names")))
        .optional(),
    }),
  },
  responses: {
    200: json(
      z.record(z.string(), z.array(z.union([z.string(), z.number(), z.null()]))),
      "Column-oriented series: time plus one array per field",
    ),
    ...errors("validation_failed", "unauthorized", "not_found"),
  },
});

/** Routes under /api/workouts. */
export function workoutRoutes() {
  const app = createRouter();

  app.openapi(create, async (c) => {
    const body = c.req.valid("json");
    const workout = await startWorkout(c.var.deps, {
      userId: userIdOf(c.var.principal),
      title: body.title ?? body.streamName ?? null,
      sport: body.sport ?? "cycling",
      streamName: body.streamName ?? null,
    });
    return c.json({ success: true as const, workout: workoutJson(workout) }, 201);
  });

  app.openapi(importRide, async (c) => {
    const userId = userIdOf(c.var.principal);
    const type = essence(c.req.header("content-type"));
    if (isJsonType(type)) {
      // Several body types share this route: the validator that ran matches the Content-Type.
      const body = c.req.valid("json") as z.output<typeof ImportJson>;
      const result = await importWorkout(c.var.deps, {
        userId,
        title: body.title ?? null,
        sport: body.sport ?? "cycling",
        samples: body.samples.map(toSample),
      });
      return c.json({
        success: true as const,
        workout: workoutJson(result.workout),
        archivedMessages: result.archivedSamples,
      }, 201);
    }
    let upload: { bytes: Uint8Array; contentType: string | null; filename: string | null };
    let given: { title?: string; sport?: string };
    if (type === "multipart/form-data") {
      const form = c.req.valid("form") as z.output<typeof FileForm>;
      upload = {
        bytes: new Uint8Array(await form.file.arrayBuffer()),
        contentType: form.file.type || null,
        filename: form.file.name || null,
      };
      given = form;
    } else {
      const query = c.req.valid("query");
      upload = {
        bytes: new Uint8Array(await c.req.arrayBuffer()),
        contentType: type,
        filename: query.filename ?? null,
      };
      given = query;
    }
    const result = await importRideFile(c.var.deps, {
      userId,
      ...upload,
      title: given.title ?? null,
      sport: given.sport ?? null,
    });
    return c.json({
      success: true as const,
      workout: workoutJson(result.workout),
      archivedMessages: result.archivedSamples,
      file: { format: result.format, sha256: result.sha256, duplicate: result.duplicate },
    }, result.duplicate ? 200 : 201);
  });

  app.openapi(exportRide, async (c) => {
    const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
    const row = await getWorkout(c.var.deps.sql, ids);
    if (!row) throw new ApiError("not_found", "Workout not found");
    if (row.status !== "completed") {
      throw new ApiError("workout_active", "Workout is still active; complete it before exporting");
    }
    const { format } = c.req.valid("query");
    const samples = await readTelemetry(c.var.deps.sql, row);
    const bytes = writeRideFile(format, samples, {
      title: row.title,
      sport: row.sport,
      startTime: row.startTime,
    });
    const stem = row.title ?? `workout-${row.startTime.toISOString().slice(0, 10)}`;
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": formatContentTypes[format],
      "Content-Disposition": `attachment; filename="${safeFilename(stem, format)}"`,
    });
  });

  app.openapi(addSamples, async (c) => {
    const { id } = c.req.valid("param");
    const result = await ingestSamples(
      c.var.deps,
      { workoutId: id, userId: userIdOf(c.var.principal) },
      c.req.valid("json").samples.map(toSample),
    );
    return c.json({ success: true as const, ...result }, 202);
  });

  app.openapi(liveSamples, async (c) => {
    const { id } = c.req.valid("param");
    const { after, limit } = c.req.valid("query");
    const ids = { workoutId: id, userId: userIdOf(c.var.principal) };
    const workout = await getWorkout(c.var.deps.sql, ids);
    if (!workout) throw new ApiError("not_found", "Workout not found");
    if (workout.status === "completed") {
      return c.json({
        status: "completed" as const,
        samples: [],
        cursor: after ?? null,
        more: false,
      }, 200);
    }
    const page = await c.var.deps.workoutLive.read(id, after ?? null, limit);
    return c.json({
      status: "active" as const,
      samples: page.samples.map(sampleJson),
      cursor: page.cursor,
      more: page.entries === limit,
    }, 200);
  });

  app.openapi(complete, async (c) => {
    const { id } = c.req.valid("param");
    const result = await completeWorkout(c.var.deps, {
      workoutId: id,
      userId: userIdOf(c.var.principal),
    }).catch((err) => {
      if (!(err instanceof WorkoutAlreadyCompleted)) throw err;
      // Still 400 for old clients; the workout, as a success answers it, tells a retry it worked.
      throw new ApiError(err.code, err.message, {
        extra: { workout: workoutJson(err.workout) },
      });
    });
    return c.json({
      success: true as const,
      workout: workoutJson(result.workout),
      archivedMessages: result.archivedSamples,
    }, 200);
  });

  app.openapi(list, async (c) => {
    const q = c.req.valid("query");
    const { rows, total } = await listWorkouts(c.var.deps.sql, {
      userId: userIdOf(c.var.principal),
      status: q.status,
      sport: q.sport,
      from: q.startDate,
      to: q.endDate,
      limit: q.limit,
      offset: (q.page - 1) * q.limit,
    });
    return c.json({
      workouts: rows.map((row) => workoutJson(row)),
      pagination: {
        page: q.page,
        limit: q.limit,
        total,
        totalPages: Math.ceil(total / q.limit),
      },
    }, 200);
  });

  app.openapi(byStream, async (c) => {
    const row = await getActiveByStream(c.var.deps.sql, {
      streamName: c.req.valid("param").streamName,
      userId: userIdOf(c.var.principal),
    });
    if (!row) throw new ApiError("not_found", "No active workout for this stream");
    return c.json(workoutJson(row), 200);
  });

  app.openapi(getOne, async (c) => {
    const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
    const row = await getWorkout(c.var.deps.sql, ids);
    if (!row) throw new ApiError("not_found", "Workout not found");
    const withTelemetry = c.req.valid("query").includeTelemetry === "true";
    const samples = !withTelemetry
      ? null
      : row.status === "completed"
      ? await readTelemetry(c.var.deps.sql, row)
      : (await c.var.deps.workoutLive.readAll(ids.workoutId)).samples;
    return c.json(workoutJson(row, samples), 200);
  });

  app.openapi(patch, async (c) => {
    const body = c.req.valid("json");
    const row = await updateWorkout(
      c.var.deps.sql,
      { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) },
      { title: body.title, notes: body.description, sport: body.sport },
    );
    if (!row) throw new ApiError("not_found", "Workout not found");
    return c.json({ success: true as const, workout: workoutJson(row) }, 200);
  });

  app.openapi(remove, async (c) => {
    const deps = c.var.deps;
    const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
    const deleted = await deleteWorkout(deps.sql, ids);
    if (!deleted) throw new ApiError("not_found", "Workout not found");
    // Committed: nothing below may fail the request. Live keys left behind are dropped by the
    // idle sweeper (their workout is gone); unrefreshed rollups stay recorded for the drain.
    await deps.workoutLive.remove(ids.workoutId).catch((err) =>
      deps.log.warn("could not delete live keys of a deleted workout", {
        workoutId: ids.workoutId,
        err: String(err),
      })
    );
    // The live stream bound to it goes too: its messages were that workout's.
    const stream = deleted.streamName;
    if (stream && (await deps.streams.meta(stream).catch(() => null))?.workout === ids.workoutId) {
      await deps.streams.remove(stream).catch((err) =>
        deps.log.warn("could not delete the stream of a deleted workout", { err: String(err) })
      );
    }
    await refreshAfterCommit(deps.sql, ids.workoutId, { log: deps.log });
    return c.json({ success: true as const }, 200);
  });

  app.openapi(telemetry, async (c) => {
    const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
    const row = await getWorkout(c.var.deps.sql, ids);
    if (!row) throw new ApiError("not_found", "Workout not found");
    const q = c.req.valid("query");
    const fields = q.fields ?? [...telemetryFields];
    if (q.resolution === "1s") {
      return c.json(gridSeries(await readTelemetry(c.var.deps.sql, row), fields), 200);
    }
    const series = await telemetrySeries(c.var.deps.sql, {
      ...ids,
      resolution: q.resolution,
      fields,
    });
    return c.json(series, 200);
  });

  return app;
}
