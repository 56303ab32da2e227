// Zip archive imports as jobs: the archive is streamed to a temporary file, its central directory
// checked against the limits (nothing is stored when it fails), then every entry goes through the
// single-file import (duplicates, .gz) one at a time, its outcome recorded per file.

import { ApiError, notFound, toApiError } from "../core/errors.ts";
import type { Sql } from "../db/client.ts";
import { openZip, type ZipArchive } from "../files/zip.ts";
import { importRideFile } from "./import_file.ts";
import type { WorkoutDeps } from "./lifecycle.ts";

/** A job's state: running, done, failed (the archive itself broke) or interrupted (a restart). */
export type ImportJobState = "running" | "done" | "failed" | "interrupted";

/** What became of one entry of an archive. */
export type ImportJobFile = {
  name: string;
  outcome: "imported" | "duplicate" | "failed" | "skipped";
  reason: string | null;
  workoutId: string | null;
};

/** An import job with its counts and, when asked, its per-file outcomes. */
export type ImportJob = {
  id: string;
  state: ImportJobState;
  reason: string | null;
  filesTotal: number;
  filesDone: number;
  imported: number;
  duplicates: number;
  failed: number;
  skipped: number;
  createdAt: Date;
  updatedAt: Date;
  files: ImportJobFile[];
};

/** A running job not touched for this long was left by a stopped process (heartbeat: 10 s). */
const staleAfterS = 60;
const heartbeatMs = 10_000;

/** Entry names the importer takes; anything else in an export (media, CSV indexes) is skipped. */
const rideFileName = /\.(fit|gpx|tcx|csv)(\.gz)?$/i;

/**
 * Streams an uploaded zip to a temporary file, checks its central directory (413/400, nothing
 * stored) and starts its import job as `userId`; answers the job's id at once.
 */
export async function startImportJob(
  deps: WorkoutDeps,
  input: {
    userId: string;
    body: ReadableStream<Uint8Array>;
    duplicate: "refuse" | "keep";
  },
): Promise<{ jobId: string }> {
  const path = await Deno.makeTempFile({ prefix: "bpt-import-", suffix: ".zip" });
  let archive: ZipArchive | undefined;
  try {
    const file = await Deno.open(path, { write: true, truncate: true });
    await input.body.pipeTo(file.writable);
    const limits = deps.config.imports;
    archive = await openZip(path, {
      maxEntries: limits.zipMaxEntries,
      maxTotalBytes: limits.zipMaxTotalBytes,
      maxFileBytes: limits.maxFileBytes,
    });
    const [job] = await deps.sql<{ id: string }[]>`
      insert into import_jobs (user_id, files_total)
      values (${input.userId}::uuid, ${archive.names.length})
      returning id
    `;
    const opened = archive;
    // The temporary file goes before the job's state is final, so a client that saw `done`
    // leaves nothing behind.
    const cleanUp = async () => {
      opened.close();
      await Deno.remove(path).catch(() => {});
    };
    runJob(
      deps,
      { jobId: job.id, userId: input.userId, duplicate: input.duplicate },
      opened,
      cleanUp,
    )
      .catch((err) => deps.log.error("import job failed", { jobId: job.id, err: String(err) }));
    return { jobId: job.id };
  } catch (err) {
    archive?.close();
    await Deno.remove(path).catch(() => {});
    throw err;
  }
}

async function runJob(
  deps: WorkoutDeps,
  job: { jobId: string; userId: string; duplicate: "refuse" | "keep" },
  archive: ZipArchive,
  cleanUp: () => Promise<void>,
): Promise<void> {
  const { sql } = deps;
  const heartbeat = setInterval(() => {
    sql`update import_jobs set updated_at = now() where id = ${job.jobId}::uuid`
      .catch(() => {});
  }, heartbeatMs);
  let failure: unknown;
  try {
    for (let i = 0; i < archive.names.length; i++) {
      const outcome = await importEntry(deps, job, archive, i);
      await recordFile(sql, job.jobId, i, outcome);
    }
  } catch (err) {
    failure = err;
  }
  clearInterval(heartbeat);
  await cleanUp();
  if (failure === undefined) {
    await sql`
      update import_jobs set state = 'done', updated_at = now()
      where id = ${job.jobId}::uuid and state = 'running'
    `;
    return;
  }
  // The archive itself or the database broke: the job says so, the files done stay.
  const reason = failure instanceof ApiError
    ? failure.message
    : "The import stopped on an internal error";
  await sql`
    update import_jobs set state = 'failed', reason = ${reason}, updated_at = now()
    where id = ${job.jobId}::uuid and state = 'running'
  `.catch(() => {});
  throw failure;
}

async function importEntry(
  deps: WorkoutDeps,
  job: { userId: string; duplicate: "refuse" | "keep" },
  archive: ZipArchive,
  index: number,
): Promise<ImportJobFile> {
  const name = archive.names[index];
  const base = name.split("/").pop() ?? name;
  if (!rideFileName.test(base)) {
    return {
      name,
      outcome: "skipped",
      reason: "Not a ride file (.fit, .gpx, .tcx or .csv, optionally .gz)",
      workoutId: null,
    };
  }
  try {
    const bytes = await archive.read(index);
    const result = await importRideFile(deps, {
      userId: job.userId,
      bytes,
      contentType: null,
      filename: base,
      title: null,
      sport: null,
      duplicate: job.duplicate,
    });
    return result.duplicate
      ? {
        name,
        outcome: "duplicate",
        reason: "This file was uploaded before",
        workoutId: result.workout.id,
      }
      : { name, outcome: "imported", reason: null, workoutId: result.workout.id };
  } catch (err) {
    const api = toApiError(err);
    if (!api) throw err;
    if (api.code === "duplicate_workout") {
      return {
        name,
        outcome: "duplicate",
        reason: "Another file of a ride already stored",
        workoutId: String(api.extra.existingWorkoutId),
      };
    }
    return { name, outcome: "failed", reason: api.message, workoutId: null };
  }
}

function recordFile(sql: Sql, jobId: string, position: number, f: ImportJobFile) {
  return sql.begin(async (tx) => {
    await tx`
      insert into import_job_files (job_id, position, name, outcome, reason, workout_id)
      values (
        ${jobId}::uuid, ${position}, ${f.name.slice(0, 1024)}, ${f.outcome}, ${f.reason},
        ${f.workoutId}::uuid
      )
    `;
    await tx`
      update import_jobs set
        files_done = files_done + 1,
        imported = imported + ${f.outcome === "imported" ? 1 : 0},
        duplicates = duplicates + ${f.outcome === "duplicate" ? 1 : 0},
        failed = failed + ${f.outcome === "failed" ? 1 : 0},
        skipped = skipped + ${f.outcome === "skipped" ? 1 : 0},
        updated_at = now()
      where id = ${jobId}::uuid
    `;
  });
}

/** The rider's import job with its files in archive order; 404 when it is not theirs. */
export async function getImportJob(
  sql: Sql,
  ids: { jobId: string; userId: string },
  options: { files: boolean } = { files: true },
): Promise<ImportJob> {
  const [job] = await sql<Omit<ImportJob, "files">[]>`
    select
      id, state, reason, files_total, files_done, imported, duplicates, failed, skipped,
      created_at, updated_at
    from import_jobs
    where id = ${ids.jobId}::uuid and user_id = ${ids.userId}::uuid
  `;
  if (!job) throw notFound("Import job");
  const files = options.files
    ? await sql<ImportJobFile[]>`
      select name, outcome, reason, workout_id
      from import_job_files
      where job_id = ${ids.jobId}::uuid
      order by position
    `
    : [];
  return { ...job, files };
}

/**
 * Marks as interrupted the running jobs whose process stopped (no heartbeat for a minute): run
 * at startup and by the sweeper. Answers how many.
 */
export async function markInterruptedJobs(sql: Sql): Promise<number> {
  const rows = await sql`
    update import_jobs set
      state = 'interrupted',
      reason = 'The server stopped while this archive was imported; ' || files_done || ' of ' ||
        files_total || ' files were done. Upload the archive again: rides already imported ' ||
        'are recognised as duplicates',
      updated_at = now()
    where state = 'running' and updated_at < now() - make_interval(secs => ${staleAfterS})
    returning id
  `;
  return rows.length;
}
