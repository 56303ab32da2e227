/**
 * Storage per ride: bytes per sample in the `telemetry` hypertable (heap, indexes, per chunk),
 * per ride of the other tables, and how long a backup and a restore take per GB, on the local
 * services' TimescaleDB 2.19.3 Apache edition; plus, on the Timescale License edition as far as
 * it runs here (PGlite's in-process TimescaleDB 2.23 build), the same rides' telemetry before and
 * after native compression.
 *
 * On a database of its own, `bpt_storage_bench` on the test cluster (recreated; `--database` for
 * another name, BENCH_DATABASE_ADMIN_URL for another server), seeded with bench/seed_rides.ts.
 *
 *   deno run --allow-net --allow-env --allow-read --allow-write --allow-run --allow-sys \
 *     bench/storage_bench.ts [--rides 200] [--seconds 3600] [--licensed-rides 28] [--no-backup]
 *     [--database bpt_storage_bench]
 */
import { benchConfig } from "./bench_app.ts";
import { record } from "./report.ts";
import { seedRides, syntheticRide } from "./seed_rides.ts";
import { createSql, type Sql } from "../src/db/client.ts";
import { migrate, readMigrations, splitStatements } from "../src/db/migrate.ts";
import { summarize } from "../src/analytics/power.ts";
import type { Sample } from "../src/core/sample.ts";
import { archiveWorkout, insertWorkout } from "../src/workouts/queries.ts";
import { parseRideFile } from "../src/files/ride_files.ts";

const args = Deno.args;
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};
const rides = Number(option("rides", "200"));
const seconds = Number(option("seconds", "3600"));
const licensedRides = Number(option("licensed-rides", "28"));
const database = option("database", "bpt_storage_bench");
const withBackup = !args.includes("--no-backup");

type Sizes = { table: number; index: number; toast: number; total: number; rows: number };

/** hypertable_detailed_size and the row count of `telemetry`. */
async function telemetrySizes(
  query: (text: string) => Promise<Record<string, unknown>[]>,
): Promise<Sizes> {
  const [size] = await query(
    `select table_bytes::bigint as table, index_bytes::bigint as index,
      toast_bytes::bigint as toast, total_bytes::bigint as total
     from hypertable_detailed_size('telemetry')`,
  );
  const [count] = await query(`select count(*)::bigint as n from telemetry`);
  return {
    table: Number(size.table),
    index: Number(size.index),
    toast: Number(size.toast),
    total: Number(size.total),
    rows: Number(count.n),
  };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const perSample = (bytes: number, rows: number) => bytes / rows;

function printSizes(label: string, s: Sizes) {
  console.log(
    `${label}: ${s.rows} samples, ${mib(s.total)} (heap ${mib(s.table)}, indexes ${
      mib(s.index)
    }, toast ${kib(s.toast)}) = ${perSample(s.total, s.rows).toFixed(1)} B/sample ` +
      `(heap ${perSample(s.table, s.rows).toFixed(1)}, indexes ${
        perSample(s.index, s.rows).toFixed(1)
      }); a 1 Hz hour ${mib(perSample(s.total, s.rows) * 3600)}`,
  );
}

// --- Apache edition: the local services -------------------------------------------------------

const config = await benchConfig(database, "storage:");
const sql: Sql = createSql(config.databaseUrl, { max: 2 });
await migrate(sql);
const [edition] = await sql<{ license: string; version: string }[]>`
  select current_setting('timescaledb.license') as license,
    (select extversion from pg_extension where extname = 'timescaledb') as version
`;
const [user] = await sql<{ id: string }[]>`
  insert into users (email, display_name) values ('storage-bench@example.com', 'Bench')
  returning id
`;
const seedStarted = performance.now();
// One ride a day up to a fixed day, so the chunks (7 days) are the same from run to run.
const end = Date.UTC(2026, 0, 1);
await seedRides(sql, { userId: user.id, rides, seconds, end });
console.log(
  `seeded ${rides} rides of ${seconds} s in ${
    ((performance.now() - seedStarted) / 1000).toFixed(1)
  } s ` +
    `(TimescaleDB ${edition.version}, ${edition.license} edition)`,
);
await sql.unsafe("vacuum analyze");

const apache = await telemetrySizes((text) => sql.unsafe(text));
const label = `TimescaleDB ${edition.version} ${edition.license}`;
printSizes(`telemetry, ${rides} synthetic rides, ${label}, uncompressed`, apache);
const chunks = await sql<{ chunk: string; total: string }[]>`
  select chunk_name as chunk, total_bytes::bigint as total from chunks_detailed_size('telemetry')
  order by chunk_name
`;
const [rowSize] = await sql<{ bytes: number }[]>`
  select avg(pg_column_size(t.*))::float8 as bytes from telemetry t
`;
const chunkTotals = chunks.map((c) => Number(c.total));
console.log(
  `${chunks.length} chunks of 7 days: ${mib(Math.min(...chunkTotals))} to ${
    mib(Math.max(...chunkTotals))
  } each; a row's own data (pg_column_size) ${rowSize.bytes.toFixed(1)} B`,
);

// Native compression is a Timescale License feature: say what this edition answers.
let compression = "";
try {
  await sql`select compress_chunk(c) from show_chunks('telemetry') c limit 1`;
  compression = "compress_chunk ran";
} catch (err) {
  compression = `unavailable: ${(err as Error).message}`;
}
console.log(`compression on ${label}: ${compression}`);

// Everything else a ride leaves: its workout row (summary JSON), efforts, totals.
const others = await sql<{ name: string; bytes: string }[]>`
  select 'workouts' as name, pg_total_relation_size('workouts')::bigint as bytes
  union all select 'workout_efforts', hypertable_size('workout_efforts')::bigint
  union all select 'workout_totals', pg_total_relation_size('workout_totals')::bigint
`;
for (const o of others) {
  console.log(`${o.name}: ${kib(Number(o.bytes) / rides)} per ride`);
}

record({
  bench: "storage",
  cell: `telemetry bytes per sample, synthetic rides, ${label} (heap + indexes)`,
  value: Math.round(perSample(apache.total, apache.rows) * 10) / 10,
  unit: "B",
  better: "lower",
  floor: {
    name: "the row's own data (pg_column_size)",
    value: Math.round(rowSize.bytes * 10) / 10,
  },
});
record({
  bench: "storage",
  cell: `telemetry bytes per sample, synthetic rides, ${label}, heap only`,
  value: Math.round(perSample(apache.table, apache.rows) * 10) / 10,
  unit: "B",
  better: "lower",
  floor: {
    name: "the row's own data (pg_column_size)",
    value: Math.round(rowSize.bytes * 10) / 10,
  },
});

const recordedNames = [
  "outdoor_edge1000_zpider",
  "outdoor_elemnt_autopause",
  "indoor_edge800_trainer",
  "outdoor_edge810_vector",
];
// Decoded from the FIT files as an import decodes them (the CSVs hold no positions).
const recorded = await Promise.all(
  recordedNames.map(async (name) =>
    parseRideFile(
      "fit",
      await Deno.readFile(new URL(`../tests/fixtures/rides/${name}.fit`, import.meta.url)),
    )
      .samples
  ),
);

// The recorded rides of tests/fixtures/rides (real devices; three have GPS positions), on a
// database of their own, archived as the service archives them.
{
  const recordedConfig = await benchConfig(`${database}_recorded`, "storage:");
  const rsql = createSql(recordedConfig.databaseUrl, { max: 2 });
  await migrate(rsql);
  const [owner] = await rsql<{ id: string }[]>`
    insert into users (email, display_name) values ('storage-recorded@example.com', 'Bench')
    returning id
  `;
  for (const samples of recorded) {
    const workout = await insertWorkout(rsql, {
      userId: owner.id,
      title: "Recorded ride",
      sport: "cycling",
      streamName: null,
    });
    await archiveWorkout(rsql, {
      workoutId: workout.id,
      userId: owner.id,
      samples,
      summary: summarize(samples, { ftp: 250 }),
      ftpWatts: 250,
    });
  }
  await rsql.unsafe("vacuum analyze");
  const real = await telemetrySizes((text) => rsql.unsafe(text));
  printSizes(`telemetry, the 4 recorded FIT rides, ${label}, uncompressed`, real);
  record({
    bench: "storage",
    cell: `telemetry bytes per sample, the 4 recorded FIT rides, ${label}`,
    value: Math.round(perSample(real.total, real.rows) * 10) / 10,
    unit: "B",
    better: "lower",
  });
  await rsql.end();
  const admin = createSql(new URL("/postgres", config.databaseUrl).href, { max: 1 });
  await admin.unsafe(`drop database if exists ${database}_recorded with (force)`);
  await admin.end();
}

// --- Backup and restore time per GB -----------------------------------------------------------

async function script(name: string, scriptArgs: string[]): Promise<number> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      `scripts/${name}`,
      ...scriptArgs,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`${name} failed: ${text}`);
  console.log(text.trim().split("\n").map((l) => `  | ${l}`).join("\n"));
  return performance.now() - started;
}

if (withBackup) {
  const [db] = await sql<{ bytes: string }[]>`select pg_database_size(current_database()) as bytes`;
  const dir = await Deno.makeTempDir({ prefix: "bpt-storage-bench-" });
  const file = `${dir}/storage.dump`;
  const restoredUrl = new URL(config.databaseUrl);
  restoredUrl.pathname = `/${database}_restored`;
  const admin = createSql(new URL("/postgres", config.databaseUrl).href, { max: 1 });
  await admin.unsafe(`drop database if exists ${database}_restored with (force)`);
  try {
    const backupMs = await script("backup.ts", [
      "--out",
      file,
      "--database-url",
      config.databaseUrl,
    ]);
    const dumpBytes = (await Deno.stat(file)).size;
    const restoreMs = await script("restore.ts", [file, "--database-url", restoredUrl.href]);
    const gb = Number(db.bytes) / 1024 ** 3;
    console.log(
      `database ${mib(Number(db.bytes))}: backup ${(backupMs / 1000).toFixed(1)} s ` +
        `(archive ${mib(dumpBytes)}, ${(dumpBytes / Number(db.bytes) * 100).toFixed(0)} % of the ` +
        `database), restore ${(restoreMs / 1000).toFixed(1)} s; per GB of database: backup ${
          (backupMs / 1000 / gb).toFixed(0)
        } s, restore ${(restoreMs / 1000 / gb).toFixed(0)} s`,
    );
    record({
      bench: "storage",
      cell: "deno task backup, seconds per GB of database",
      value: Math.round(backupMs / 1000 / gb),
      unit: "s/GB",
      better: "lower",
    });
    record({
      bench: "storage",
      cell: "deno task restore, seconds per GB of database",
      value: Math.round(restoreMs / 1000 / gb),
      unit: "s/GB",
      better: "lower",
    });
    record({
      bench: "storage",
      cell: "backup archive size, % of the database",
      value: Math.round(dumpBytes / Number(db.bytes) * 100),
      unit: "%",
      better: "lower",
    });
  } finally {
    await admin.unsafe(`drop database if exists ${database}_restored with (force)`);
    await admin.end();
    await Deno.remove(dir, { recursive: true });
  }
}
await sql.end();

// --- Timescale License edition: PGlite's TimescaleDB build, in process ------------------------

/** Telemetry sizes of `rideSamples` on PGlite's TimescaleDB, before and after compression. */
async function licensedSizes(rideSamples: Sample[][], what: string): Promise<void> {
  const { PGlite, timescaledb } = await import("../tests/deps/pglite.ts");
  const db = await PGlite.create({ extensions: { timescaledb } });
  for (const file of await readMigrations(new URL("../sql/", import.meta.url))) {
    if (file.transactional) await db.transaction((tx) => tx.exec(file.sql));
    else for (const statement of splitStatements(file.sql)) await db.exec(statement);
  }
  const query = async (text: string, params: unknown[] = []) =>
    (await db.query<Record<string, unknown>>(text, params)).rows;
  const [info] = await query(
    `select current_setting('timescaledb.license') as license,
      (select extversion from pg_extension where extname = 'timescaledb') as version`,
  );
  const licensed = `TimescaleDB ${info.version} ${info.license} (PGlite)`;
  const [u] = await query(`insert into users (email) values ('pglite@example.com') returning id`);
  const columns = 11;
  const batch = 500;
  // Rows as the archive writes them.
  for (const samples of rideSamples) {
    const workoutId = crypto.randomUUID();
    for (let i = 0; i < samples.length; i += batch) {
      const part = samples.slice(i, i + batch);
      const params: unknown[] = [];
      const values = part.map((s, j) => {
        params.push(
          workoutId,
          u.id,
          new Date(s.time).toISOString(),
          s.power,
          s.cadence,
          s.heartRate,
          s.speed,
          s.distance,
          s.altitude,
          s.lat,
          s.lon,
        );
        const at = j * columns;
        return `(${Array.from({ length: columns }, (_, k) => `$${at + k + 1}`).join(", ")})`;
      });
      await query(
        `insert into telemetry (workout_id, user_id, time, power, cadence, heart_rate, speed,
          distance, altitude, lat, lon) values ${values.join(", ")} on conflict do nothing`,
        params,
      );
    }
  }
  await db.exec("vacuum analyze telemetry");
  const before = await telemetrySizes((text) => query(text));
  printSizes(`telemetry, ${what}, ${licensed}, uncompressed`, before);
  const compressStarted = performance.now();
  await query(`select count(compress_chunk(c)) from show_chunks('telemetry') c`);
  const compressMs = performance.now() - compressStarted;
  const after = await telemetrySizes((text) => query(text));
  printSizes(`telemetry, ${what}, ${licensed}, compressed (segment by workout_id)`, after);
  console.log(
    `compression: ${(before.total / after.total).toFixed(1)}× smaller, ${
      (compressMs / 1000).toFixed(1)
    } s for ${before.rows} samples`,
  );
  const round = (bytes: number, rows: number) => Math.round(perSample(bytes, rows) * 10) / 10;
  record({
    bench: "storage",
    cell: `telemetry bytes per sample, ${what.replace(/^\d+ /, "")}, ${licensed}, uncompressed`,
    value: round(before.total, before.rows),
    unit: "B",
    better: "lower",
  });
  record({
    bench: "storage",
    cell: `telemetry bytes per sample, ${what.replace(/^\d+ /, "")}, ${licensed}, compressed`,
    value: round(after.total, after.rows),
    unit: "B",
    better: "lower",
    floor: { name: "uncompressed, same edition", value: round(before.total, before.rows) },
  });
  await db.close();
}

if (licensedRides > 0) {
  await licensedSizes(
    Array.from(
      { length: licensedRides },
      (_, r) => syntheticRide(end - (licensedRides - r) * 86_400_000, seconds, r + 1),
    ),
    `${licensedRides} synthetic rides`,
  );
  await licensedSizes(recorded, "the 4 recorded FIT rides");
}
