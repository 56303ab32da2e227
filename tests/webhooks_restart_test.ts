/** Webhook deliveries survive a killed service: pending ones are sent after the restart, once each by id. */
import assert from "node:assert/strict";
import { generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { freePort } from "./local_servers.ts";
import { killService, startService, waitFor } from "./service_process.ts";
import { startReceiver } from "./webhook_receiver.ts";

Deno.test("a service killed mid-delivery loses no event; the receiver de-duplicates by Webhook-Id", async () => {
  const port = freePort();
  const env = {
    DATABASE_URL: Deno.env.get("DATABASE_URL")!,
    UPSTASH_REDIS_REST_URL: Deno.env.get("UPSTASH_REDIS_REST_URL")!,
    UPSTASH_REDIS_REST_TOKEN: Deno.env.get("UPSTASH_REDIS_REST_TOKEN")!,
    REDIS_KEY_PREFIX: Deno.env.get("REDIS_KEY_PREFIX") ?? "bpt:",
    PORT: String(port),
    HOST: "127.0.0.1",
    JWT_PRIVATE_KEY: await generatePrivateKeyPem(),
    LOG_LEVEL: "info",
    SWEEP_INTERVAL_S: "0",
    PASSWORD_MEMORY_KIB: "1024",
    PASSWORD_ITERATIONS: "1",
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_POLL_MS: "100",
    WEBHOOK_TIMEOUT_MS: "1000", // lease 6 s
    WEBHOOK_BACKOFF_BASE_MS: "100",
  };
  const receiver = startReceiver();
  // The first request hangs: the service is killed while it is being sent.
  receiver.answer = () => receiver.received.length === 1 ? "hang" : 200;
  let service = startService(env);
  try {
    await waitFor("listening", () => service.lines.some((l) => l.msg === "listening"));
    const base = `http://127.0.0.1:${port}`;
    const call = async (method: string, path: string, token?: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          "content-type": "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    };
    const reg = await call("POST", "/api/auth/register", undefined, {
      email: `restart-${crypto.randomUUID()}@example.com`,
      password: "correct horse battery staple",
    });
    assert.equal(reg.status, 201);
    const token = reg.json.accessToken;
    const hook = await call("POST", "/api/webhooks", token, {
      url: receiver.url,
      events: ["workout.completed", "workout.updated"],
    });
    assert.equal(hook.status, 201);
    const started = await call("POST", "/api/workouts", token, { title: "Before the crash" });
    const id = started.json.workout.id;
    const t0 = Date.parse("2026-11-03T08:00:00Z");
    const posted = await call("POST", `/api/workouts/${id}/samples`, token, {
      samples: Array.from({ length: 30 }, (_, i) => ({ time: t0 + i * 1000, power: 180 })),
    });
    assert.equal(posted.status, 202, JSON.stringify(posted.json));
    assert.equal((await call("POST", `/api/workouts/${id}/complete`, token, {})).status, 200);
    await waitFor("the first delivery hanging", () => receiver.received.length >= 1, 15_000);
    // A second event committed just before the kill: pending when the process dies.
    assert.equal((await call("PATCH", `/api/workouts/${id}`, token, { title: "x" })).status, 200);
    await killService(service);

    service = startService(env);
    await waitFor("listening again", () => service.lines.some((l) => l.msg === "listening"));
    const ids = () => new Set(receiver.received.map((r) => r.id));
    // The hung send's lease runs out (6 s) and it is sent again; the update is sent too.
    await waitFor(
      "both events after the restart",
      () =>
        ids().size === 2 &&
        receiver.received.filter((r) => r.id === receiver.received[0].id).length >= 2,
      30_000,
    );
    const types = new Set(receiver.received.map((r) => JSON.parse(r.body).type));
    assert.deepEqual([...types].sort(), ["workout.completed", "workout.updated"]);
    const log = await call("GET", `/api/webhooks/${hook.json.id}/deliveries`, token);
    assert.deepEqual(log.json.deliveries.map((d: { status: string }) => d.status), [
      "delivered",
      "delivered",
    ]);
  } finally {
    await killService(service);
    await receiver.close();
  }
});
