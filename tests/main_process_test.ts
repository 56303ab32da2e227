/** The service as processes: `src/main.ts` started and stopped as in production. */
import assert from "node:assert/strict";
import { generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { freePort } from "./local_servers.ts";
import { startService, waitFor } from "./service_process.ts";

Deno.test("two processes with REUSE_PORT serve one port, share the signing key and stop on SIGTERM", async () => {
  const port = freePort();
  const env = {
    DATABASE_URL: Deno.env.get("DATABASE_URL")!,
    UPSTASH_REDIS_REST_URL: Deno.env.get("UPSTASH_REDIS_REST_URL")!,
    UPSTASH_REDIS_REST_TOKEN: Deno.env.get("UPSTASH_REDIS_REST_TOKEN")!,
    PORT: String(port),
    HOST: "127.0.0.1",
    REUSE_PORT: "true",
    JWT_PRIVATE_KEY: await generatePrivateKeyPem(),
    LOG_LEVEL: "info",
    SWEEP_INTERVAL_S: "0",
    PASSWORD_MEMORY_KIB: "1024",
    PASSWORD_ITERATIONS: "1",
  };
  // One after the other, so their migrations do not wait on each other's lock for nothing.
  const first = startService(env);
  const services = [first];
  try {
    await waitFor(
      "the first process listening",
      () => first.lines.some((l) => l.msg === "listening"),
    );
    const second = startService(env);
    services.push(second);
    await waitFor(
      "the second process listening",
      () => second.lines.some((l) => l.msg === "listening"),
    );

    const base = `http://127.0.0.1:${port}`;
    const registered = await fetch(`${base}/api/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        email: `processes-${crypto.randomUUID()}@example.com`,
        password: "correct horse battery staple",
      }),
    });
    assert.equal(registered.status, 201);
    const { accessToken } = await registered.json();

    // New connections spread over both processes; the token verifies on either.
    for (let i = 0; i < 40; i++) {
      const client = Deno.createHttpClient({});
      const res = await fetch(`${base}/api/users/me`, {
        client,
        headers: { authorization: `Bearer ${accessToken}` },
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();
      client.close();
    }
    const served = (service: typeof first) =>
      service.lines.filter((l) => l.msg === "request" && l.path === "/api/users/me").length;
    await waitFor("the request log", () => served(first) + served(second) === 40);
    assert.ok(served(first) > 0 && served(second) > 0, "one process served every request");

    for (const service of services) {
      service.child.kill("SIGTERM");
      const status = await service.child.status;
      await service.read;
      assert.equal(status.code, 0, await service.stderr);
      assert.ok(service.lines.some((l) => l.msg === "stopped"));
    }
  } finally {
    for (const service of services) {
      try {
        service.child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await service.child.status;
      await service.stderr;
    }
  }
});
