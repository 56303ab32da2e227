/**
 * The rider's pages in the browser (Debian's chromium through playwright-core): with 1,000 rides
 * in the account, the time from navigation until history's first page of rides is shown, a 4-hour
 * ride's detail (chart, map and curve drawn), and the power curve and fitness pages drawn; the
 * median of `--runs` loads each, printed and handed to bench/report.ts.
 *
 *   deno run -A bench/pages_bench.ts [--rides 1000] [--runs 5]
 *
 * Uses its own database `bpt_pages_bench` on the test services (recreated). -A: playwright-core
 * reads /proc/sys/fs/binfmt_misc, which Deno grants only with every permission.
 */
import { benchApp, benchConfig, closeDeps } from "./bench_app.ts";
import { record } from "./report.ts";
import { seedRides, syntheticRide } from "./seed_rides.ts";
import { summarize } from "../src/analytics/power.ts";
import { createSql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { archiveWorkout, insertWorkout } from "../src/workouts/queries.ts";
import { launchBrowser, serveApp } from "../tests/pages_browser.ts";

// deno-lint-ignore no-explicit-any
declare const document: any;

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const rides = flag("--rides", 1000);
const runs = flag("--runs", 5);

const config = await benchConfig("bpt_pages_bench", "pages_bench:");
const sql = createSql(config.databaseUrl, { max: 4 });
await migrate(sql);
const { deps, app } = await benchApp(config, sql);
const served = serveApp({ app });

const registered = await app.request("/api/auth/register", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    email: `pages-bench-${Date.now()}@example.com`,
    password: "bench password",
  }),
});
const session = await registered.json();
const seededAt = performance.now();
// 1,000 rides of 10 minutes (history and the analytics read their summaries and efforts), one a
// day back from yesterday, and today a 4-hour ride with positions for the detail page.
await seedRides(sql, {
  userId: session.user.id,
  rides,
  seconds: 600,
  end: Date.now() - 86_400_000,
});
const start = Date.now() - 5 * 3600_000;
const long = syntheticRide(start, 4 * 3600, 7).map((s, i) => ({
  ...s,
  lat: 52.5 + 0.02 * Math.sin(i / 900),
  lon: 13.4 + 0.03 * Math.cos(i / 1100),
}));
const workout = await insertWorkout(sql, {
  userId: session.user.id,
  title: "Four hours",
  sport: "cycling",
  streamName: null,
});
await archiveWorkout(sql, {
  workoutId: workout.id,
  userId: session.user.id,
  samples: long,
  summary: summarize(long, { ftp: 250 }),
  ftpWatts: 250,
});
console.log(
  `seeded ${rides} rides and a 4-hour ride in ${
    ((performance.now() - seededAt) / 1000).toFixed(1)
  } s`,
);

const browser = await launchBrowser();
const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
const host = new URL(served.origin).hostname;
await context.addCookies([
  { name: "bpt_access", value: session.accessToken, domain: host, path: "/", httpOnly: true },
  { name: "bpt_refresh", value: session.refreshToken, domain: host, path: "/", httpOnly: true },
]);
const page = await context.newPage();

/** Milliseconds from navigation start until `ready` holds in the page (median of the runs). */
async function measure(path: string, ready: () => boolean): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    await page.goto(`${served.origin}${path}`);
    await page.waitForFunction(ready, undefined, { timeout: 30_000, polling: 10 });
    const ms = await page.evaluate(() => performance.now());
    if (i > 0) times.push(ms); // the first load fills the caches (assets, the database's pages)
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const drawn = () => document.body.dataset.ready === "true";
const cells: [string, string, () => boolean, number][] = [
  [
    `history first paint, ${rides} rides`,
    "/rides",
    () => document.querySelectorAll("#rides tbody tr").length === 20,
    1000,
  ],
  [
    "ride detail of a 4-hour ride, chart and map drawn",
    `/rides/${workout.id}`,
    () => document.body.dataset.ready === "true" && document.querySelector("#map path") !== null,
    1000,
  ],
  ["power curve page drawn", "/curve", drawn, 500],
  ["fitness page drawn", "/fitness", drawn, 500],
];
for (const [cell, path, ready, target] of cells) {
  const ms = await measure(path, ready);
  console.log(`${cell}: ${ms.toFixed(0)} ms (target ≤ ${target} ms)`);
  record({
    bench: "pages",
    cell: `${cell}, ms`,
    value: Math.round(ms),
    unit: "ms",
    better: "lower",
    target: `≤ ${target} ms`,
    met: ms <= target,
  });
}

await browser.close();
await served.stop();
await closeDeps(deps);
await sql.end({ timeout: 5 });
