import { type Context, type Handler, Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { csrf as sameOriginForms } from "hono/csrf";
import { z } from "zod";
import * as accounts from "../auth/sign_in.ts";
import { ApiError } from "../core/errors.ts";
import {
  type BrowserSession,
  browserSession,
  clearSessionCookies,
  csrfRefused,
  hasCsrfToken,
  setSessionCookies,
} from "../http/browser_session.ts";
import type { AppEnv, Deps } from "../http/deps.ts";
import { limitClient } from "../http/login_limits.ts";
import { rideFormats } from "../files/ride_file.ts";
import { accountAttempts } from "../routes/auth/handlers.ts";
import { type Assets, loadAssets } from "./assets.ts";
import { Layout, type LayoutProps } from "./layout.tsx";

/**
 * The pages' Content-Security-Policy: their own scripts and stylesheets only (no inline script:
 * page data travels in a JSON block), fetches to this origin, images from here and from the map
 * tile server when one is configured.
 */
export function pagesContentSecurityPolicy(tileUrl: string | undefined): string {
  const tiles = tileUrl ? ` ${new URL(tileUrl.replace(/\{[a-z]\}/g, "a")).origin}` : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data:${tiles}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

type Page = Omit<LayoutProps, "assets" | "signedIn" | "csrf">;

function render(c: Context<AppEnv>, assets: Assets, session: BrowserSession | null, page: Page) {
  c.header("Cache-Control", "no-store");
  return c.html(
    "<!doctype html>" +
      (<Layout assets={assets} signedIn={session !== null} csrf={session?.csrf} {...page} />)
        .toString(),
  );
}

const credentialsForm = z.object({
  email: z.string().trim().min(3).max(320),
  password: z.string().min(1).max(256),
});

function SignInForm(props: { action: "/signin" | "/signup"; message?: string; email?: string }) {
  const signUp = props.action === "/signup";
  return (
    <form method="post" action={props.action} class="card narrow">
      {props.message && <p class="error" role="alert">{props.message}</p>}
      <label>
        Email
        <input type="email" name="email" required autocomplete="email" value={props.email} />
      </label>
      <label>
        Password{signUp && " (at least 8 characters)"}
        <input
          type="password"
          name="password"
          required
          minlength={signUp ? 8 : 1}
          autocomplete={signUp ? "new-password" : "current-password"}
        />
      </label>
      <button type="submit">{signUp ? "Create account" : "Sign in"}</button>
      <p>
        {signUp
          ? <a href="/signin">I have an account: sign in</a>
          : <a href="/signup">New here? Create an account</a>}
      </p>
    </form>
  );
}

const liveView = (
  <>
    <p id="status" role="status"></p>
    <dl id="now" class="summary big"></dl>
    <div id="chart" class="chart"></div>
  </>
);

/** The rider's pages under `/`: sign-in, history, ride detail, analytics, upload, live, profile. */
export function pagesRoutes(deps: Deps) {
  const assets = loadAssets();
  const csp = pagesContentSecurityPolicy(deps.config.mapTiles.url);
  const app = new Hono<AppEnv>();

  // On each page route rather than `use("*")`: mounted at "/", a catch-all would match every
  // path of the app (and its 405 answers would list the pages' methods).
  const policy = createMiddleware<AppEnv>(async (c, next) => {
    await next();
    c.res.headers.set("Content-Security-Policy", csp);
  });
  // Sign-in and sign-up forms carry no session yet: a cross-site form post is refused by its
  // Origin (Hono's csrf); the signed-in forms also need the session's token.
  const origin = sameOriginForms();
  const get = (path: string, handler: Handler<AppEnv>) => app.get(path, policy, handler);
  const post = (path: string, ...handlers: Handler<AppEnv>[]) =>
    app.post(path, policy, origin, ...handlers);

  get("/assets/:file", (c) => {
    const asset = assets.byUrl.get(c.req.path);
    if (!asset) throw new ApiError("not_found", `No asset ${c.req.path}`);
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=31536000, immutable",
    });
  });

  get("/", async (c) => c.redirect((await browserSession(c)) ? "/rides" : "/signin", 303));

  for (const action of ["/signin", "/signup"] as const) {
    const title = action === "/signin" ? "Sign in" : "Create an account";
    get(action, async (c) => {
      if (await browserSession(c)) return c.redirect("/rides", 303);
      return render(c, assets, null, { title, children: <SignInForm action={action} /> });
    });
    post(action, limitClient, async (c) => {
      const form = credentialsForm.safeParse(await c.req.parseBody());
      const email = form.success ? form.data.email : undefined;
      try {
        if (!form.success) throw new ApiError("validation_failed", "Give an email and a password");
        const signedIn = action === "/signin"
          ? await accounts.signIn(deps, accountAttempts(deps), form.data)
          : await accounts.register(deps, form.data);
        setSessionCookies(c, signedIn.tokens);
        return c.redirect("/rides", 303);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status >= 500) throw err;
        c.status(err.status as 400);
        return render(c, assets, null, {
          title,
          children: <SignInForm action={action} message={err.message} email={email} />,
        });
      }
    });
  }

  post("/signout", async (c) => {
    const session = await browserSession(c);
    if (session) {
      const form = await c.req.parseBody();
      if (!hasCsrfToken(session, typeof form._csrf === "string" ? form._csrf : undefined)) {
        throw csrfRefused();
      }
      await accounts.signOut(deps, { bearer: session });
    }
    clearSessionCookies(c);
    return c.redirect("/signin", 303);
  });

  /** A signed-in page: without a session, the sign-in page. */
  const page = (path: string, make: (c: Context<AppEnv>) => Page) =>
    get(path, async (c) => {
      const session = await browserSession(c);
      if (!session) return c.redirect("/signin", 303);
      return render(c, assets, session, { current: path.split("/:")[0], ...make(c) });
    });

  page("/rides", () => ({
    title: "History",
    scripts: ["history.js"],
    children: (
      <>
        <form id="filters" class="filters" role="search">
          <label>
            Title <input type="search" name="q" placeholder="Search titles" />
          </label>
          <label>
            Sport <input name="sport" placeholder="any" />
          </label>
          <label>
            From <input type="date" name="from" />
          </label>
          <label>
            To <input type="date" name="to" />
          </label>
          <button type="submit">Filter</button>
        </form>
        <div class="table-wrap">
          <table id="rides">
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">Title</th>
                <th scope="col">Sport</th>
                <th scope="col" class="num">Duration</th>
                <th scope="col" class="num">Distance (km)</th>
                <th scope="col" class="num">Avg power (W)</th>
                <th scope="col" class="num">NP (W)</th>
                <th scope="col" class="num">TSS</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
        <p id="status" role="status"></p>
        <nav class="pager" aria-label="Pages of rides">
          <button type="button" id="prev">Newer</button>
          <span id="page-of"></span>
          <button type="button" id="next">Older</button>
        </nav>
      </>
    ),
  }));

  page("/rides/:id", (c) => ({
    title: "Ride",
    current: "/rides",
    scripts: ["uplot.js", "leaflet.js", "ride.js"],
    styles: ["uplot.css", "leaflet.css"],
    data: { id: c.req.param("id"), tiles: deps.config.mapTiles, formats: rideFormats },
    children: (
      <>
        <p id="status" role="status"></p>
        <section class="ride-head">
          <p id="ride-meta"></p>
          <div class="actions">
            <button type="button" id="edit">Edit</button>
            <span id="exports"></span>
            <button type="button" id="delete" class="danger">Delete</button>
          </div>
        </section>
        <form id="edit-form" class="card" hidden>
          <label>
            Title <input name="title" maxlength={200} />
          </label>
          <label>
            Sport <input name="sport" required maxlength={50} />
          </label>
          <label>
            Description <textarea name="description" rows={3} maxlength={10000}></textarea>
          </label>
          <div class="actions">
            <button type="submit">Save</button>
            <button type="button" id="cancel">Cancel</button>
          </div>
        </form>
        <dl id="summary" class="summary"></dl>
        <section>
          <h2>Power, heart rate, cadence and speed</h2>
          <p class="hint">Drag across the chart to zoom in; double-click to zoom out.</p>
          <div id="chart" class="chart"></div>
        </section>
        <section id="map-section" hidden>
          <h2>Route</h2>
          <div id="map" class="map" role="img" aria-label="Map of the route"></div>
        </section>
        <section class="two">
          <div>
            <h2>Power zones</h2>
            <div id="power-zones" class="zones"></div>
          </div>
          <div>
            <h2>Heart-rate zones</h2>
            <div id="hr-zones" class="zones"></div>
          </div>
        </section>
        <section>
          <h2>Power curve: this ride against the last 90 days</h2>
          <div id="curve" class="chart"></div>
        </section>
      </>
    ),
  }));

  const rangeFields = (prefix: string, label: string) => (
    <fieldset>
      <legend>{label}</legend>
      <label>
        From <input type="date" name={`${prefix}From`} />
      </label>
      <label>
        To <input type="date" name={`${prefix}To`} />
      </label>
    </fieldset>
  );

  page("/curve", () => ({
    title: "Power curve",
    scripts: ["uplot.js", "curve.js"],
    styles: ["uplot.css"],
    children: (
      <>
        <form id="periods" class="filters">
          {rangeFields("period", "Period (empty: all history)")}
          {rangeFields("compare", "Compare with")}
          <button type="submit">Show</button>
        </form>
        <p id="status" role="status"></p>
        <div id="chart" class="chart"></div>
        <div class="table-wrap">
          <table id="bests">
            <thead>
              <tr>
                <th scope="col">Duration</th>
                <th scope="col" class="num">Period (W)</th>
                <th scope="col" class="num">Compared (W)</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </div>
      </>
    ),
  }));

  page("/fitness", () => ({
    title: "Fitness",
    scripts: ["uplot.js", "fitness.js"],
    styles: ["uplot.css"],
    children: (
      <>
        <form id="range" class="filters">
          <label>
            Days
            <select name="days">
              <option value="42">6 weeks</option>
              <option value="90" selected>90 days</option>
              <option value="182">6 months</option>
              <option value="365">1 year</option>
            </select>
          </label>
        </form>
        <p id="status" role="status"></p>
        <dl id="today" class="summary"></dl>
        <p class="hint">
          Fitness (CTL, 42-day), fatigue (ATL, 7-day) and form (TSB = CTL − ATL), from daily TSS.
        </p>
        <div id="chart" class="chart"></div>
      </>
    ),
  }));

  page("/calendar", () => ({
    title: "Calendar",
    scripts: ["calendar.js"],
    children: (
      <>
        <nav class="pager" aria-label="Weeks">
          <button type="button" id="prev">Earlier</button>
          <span id="range-label"></span>
          <button type="button" id="next">Later</button>
        </nav>
        <p id="status" role="status"></p>
        <div id="calendar" class="calendar"></div>
      </>
    ),
  }));

  page("/upload", () => ({
    title: "Upload rides",
    scripts: ["upload.js"],
    children: (
      <>
        <label id="drop" class="drop" tabindex={0}>
          <span>Drop FIT, TCX, GPX or CSV files here, or choose them</span>
          <input type="file" id="files" multiple accept=".fit,.tcx,.gpx,.csv" />
        </label>
        <ul id="uploads" class="uploads" aria-live="polite"></ul>
      </>
    ),
  }));

  page("/live/:id", (c) => ({
    title: "Live ride",
    current: "/rides",
    scripts: ["uplot.js", "live.js"],
    styles: ["uplot.css"],
    data: { id: c.req.param("id") },
    children: liveView,
  }));

  page("/profile", () => ({
    title: "Profile",
    scripts: ["profile.js"],
    children: (
      <>
        <form id="profile" class="card">
          <label>
            Name <input name="displayName" maxlength={100} />
          </label>
          <label>
            FTP (W) <input name="ftpWatts" type="number" min={1} max={3000} step={1} />
          </label>
          <label>
            Weight (kg) <input name="weightKg" type="number" min={1} max={499} step={0.1} />
          </label>
          <label>
            Max heart rate (bpm) <input name="maxHr" type="number" min={1} max={299} step={1} />
          </label>
          <button type="submit">Save</button>
          <p id="profile-status" role="status"></p>
        </form>
        <section>
          <h2>FTP history</h2>
          <ul id="ftp-history"></ul>
        </section>
        <section>
          <h2>API keys</h2>
          <form id="new-key" class="filters">
            <label>
              Name <input name="keyName" required maxlength={100} />
            </label>
            <button type="submit">Create key</button>
          </form>
          <p id="key-shown" class="card" hidden role="status"></p>
          <ul id="keys"></ul>
        </section>
      </>
    ),
  }));

  // A shared live ride, watched through its share link without an account.
  get("/shared/:name", async (c) =>
    render(c, assets, await browserSession(c), {
      title: "Shared live ride",
      scripts: ["uplot.js", "live.js"],
      styles: ["uplot.css"],
      data: { stream: c.req.param("name"), share: c.req.query("share") ?? null },
      children: liveView,
    }));

  return app;
}
