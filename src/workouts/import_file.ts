import { importWorkout, type WorkoutDeps } from "./lifecycle.ts";
import { getWorkout, type WorkoutRow } from "./queries.ts";
import { detectFormat } from "../files/detect.ts";
import { ApiError } from "../core/errors.ts";
import { findDuplicateRide, findUploadedFile, insertWorkoutFile } from "./file_queries.ts";
import { corruptFile, type RideFormat, titleFromFilename } from "../files/ride_file.ts";
import { parseRideFile } from "../files/ride_files.ts";
import { lapSummaries } from "../analytics/laps.ts";
import { insertLaps } from "./lap_queries.ts";
import { gunzip, looksLikeGzip, withoutGz } from "../files/gzip.ts";

/** An imported (or recognised) ride file. */
export type FileImport = {
  workout: WorkoutRow;
  archivedSamples: number;
  format: RideFormat;
  sha256: string;
  /** True when the rider had already uploaded these exact bytes: `workout` is that import. */
  duplicate: boolean;
};

/** A concurrent upload of the same bytes kept its file first. */
class DuplicateUpload extends Error {}

/** The rider already has this ride (another file of it): the import rolls back. */
class DuplicateRide extends Error {
  constructor(readonly existingWorkoutId: string) {
    super("Duplicate ride");
  }
}

/** The 409 that names the workout a duplicate ride already made. */
export function duplicateWorkout(existingWorkoutId: string): ApiError {
  return new ApiError(
    "duplicate_workout",
    "You already have this ride (start within 60 s, elapsed time within 2 %); " +
      "add ?duplicate=keep to store it anyway",
    { extra: { existingWorkoutId } },
  );
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Imports a ride file (or a gzip of one): answer the workout an earlier upload of the same bytes (sha256) by this
 * rider made; else detect and parse it (4xx for anything unreadable, nothing stored) and archive
 * it as a new workout (title: given, else the file's, else the file name; sport: given, else the file's,
 * else cycling) and keep the original file beside it. Another file of a ride the rider already
 * has (start within 60 s, elapsed within 2 %) is a 409 `duplicate_workout` naming it, unless
 * `duplicate` is "keep".
 */
export async function importRideFile(
  deps: WorkoutDeps,
  input: {
    userId: string;
    bytes: Uint8Array;
    contentType: string | null;
    filename: string | null;
    title: string | null;
    sport: string | null;
    /** "refuse" (default): another file of a ride already stored is a 409; "keep" stores it. */
    duplicate?: "refuse" | "keep";
  },
): Promise<FileImport> {
  const { userId, bytes, filename } = input;
  if (bytes.length === 0) throw corruptFile("empty_file", "File is empty");
  const sha256 = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  // A re-upload is answered before any parsing: these bytes made a valid ride before.
  const existing = await recognised(deps, { userId, sha256 });
  if (existing) return { ...existing, sha256: hex(sha256), duplicate: true };
  // A gzip file (".fit.gz" of a Strava export) is told by its magic bytes; its inside decides the
  // format, and the gzip bytes as uploaded are what is kept (and hashed).
  const gzip = looksLikeGzip(bytes);
  const inner = gzip ? await gunzip(bytes, deps.config.imports.maxFileBytes) : bytes;
  if (inner.length === 0) throw corruptFile("empty_file", "File is empty");
  const format = detectFormat(inner, {
    contentType: gzip ? null : input.contentType,
    filename: gzip ? withoutGz(filename) : filename,
  });
  const ride = parseRideFile(format, inner);

  // The original file is kept in the archive's own transaction: a ride is never stored without
  // it, so a re-upload always finds it.
  let result;
  try {
    result = await importWorkout(deps, {
      userId,
      title: input.title ?? ride.title ?? titleFromFilename(withoutGz(filename)),
      sport: input.sport ?? ride.sport ?? "cycling",
      samples: ride.samples,
      alsoInTransaction: async (workoutId, tx) => {
        const kept = await insertWorkoutFile(tx, {
          workoutId,
          userId,
          sha256,
          format,
          filename: filename ? filename.slice(0, 255) : null,
          contentType: input.contentType ? input.contentType.slice(0, 255) : null,
          gzip,
          bytes,
        });
        if (!kept) throw new DuplicateUpload();
        if (input.duplicate !== "keep") {
          // After the file insert: a concurrent upload of the same bytes waits there and answers
          // the winner's workout (200), not this 409.
          const existingId = await findDuplicateRide(tx, { workoutId, userId });
          if (existingId) throw new DuplicateRide(existingId);
        }
        await insertLaps(tx, {
          workoutId,
          userId,
          laps: lapSummaries(ride.samples, ride.lapStarts ?? []),
        });
      },
    });
  } catch (err) {
    if (err instanceof DuplicateRide) throw duplicateWorkout(err.existingWorkoutId);
    if (!(err instanceof DuplicateUpload)) throw err;
    // The same file, uploaded concurrently, was kept first (this import rolled back): answer
    // that workout instead.
    const winner = await recognised(deps, { userId, sha256 });
    if (winner) return { ...winner, sha256: hex(sha256), duplicate: true };
    throw new Error("A duplicate upload's workout vanished");
  }
  return {
    workout: result.workout,
    archivedSamples: result.archivedSamples,
    format,
    sha256: hex(sha256),
    duplicate: false,
  };
}

async function recognised(
  deps: WorkoutDeps,
  key: { userId: string; sha256: Uint8Array },
): Promise<{ workout: WorkoutRow; archivedSamples: number; format: RideFormat } | undefined> {
  const file = await findUploadedFile(deps.sql, key);
  if (!file) return undefined;
  const workout = await getWorkout(deps.sql, { workoutId: file.workoutId, userId: key.userId });
  return workout
    ? { workout, archivedSamples: workout.sampleCount, format: file.format }
    : undefined;
}
