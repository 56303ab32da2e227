// The rider's pages in a real browser (Debian's chromium through playwright-core): sign-up,
// uploads, history, ride detail, power curve, fitness, live, sign-out; another rider sees none
// of it; CSRF and cookie flags. Screenshots of each page go to .services/screenshots/.
import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "./deps/playwright.ts";
import { drawnPixels, launchBrowser, screenshots, serveApp, viewports } from "./pages_browser.ts";
import { startTestApp, type TestApp, uniqueEmail } from "./support.ts";

const fixtures = new URL("./fixtures/rides/", import.meta.url);
const rideFiles = ["indoor_edge800_trainer.fit", "outdoor_edge1000_zpider.fit"]
  .map((name) => new URL(name, fixtures).pathname);

// The callbacks given to page.evaluate run in the browser: its `document`, typed loosely here (the
// DOM library would clash with Deno's types across the whole check).
// deno-lint-ignore no-explicit-any
declare const document: any;

let t: TestApp;
let served: ReturnType<typeof serveApp>;
let browser: Browser;
let context: BrowserContext;
let page: Page;

Deno.test.beforeAll(async () => {
  t = await startTestApp();
  served = serveApp(t);
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: viewports.desktop });
  page = await context.newPage();
});
Deno.test.afterAll(async () => {
  await browser.close();
  await served.stop();
  await t.close();
});

/** Signs a new rider up in `p` through the sign-up form. */
async function signUp(p: Page) {
  await p.goto(`${served.origin}/signup`);
  await p.fill("input[name=email]", uniqueEmail("pages"));
  await p.fill("input[name=password]", "a long enough password");
  await Promise.all([p.waitForURL(/\/rides$/), p.click("button[type=submit]")]);
}

/** An /api call from the page itself (its cookie), with or without the CSRF token. */
function apiFromPage(
  p: Page,
  path: string,
  init: { method?: string; body?: unknown; csrf?: boolean } = {},
) {
  return p.evaluate(async ({ path, init }) => {
    const csrf = JSON.parse(document.getElementById("page-data")!.textContent!).csrf;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (init.csrf !== false) headers["x-csrf-token"] = csrf;
    const res = await fetch(path, {
      method: init.method ?? "GET",
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return { status: res.status, body: await res.json() };
  }, { path, init });
}

let rideId: string;

Deno.test("a new rider signs up; the session cookies are HttpOnly, SameSite=Lax, not Secure over http", async () => {
  await signUp(page);
  const cookies = await context.cookies();
  for (const name of ["bpt_access", "bpt_refresh"]) {
    const cookie = cookies.find((c) => c.name === name);
    assert.ok(cookie, name);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Lax");
    assert.equal(cookie.secure, false);
  }
  const res = await fetch(`${served.origin}/rides`);
  await res.body?.cancel();
  assert.match(
    res.headers.get("content-security-policy") ?? "",
    /default-src 'none'; script-src 'self'/,
  );
  await screenshots(page, "history-empty");
});

Deno.test("the recorded rides upload through the upload page, each with its message", async () => {
  await page.goto(`${served.origin}/upload`);
  await page.setInputFiles("#files", rideFiles);
  await page.waitForFunction(
    (n) => document.querySelectorAll("#uploads li[data-status=imported]").length === n,
    rideFiles.length,
    { timeout: 60_000 },
  );
  // The same file again is a duplicate, said so.
  await page.setInputFiles("#files", rideFiles.slice(0, 1));
  await page.waitForSelector("#uploads li[data-status=duplicate]", { timeout: 30_000 });
  await screenshots(page, "upload");
});

Deno.test("history lists the rides newest first, and the title search filters them", async () => {
  await page.goto(`${served.origin}/rides`);
  await page.waitForFunction(
    (n) => document.querySelectorAll("#rides tbody tr").length === n,
    rideFiles.length,
  );
  const api = await apiFromPage(page, "/api/workouts?status=completed");
  const links = await page.$$eval("#rides tbody a", (as) => as.map((a) => a.getAttribute("href")));
  assert.deepEqual(links, api.body.workouts.map((w: { id: string }) => `/rides/${w.id}`));
  rideId = api.body.workouts[0].id;
  await apiFromPage(page, `/api/workouts/${rideId}`, {
    method: "PATCH",
    body: { title: "Hill repeats" },
  });
  await page.fill("input[name=q]", "hill");
  await page.click("#filters button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("#rides tbody tr").length === 1);
  assert.equal(await page.textContent("#rides tbody a"), "Hill repeats");
  await page.fill("input[name=q]", "");
  await page.click("#filters button[type=submit]");
  await page.waitForFunction(
    (n) => document.querySelectorAll("#rides tbody tr").length === n,
    rideFiles.length,
  );
  await screenshots(page, "history");
});

Deno.test("a ride's page draws its chart and shows the API's summary numbers", async () => {
  const outdoor = (await apiFromPage(page, "/api/workouts?status=completed")).body.workouts
    .find((w: { summary: { totalDistance: number | null } }) => (w.summary.totalDistance ?? 0) > 0);
  await page.goto(`${served.origin}/rides/${outdoor.id}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
  assert.ok((await drawnPixels(page, "#chart canvas")) > 1000, "the chart has data drawn");
  const s = (await apiFromPage(page, `/api/workouts/${outdoor.id}`)).body.summary;
  const shown = async (key: string) => await page.textContent(`#summary dd[data-key=${key}]`);
  assert.equal(await shown("avgPower"), `${Math.round(s.avgPower)} W`);
  assert.equal(await shown("normalizedPower"), `${Math.round(s.normalizedPower)} W`);
  assert.equal(await shown("totalDistance"), `${(s.totalDistance / 1000).toFixed(1)} km`);
  await screenshots(page, "ride");
  assert.ok(Number(await page.getAttribute("#map", "data-points")) > 100, "the route is drawn");
  assert.equal(await page.locator("#map .leaflet-overlay-pane path").count(), 3);
  await screenshots(page, "ride");
});

Deno.test("the power curve and fitness pages draw the rider's data", async () => {
  for (const path of ["/curve", "/fitness"]) {
    await page.goto(`${served.origin}${path}`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
    assert.ok(Number(await page.getAttribute("#chart", "data-points")) > 0, path);
    assert.ok((await drawnPixels(page, "#chart canvas")) > 500, path);
    await screenshots(page, path.slice(1));
  }
  for (const path of ["/calendar", "/profile"]) {
    await page.goto(`${served.origin}${path}`);
    await page.waitForLoadState("networkidle");
    await screenshots(page, path.slice(1));
  }
});

Deno.test("a live ride's page follows the samples posted to it", async () => {
  const created = await apiFromPage(page, "/api/workouts", {
    method: "POST",
    body: { streamName: `pages-${crypto.randomUUID().slice(0, 8)}`, title: "Live test" },
  });
  assert.equal(created.status, 201);
  const id = created.body.workout.id;
  const viewer = await context.newPage();
  await viewer.goto(`${served.origin}/live/${id}`);
  for (let i = 0; i < 4; i++) {
    const power = 200 + i * 10;
    const posted = await apiFromPage(page, `/api/workouts/${id}/samples`, {
      method: "POST",
      body: { samples: [{ time: Date.now(), power, heartRate: 140 + i, cadence: 90 }] },
    });
    assert.equal(posted.status, 202);
    await viewer.waitForFunction(
      (w) => document.querySelector("#now dd[data-key=power]")?.textContent === `${w} W`,
      power,
      { timeout: 10_000 },
    );
  }
  await screenshots(viewer, "live");
  await viewer.close();
});

Deno.test("a cookie without the CSRF token changes nothing", async () => {
  const res = await apiFromPage(page, `/api/workouts/${rideId}`, {
    method: "PATCH",
    body: { title: "Changed by another site" },
    csrf: false,
  });
  assert.equal(res.status, 403);
  const after = await apiFromPage(page, `/api/workouts/${rideId}`);
  assert.equal(after.body.title, "Hill repeats");
});

Deno.test("another rider sees none of the first rider's rides", async () => {
  const other = await browser.newContext({ viewport: viewports.phone });
  const p = await other.newPage();
  await signUp(p);
  await p.waitForSelector("#status:has-text('No rides')");
  assert.equal(await p.locator("#rides tbody tr").count(), 0);
  assert.equal((await apiFromPage(p, `/api/workouts/${rideId}`)).status, 404);
  await p.goto(`${served.origin}/rides/${rideId}`);
  await p.waitForFunction(() => document.getElementById("status")?.textContent !== "");
  assert.equal(await p.locator("#summary dd").count(), 0);
  await other.close();
});

Deno.test("signing out ends the session: the pages ask to sign in again", async () => {
  await page.goto(`${served.origin}/rides`);
  await Promise.all([page.waitForURL(/\/signin$/), page.click("form.signout button")]);
  await page.goto(`${served.origin}/rides`);
  assert.match(page.url(), /\/signin$/);
  await screenshots(page, "signin");
});
