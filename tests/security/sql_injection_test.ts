import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp, uniqueEmail } from "../support.ts";
import {
  assertEnvelope,
  assertHealthy,
  assertTablesIntact,
  injectionStrings,
  longInjection,
  nulStrings,
  okJson,
  tableCounts,
} from "./attack_support.ts";

// SQL injection through every text field and every query parameter: the answer is a 2xx with the
// text stored verbatim (read back) or a clean 4xx; never a 500; every table intact afterwards.

let t: TestApp;
let victim: Awaited<ReturnType<typeof registerRider>>;
let victimWorkoutId: string;

Deno.test.beforeAll(async () => {
  t = await startTestApp();
  // A rider whose archived ride must survive every attempt unchanged.
  victim = await registerRider(t);
  const start = Date.UTC(2026, 9, 1, 7);
  const samples = Array.from({ length: 120 }, (_, i) => ({
    time: start + i * 1000,
    power: 200 + (i % 7),
    cadence: 90,
  }));
  const res = await t.request("POST", "/api/workouts/import", {
    token: victim.accessToken,
    body: { title: "Victim's ride", samples },
  });
  assert.equal(res.status, 201, await res.clone().text());
  victimWorkoutId = (await res.json()).workout.id;
});
Deno.test.afterAll(() => t.close());

/** Asserts the victim can still read their ride, unchanged, with all 120 samples. */
async function assertVictimIntact() {
  const res = await t.request("GET", `/api/workouts/${victimWorkoutId}?includeTelemetry=true`, {
    token: victim.accessToken,
  });
  const workout = await okJson<Record<string, unknown>>(res, "victim's ride");
  assert.equal(workout.title, "Victim's ride");
  assert.equal(workout.status, "completed");
  assert.equal((workout.telemetry as unknown[]).length, 120);
  const [row] = await t
    .sql`select count(*)::int as n from telemetry where workout_id = ${victimWorkoutId}`;
  assert.equal(row.n, 120);
}

/** Every text an attacker would try in a free-text field, with the field's own length limit. */
function attackTexts(maxLength: number): string[] {
  return [
    ...injectionStrings.filter((s) => s.length <= maxLength),
    longInjection(maxLength).trim(),
  ];
}

/** Asserts a 4xx envelope (never 500) for input that cannot be stored verbatim. */
async function assertRefused(res: Response, label: string) {
  const body = await assertEnvelope(res, [400, 401, 404, 409, 413, 415, 422], { label });
  assert.ok(
    !/select|insert|update|syntax|relation|column/i.test(body.error),
    `${label}: leaks SQL`,
  );
}

Deno.test("POST /api/auth/register stores injection text in displayName and password verbatim", async () => {
  const before = await tableCounts(t.sql);
  for (const text of [...attackTexts(100), ...attackTexts(256).filter((s) => s.length > 100)]) {
    const email = uniqueEmail("inj");
    const password = text.padEnd(8, "!");
    const displayName = text.length <= 100 ? text : undefined;
    const res = await t.request("POST", "/api/auth/register", {
      body: { email, password, displayName },
    });
    const session = await okJson<{ user: { id: string }; accessToken: string }>(res, text);
    const me = await okJson<{ displayName: string | null; email: string }>(
      await t.request("GET", "/api/users/me", { token: session.accessToken }),
      text,
    );
    assert.equal(me.displayName, displayName ?? null, text);
    assert.equal(me.email, email);
    // The password works exactly as typed, and only so.
    const login = await t.request("POST", "/api/auth/login", { body: { email, password } });
    assert.equal(login.status, 200, text);
    await login.body?.cancel();
    for (const wrong of [`${password}x`, password.slice(0, -1), "' or '1'='1"]) {
      if (wrong === password || wrong.length > 256) continue;
      const near = await t.request("POST", "/api/auth/login", { body: { email, password: wrong } });
      await assertEnvelope(near, 401, { code: "invalid_credentials", label: text });
    }
  }
  const tooLong = await t.request("POST", "/api/auth/register", {
    body: { email: uniqueEmail(), password: "long enough", displayName: longInjection(101) },
  });
  await assertEnvelope(tooLong, 400, { code: "validation_failed" });
  await assertTablesIntact(t.sql, before);
  await assertVictimIntact();
});

Deno.test("POST /api/auth/register and login refuse injection text in the email with 400", async () => {
  const before = await tableCounts(t.sql);
  const [{ n: usersBefore }] = await t.sql`select count(*)::int as n from users`;
  let stored = 0;
  for (const text of [...injectionStrings, ...nulStrings, longInjection(300)]) {
    for (const email of [text, `${text}@example.com`, `${victim.email}${text}`]) {
      const label = JSON.stringify(email);
      const register = await t.request("POST", "/api/auth/register", {
        body: { email, password: "long enough password" },
      });
      if (register.status === 201) {
        // Some of these are legal addresses ("admin'--@example.com"): stored as typed.
        assert.equal((await register.json()).user.email, email, label);
        stored++;
      } else {
        await assertRefused(register, `register ${label}`);
      }
      const login = await t.request("POST", "/api/auth/login", {
        body: { email, password: victim.password },
      });
      await assertEnvelope(login, [400, 401], { label: `login ${label}` });
    }
  }
  // An apostrophe is legal in an email address: it is stored and signs in verbatim.
  const quoted = `o'brien--${crypto.randomUUID().slice(0, 8)}@example.com`;
  const res = await t.request("POST", "/api/auth/register", {
    body: { email: quoted, password: "' or ''='" + "padding" },
  });
  const session = await okJson<{ user: { email: string } }>(res, quoted);
  assert.equal(session.user.email, quoted);
  const login = await t.request("POST", "/api/auth/login", {
    body: { email: quoted.toUpperCase(), password: "' or ''='" + "padding" },
  });
  assert.equal(login.status, 200);
  const [{ n: usersAfter }] = await t.sql`select count(*)::int as n from users`;
  assert.equal(usersAfter, usersBefore + stored + 1);
  await assertTablesIntact(t.sql, before);
});

Deno.test("text with a NUL character is refused with 400 in every Postgres text field, never 500", async () => {
  const before = await tableCounts(t.sql);
  const rider = await registerRider(t);
  const created = await okJson<{ workout: { id: string } }>(
    await t.request("POST", "/api/workouts", { token: rider.accessToken, body: { title: "ok" } }),
  );
  const id = created.workout.id;
  for (const text of nulStrings) {
    const label = JSON.stringify(text);
    const email = uniqueEmail("nul");
    await assertRefused(
      await t.request("POST", "/api/auth/register", {
        body: { email, password: `${text}padding!`, displayName: text },
      }),
      `register ${label}`,
    );
    const [row] = await t.sql`select count(*)::int as n from users where email = ${email}`;
    assert.equal(row.n, 0, `register ${label} left a user behind`);
    await assertRefused(
      await t.request("PATCH", "/api/users/me", {
        token: rider.accessToken,
        body: { displayName: `x${text}x` },
      }),
      `profile ${label}`,
    );
    for (const field of ["title", "description", "sport"]) {
      await assertRefused(
        await t.request("PATCH", `/api/workouts/${id}`, {
          token: rider.accessToken,
          body: { [field]: `x${text}x` },
        }),
        `workout ${field} ${label}`,
      );
    }
    await assertRefused(
      await t.request("POST", "/api/workouts", {
        token: rider.accessToken,
        body: { title: `x${text}x` },
      }),
      `new workout ${label}`,
    );
    await assertRefused(
      await t.request("GET", `/api/workouts?sport=${encodeURIComponent(text)}`, {
        token: rider.accessToken,
      }),
      `sport filter ${label}`,
    );
  }
  const me = await okJson<{ displayName: string | null }>(
    await t.request("GET", "/api/users/me", { token: rider.accessToken }),
  );
  assert.equal(me.displayName, null);
  const workout = await okJson<{ title: string; sport: string }>(
    await t.request("GET", `/api/workouts/${id}`, { token: rider.accessToken }),
  );
  assert.deepEqual([workout.title, workout.sport], ["ok", "cycling"]);
  await assertTablesIntact(t.sql, before);
  await assertVictimIntact();
});

Deno.test("PATCH /api/users/me stores injection text in displayName and avatarUrl verbatim", async () => {
  const before = await tableCounts(t.sql);
  const rider = await registerRider(t);
  for (const text of attackTexts(100)) {
    const patched = await okJson<{ displayName: string }>(
      await t.request("PATCH", "/api/users/me", {
        token: rider.accessToken,
        body: { displayName: text },
      }),
      text,
    );
    assert.equal(patched.displayName, text);
    const me = await okJson<{ displayName: string }>(
      await t.request("GET", "/api/users/me", { token: rider.accessToken }),
    );
    assert.equal(me.displayName, text);
  }
  for (const text of injectionStrings) {
    const url = `https://cdn.example/${encodeURIComponent(text)}?q=${encodeURIComponent(text)}`;
    const res = await t.request("PATCH", "/api/users/me", {
      token: rider.accessToken,
      body: { avatarUrl: url },
    });
    assert.equal((await okJson<{ avatarUrl: string }>(res, url)).avatarUrl, url);
    const raw = await t.request("PATCH", "/api/users/me", {
      token: rider.accessToken,
      body: { avatarUrl: text },
    });
    await assertEnvelope(raw, 400, { code: "validation_failed", label: text });
  }
  // Column names as keys are not a way in: unknown keys are refused and nothing changes.
  const keys = await t.request("PATCH", "/api/users/me", {
    token: rider.accessToken,
    body: { "display_name = 'x', email": "pwned", "password_hash": "x", "email": "x@y.z" },
  });
  await assertEnvelope(keys, 400, { code: "validation_failed" });
  const me = await okJson<{ email: string }>(
    await t.request("GET", "/api/users/me", { token: rider.accessToken }),
  );
  assert.equal(me.email, rider.email);
  await assertTablesIntact(t.sql, before);
  await assertVictimIntact();
});

Deno.test("workout title, description and sport store injection text verbatim", async () => {
  const before = await tableCounts(t.sql);
  const rider = await registerRider(t);
  const ids: string[] = [];
  for (const text of attackTexts(50)) {
    const created = await okJson<{ workout: { id: string; title: string; sport: string } }>(
      await t.request("POST", "/api/workouts", {
        token: rider.accessToken,
        body: { title: text, sport: text },
      }),
      text,
    );
    assert.deepEqual([created.workout.title, created.workout.sport], [text, text]);
    ids.push(created.workout.id);
  }
  // An imported ride takes the same fields.
  const start = Date.UTC(2026, 9, 2, 7);
  for (const text of attackTexts(50).slice(0, 6)) {
    const samples = [{ time: start, power: 100 }, { time: start + 1000, power: 110 }];
    const imported = await okJson<{ workout: { id: string; title: string; sport: string } }>(
      await t.request("POST", "/api/workouts/import", {
        token: rider.accessToken,
        body: { title: text, sport: text, samples },
      }),
      text,
    );
    assert.deepEqual([imported.workout.title, imported.workout.sport], [text, text]);
    ids.push(imported.workout.id);
  }
  const id = ids[0];
  for (const [field, max] of [["title", 200], ["description", 10_000], ["sport", 50]] as const) {
    for (const text of attackTexts(max)) {
      const res = await t.request("PATCH", `/api/workouts/${id}`, {
        token: rider.accessToken,
        body: { [field]: text },
      });
      const { workout } = await okJson<{ workout: Record<string, unknown> }>(res, text);
      assert.equal(workout[field], text, `${field} ${text}`);
      const read = await okJson<Record<string, unknown>>(
        await t.request("GET", `/api/workouts/${id}`, { token: rider.accessToken }),
      );
      assert.equal(read[field], text, `${field} read back ${text}`);
    }
    const tooLong = await t.request("PATCH", `/api/workouts/${id}`, {
      token: rider.accessToken,
      body: { [field]: "x" + longInjection(max) },
    });
    await assertEnvelope(tooLong, 400, { code: "validation_failed", label: field });
  }
  // Filtering by an injection text finds exactly the workouts whose sport is that text.
  for (const text of injectionStrings.filter((s) => s.length <= 50)) {
    const list = await okJson<{ workouts: { id: string; sport: string }[] }>(
      await t.request("GET", `/api/workouts?limit=1000&sport=${encodeURIComponent(text)}`, {
        token: rider.accessToken,
      }),
      text,
    );
    const [row] = await t.sql`
      select count(*)::int as n from workouts where user_id = ${rider.user.id} and sport = ${text}
    `;
    assert.equal(list.workouts.length, row.n, text);
    assert.ok(list.workouts.every((w) => w.sport === text), text);
  }
  for (const workoutId of ids) {
    const res = await t.request("DELETE", `/api/workouts/${workoutId}`, {
      token: rider.accessToken,
    });
    assert.equal(res.status, 200);
  }
  await assertTablesIntact(t.sql, before);
  await assertVictimIntact();
});

Deno.test("stream messages and authors store injection text verbatim; names refuse it with 400", async () => {
  const before = await tableCounts(t.sql);
  const rider = await registerRider(t);
  const name = `inj-${crypto.randomUUID().slice(0, 8)}`;
  const texts = [...injectionStrings, ...nulStrings, longInjection(100 * 1024)];
  const ids = new Map<string, string>();
  for (const text of texts) {
    const author = text.slice(0, 64);
    const res = await t.request("POST", `/api/streams/${name}/messages`, {
      token: rider.accessToken,
      body: { message: text, author },
    });
    const { messageId } = await okJson<{ messageId: string }>(res, text.slice(0, 40));
    ids.set(messageId, text);
  }
  const read = await okJson<{ messages: { id: string; data: Record<string, string> }[] }>(
    await t.request("GET", `/api/streams/${name}/messages?count=1000`, {
      token: rider.accessToken,
    }),
  );
  for (const [id, text] of ids) {
    const entry = read.messages.find((m) => m.id === id);
    assert.ok(entry, `message ${id} missing`);
    assert.equal(entry.data.message, text);
    assert.equal(entry.data.author, text.slice(0, 64));
  }
  const tooBig = await t.request("POST", `/api/streams/${name}/messages`, {
    token: rider.accessToken,
    body: { message: longInjection(100 * 1024 + 1) },
  });
  await assertEnvelope(tooBig, 400, { code: "message_too_large" });

  for (const text of [...injectionStrings, ...nulStrings]) {
    const create = await t.request("POST", "/api/streams/create", {
      token: rider.accessToken,
      body: { streamName: text },
    });
    await assertEnvelope(create, 400, { code: "validation_failed", label: text });
    const path = `/api/streams/${encodeURIComponent(text)}/messages`;
    const post = await t.request("POST", path, {
      token: rider.accessToken,
      body: { message: "x" },
    });
    await assertEnvelope(post, [400, 404], { label: `post ${text}` });
  }
  assert.equal(
    (await t.request("DELETE", `/api/streams/${name}`, { token: rider.accessToken }))
      .status,
    200,
  );
  await assertTablesIntact(t.sql, before);
  await assertVictimIntact();
});

Deno.test("every query parameter answers 2xx or a clean 400 for injection text, never 500", async () => {
  const before = await tableCounts(t.sql);
  const rider = await registerRider(t);
  const active = await okJson<{ workout: { id: string } }>(
    await t.request("POST", "/api/workouts", { token: rider.accessToken, body: { title: "a" } }),
  );
  const stream = `q-${crypto.randomUUID().slice(0, 8)}`;
  await okJson(
    await t.request("POST", "/api/streams/create", {
      token: rider.accessToken,
      body: { streamName: stream },
    }),
  );
  const routes: [path: string, params: string[], token: string][] = [
    [
      "/api/workouts",
      ["page", "limit", "status", "sport", "startDate", "endDate"],
      rider.accessToken,
    ],
    [
      "/api/analytics/bests?duration=1200",
      ["duration", "bucket", "from", "to"],
      victim.accessToken,
    ],
    ["/api/analytics/power-curve", ["from", "to"], victim.accessToken],
    [
      `/api/workouts/${victimWorkoutId}/telemetry`,
      ["resolution", "fields"],
      victim.accessToken,
    ],
    [`/api/workouts/${victimWorkoutId}`, ["includeTelemetry"], victim.accessToken],
    [`/api/workouts/${active.workout.id}/live`, ["after", "limit"], rider.accessToken],
    [`/api/streams/${stream}/messages`, ["count", "start", "end"], rider.accessToken],
  ];
  const texts = [...injectionStrings, ...nulStrings, longInjection(10_000), "", "-1", "1e309"];
  const seen = new Map<number, number>();
  for (const [path, params, token] of routes) {
    for (const param of params) {
      for (const text of texts) {
        const url = `${path}${path.includes("?") ? "&" : "?"}${param}=${encodeURIComponent(text)}`;
        const res = await t.request("GET", url, { token });
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        const label = `${url.slice(0, 120)}`;
        if (res.status === 200) {
          const body = await res.json();
          // A list filtered by injection text never shows anybody else's workouts.
          if (path === "/api/workouts") {
            for (const w of body.workouts) assert.equal(w.userId, rider.user.id, label);
          }
        } else {
          const body = await assertEnvelope(res, 400, { label });
          assert.ok(["validation_failed", "invalid_value"].includes(body.code), label);
        }
      }
    }
  }
  assert.ok((seen.get(400) ?? 0) > 100, JSON.stringify([...seen]));
  // Path parameters too: a workout id and a stream name.
  for (const text of [...injectionStrings, ...nulStrings]) {
    const enc = encodeURIComponent(text);
    for (const path of [`/api/workouts/${enc}`, `/api/workouts/by-stream/${enc}`]) {
      const res = await t.request("GET", path, { token: rider.accessToken });
      await assertEnvelope(res, [400, 404], { label: path });
    }
  }
  assert.equal(
    (await t.request("DELETE", `/api/streams/${stream}`, { token: rider.accessToken })).status,
    200,
  );
  await assertTablesIntact(t.sql, before);
  await assertVictimIntact();
  await assertHealthy(t);
});
