import type { RouteConfig, RouteHandler, z } from "@hono/zod-openapi";
import { ApiError, notFound } from "../../core/errors.ts";
import { essence } from "../../files/detect.ts";
import { userIdOf } from "../../http/authenticate.ts";
import type { AppEnv } from "../../http/deps.ts";
import { importRideFile } from "../../workouts/import_file.ts";
import {
  getImportJob as readJob,
  type ImportJob,
  startImportJob,
} from "../../workouts/import_jobs.ts";
import { looksLikeZip } from "../../files/zip.ts";
import { streamSSE } from "hono/streaming";
import type { Context } from "hono";
import {
  completeWorkout as archiveWorkout,
  importWorkout as importSamples,
  ingestSamples,
  startWorkout,
  WorkoutAlreadyCompleted,
} from "../../workouts/lifecycle.ts";
import { getActiveByStream, listWorkouts as queryWorkouts } from "../../workouts/queries.ts";
import {
  editWorkout,
  exportWorkout as exportRide,
  liveSamples,
  originalFile,
  removeWorkout,
  workoutDetail,
  workoutTelemetry,
} from "../../workouts/records.ts";
import { toSample } from "../../workouts/sample_input.ts";
import { sampleJson, workoutJson } from "../../workouts/workout_json.ts";
import { lapJson } from "../../workouts/lap_json.ts";
import { listLaps } from "../../workouts/lap_queries.ts";
import {
  type addSamplesRoute,
  type completeWorkoutRoute,
  type createWorkoutRoute,
  type deleteWorkoutRoute,
  type exportWorkoutRoute,
  type FileForm,
  type getWorkoutRoute,
  type importJobEventsRoute,
  type importJobRoute,
  type ImportJson,
  type importWorkoutRoute,
  isJsonType,
  type listWorkoutsRoute,
  type liveSamplesRoute,
  type originalFileRoute,
  telemetryFields,
  type updateWorkoutRoute,
  type workoutByStreamRoute,
  type workoutLapsRoute,
  type workoutTelemetryRoute,
} from "./specs.ts";

/** A handler of one route spec, in the app's environment. */
type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;

/** POST /api/workouts. */
export const createWorkout: AppRouteHandler<typeof createWorkoutRoute> = async (c) => {
  const body = c.req.valid("json");
  const workout = await startWorkout(c.var.deps, {
    userId: userIdOf(c.var.principal),
    title: body.title ?? body.streamName ?? null,
    sport: body.sport ?? "cycling",
    streamName: body.streamName ?? null,
  });
  return c.json({ success: true as const, workout: workoutJson(workout) }, 201);
};

/** POST /api/workouts/import: JSON samples, a multipart file field or a raw ride file. */
export const importWorkout: AppRouteHandler<typeof importWorkoutRoute> = async (c) => {
  const userId = userIdOf(c.var.principal);
  const type = essence(c.req.header("content-type"));
  if (isJsonType(type)) {
    // Several body types share this route: the validator that ran matches the Content-Type.
    const body = c.req.valid("json") as z.output<typeof ImportJson>;
    const result = await importSamples(c.var.deps, {
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
  const query = c.req.valid("query");
  if (zipTypes.has(type) && c.req.raw.body) {
    // Streamed to a temporary file, never held whole.
    return await answerJob(
      c,
      await startImportJob(c.var.deps, {
        userId,
        body: c.req.raw.body,
        duplicate: query.duplicate,
      }),
    );
  }
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
    upload = {
      bytes: new Uint8Array(await c.req.arrayBuffer()),
      contentType: type,
      filename: query.filename ?? null,
    };
    given = query;
  }
  if (looksLikeZip(upload.bytes)) {
    return await answerJob(
      c,
      await startImportJob(c.var.deps, {
        userId,
        body: new Blob([upload.bytes as Uint8Array<ArrayBuffer>]).stream(),
        duplicate: query.duplicate,
      }),
    );
  }
  const result = await importRideFile(c.var.deps, {
    userId,
    ...upload,
    title: given.title ?? null,
    sport: given.sport ?? null,
    duplicate: query.duplicate,
  });
  return c.json({
    success: true as const,
    workout: workoutJson(result.workout),
    archivedMessages: result.archivedSamples,
    file: { format: result.format, sha256: result.sha256, duplicate: result.duplicate },
  }, result.duplicate ? 200 : 201);
};

const zipTypes = new Set(["application/zip", "application/x-zip-compressed"]);

/** The 202 of a started import job, with its Location. */
async function answerJob(c: Context<AppEnv>, started: { jobId: string }) {
  const job = await readJob(c.var.deps.sql, {
    jobId: started.jobId,
    userId: userIdOf(c.var.principal),
  });
  c.header("Location", `/api/workouts/import-jobs/${started.jobId}`);
  return c.json({ success: true as const, job: importJobJson(job) }, 202);
}

/** An import job as JSON: dates as ISO strings. */
function importJobJson(job: ImportJob) {
  return { ...job, createdAt: job.createdAt.toISOString(), updatedAt: job.updatedAt.toISOString() };
}

/** GET /api/workouts/import-jobs/{id}. */
export const getImportJob: AppRouteHandler<typeof importJobRoute> = async (c) => {
  const ids = { jobId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  return c.json(
    { success: true as const, job: importJobJson(await readJob(c.var.deps.sql, ids)) },
    200,
  );
};

/** How often the events route reads the job's counts. */
const jobPollMs = 500;

/** GET /api/workouts/import-jobs/{id}/events. */
export const importJobEvents: AppRouteHandler<typeof importJobEventsRoute> = async (c) => {
  const ids = { jobId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  const sql = c.var.deps.sql;
  const first = await readJob(sql, ids, { files: false }); // 404 before the stream opens
  return streamSSE(c, async (stream) => {
    let job = first;
    let done = -1;
    while (!stream.aborted) {
      if (job.state !== "running") {
        const whole = importJobJson(await readJob(sql, ids));
        await stream.writeSSE({ event: "end", data: JSON.stringify(whole) });
        return;
      }
      if (job.filesDone !== done) {
        done = job.filesDone;
        await stream.writeSSE({ event: "progress", data: JSON.stringify(importJobJson(job)) });
      }
      await stream.sleep(jobPollMs);
      job = await readJob(sql, ids, { files: false });
    }
  }) as unknown as ReturnType<AppRouteHandler<typeof importJobEventsRoute>>;
};

/** GET /api/workouts/{id}/export. */
export const exportWorkout: AppRouteHandler<typeof exportWorkoutRoute> = async (c) => {
  const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  const file = await exportRide(c.var.deps.sql, ids, c.req.valid("query").format);
  return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
    "Content-Type": file.contentType,
    "Content-Disposition": `attachment; filename="${file.filename}"`,
  });
};

/** The Content-Disposition of a download: an ASCII name, and the exact one per RFC 6266. */
function attachment(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/** GET /api/workouts/{id}/original. */
export const getOriginalFile: AppRouteHandler<typeof originalFileRoute> = async (c) => {
  const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  const file = await originalFile(c.var.deps.sql, ids);
  return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
    "Content-Type": file.contentType,
    "Content-Disposition": attachment(file.filename),
  });
};

/** POST /api/workouts/{id}/samples. */
export const addSamples: AppRouteHandler<typeof addSamplesRoute> = async (c) => {
  const result = await ingestSamples(
    c.var.deps,
    { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) },
    c.req.valid("json").samples.map(toSample),
  );
  return c.json({ success: true as const, ...result }, 202);
};

/** GET /api/workouts/{id}/live. */
export const listLiveSamples: AppRouteHandler<typeof liveSamplesRoute> = async (c) => {
  const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  const { after, limit } = c.req.valid("query");
  const page = await liveSamples(c.var.deps, ids, { after: after ?? null, limit });
  return c.json({ ...page, samples: page.samples.map(sampleJson) }, 200);
};

/** POST /api/workouts/{id}/complete. */
export const completeWorkout: AppRouteHandler<typeof completeWorkoutRoute> = async (c) => {
  const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  const result = await archiveWorkout(c.var.deps, ids).catch((err) => {
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
};

/** GET /api/workouts. */
export const listWorkouts: AppRouteHandler<typeof listWorkoutsRoute> = async (c) => {
  const q = c.req.valid("query");
  const { rows, total } = await queryWorkouts(c.var.deps.sql, {
    userId: userIdOf(c.var.principal),
    status: q.status,
    sport: q.sport,
    title: q.title,
    from: q.startDate,
    to: q.endDate,
    limit: q.limit,
    offset: (q.page - 1) * q.limit,
  });
  return c.json({
    workouts: rows.map((row) => workoutJson(row)),
    pagination: { page: q.page, limit: q.limit, total, totalPages: Math.ceil(total / q.limit) },
  }, 200);
};

/** GET /api/workouts/by-stream/{streamName}: the bare workout (COMPAT "Workout JSON"). */
export const getWorkoutByStream: AppRouteHandler<typeof workoutByStreamRoute> = async (c) => {
  const row = await getActiveByStream(c.var.deps.sql, {
    streamName: c.req.valid("param").streamName,
    userId: userIdOf(c.var.principal),
  });
  if (!row) throw new ApiError("not_found", "No active workout for this stream");
  return c.json(workoutJson(row), 200);
};

/** GET /api/workouts/{id}: the bare workout (COMPAT). */
export const getWorkout: AppRouteHandler<typeof getWorkoutRoute> = async (c) => {
  const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  const withTelemetry = c.req.valid("query").includeTelemetry === "true";
  const { workout, samples } = await workoutDetail(c.var.deps, ids, withTelemetry);
  return c.json(workoutJson(workout, samples), 200);
};

/** PATCH /api/workouts/{id}. */
export const updateWorkout: AppRouteHandler<typeof updateWorkoutRoute> = async (c) => {
  const body = c.req.valid("json");
  const row = await editWorkout(
    c.var.deps.sql,
    { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) },
    { title: body.title, notes: body.description, sport: body.sport },
  );
  return c.json({ success: true as const, workout: workoutJson(row) }, 200);
};

/** DELETE /api/workouts/{id}. */
export const deleteWorkout: AppRouteHandler<typeof deleteWorkoutRoute> = async (c) => {
  const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  await removeWorkout(c.var.deps, ids);
  return c.json({ success: true as const }, 200);
};

/** GET /api/workouts/{id}/telemetry. */
export const getWorkoutTelemetry: AppRouteHandler<typeof workoutTelemetryRoute> = async (c) => {
  const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  const q = c.req.valid("query");
  const fields = q.fields ?? [...telemetryFields];
  const metrics = fields.filter((f) => f !== "wPrimeBalance");
  return c.json(
    await workoutTelemetry(c.var.deps.sql, ids, {
      resolution: q.resolution,
      fields: metrics,
      wPrimeBalance: fields.includes("wPrimeBalance"),
    }),
    200,
  );
};

/** GET /api/workouts/{id}/laps: the laps of one of the caller's workouts (404 for another's). */
export const getWorkoutLaps: AppRouteHandler<typeof workoutLapsRoute> = async (c) => {
  const ids = { workoutId: c.req.valid("param").id, userId: userIdOf(c.var.principal) };
  const laps = await listLaps(c.var.deps.sql, ids);
  if (!laps) throw notFound("Workout");
  return c.json({ laps: laps.map(lapJson) }, 200);
};
