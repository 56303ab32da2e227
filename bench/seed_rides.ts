/**
 * Seeds archived rides for benchmarks: synthetic 1 Hz rides archived exactly as the service does
 * (telemetry rows, efforts, summary) through `archiveWorkout`.
 *
 * Usage: deno run --allow-net --allow-env --allow-read bench/seed_rides.ts [rides] [seconds]
 * (DATABASE_URL as the service reads it; a user `bench-<n>@example.com` is created.)
 */
import { summarize } from "../src/analytics/power.ts";
import type { Sample } from "../src/core/sample.ts";
import type { Sql } from "../src/db/client.ts";
import { archiveWorkout, insertWorkout } from "../src/workouts/queries.ts";

/** A deterministic synthetic ride: `seconds` at 1 Hz from `start`, intervals and noise. */
export function syntheticRide(start: number, seconds: number, seed: number): Sample[] {
  let x = seed >>> 0;
  const noise = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
  const base = 170 + Math.floor(noise() * 80);
  return Array.from({ length: seconds }, (_, i) => {
    const interval = Math.floor(i / 600) % 3 === 1 ? 1.25 : 1;
    return {
      time: start + i * 1000,
      power: Math.round(base * interval + noise() * 40 - 20),
      cadence: 85 + Math.floor(noise() * 10),
      heartRate: 130 + Math.floor(noise() * 30),
      speed: 28 + noise() * 6,
      distance: i * 8.5,
      altitude: 100 + 20 * Math.sin(i / 300),
      lat: null,
      lon: null,
    };
  });
}

/** Archives `rides` rides for a user, one per day back from `end`; returns the count. */
export async function seedRides(
  sql: Sql,
  options: { userId: string; rides: number; seconds: number; end?: number; log?: boolean },
): Promise<number> {
  const end = options.end ?? Date.now();
  for (let r = 0; r < options.rides; r++) {
    const start = end - (options.rides - r) * 86_400_000;
    const samples = syntheticRide(start, options.seconds, r + 1);
    const workout = await insertWorkout(sql, {
      userId: options.userId,
      title: `Seeded ride ${r + 1}`,
      sport: "cycling",
      streamName: null,
    });
    await archiveWorkout(sql, {
      workoutId: workout.id,
      userId: options.userId,
      samples,
      summary: summarize(samples, { ftp: 250 }),
      ftpWatts: 250,
    });
    if (options.log && (r + 1) % 100 === 0) console.log(`  seeded ${r + 1}/${options.rides}`);
  }
  return options.rides;
}

if (import.meta.main) {
  const { createSql } = await import("../src/db/client.ts");
  const { loadConfig } = await import("../src/core/config.ts");
  const { migrate } = await import("../src/db/migrate.ts");
  const rides = Number(Deno.args[0] ?? 1000);
  const seconds = Number(Deno.args[1] ?? 3600);
  const sql = createSql(loadConfig(Deno.env.toObject()).databaseUrl, { max: 2 });
  await migrate(sql);
  const [user] = await sql<{ id: string }[]>`
    insert into users (email, display_name) values (${`bench-${Date.now()}@example.com`}, 'Bench')
    returning id
  `;
  const started = performance.now();
  await seedRides(sql, { userId: user.id, rides, seconds, log: true });
  console.log(
    `seeded ${rides} rides of ${seconds} s for user ${user.id} in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  await sql.end();
}
