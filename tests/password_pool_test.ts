/**
 * Password hashing on worker threads: sign-ins answer as before, many at once all answer right,
 * a full queue answers a clear 503, a dead worker is replaced, and the event loop keeps running
 * while hashes with the shipped cost are in flight.
 */
import assert from "node:assert/strict";
import { createPasswordHasher } from "../src/auth/password_pool.ts";
import { loadConfig } from "../src/core/config.ts";
import { ApiError } from "../src/core/errors.ts";
import { createLogger } from "../src/core/log.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

const log = createLogger("silent");
const shipped = loadConfig({}).passwordCost; // 19 MiB, 2 passes

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ passwordPool: { workers: 2, queueMax: 100 } });
});
Deno.test.afterAll(() => t.close());

Deno.test("many concurrent logins all answer right: 200 for the password, 401 for a wrong one", async () => {
  const riders = await Promise.all([1, 2, 3].map(() => registerRider(t)));
  const attempts = Array.from({ length: 30 }, (_, i) => {
    const rider = riders[i % riders.length];
    const right = i % 3 !== 0;
    return { rider, right, password: right ? rider.password : `${rider.password}!` };
  });
  const answers = await Promise.all(attempts.map(async (a) => {
    const res = await t.request("POST", "/api/auth/login", {
      body: { email: a.rider.email, password: a.password },
    });
    return { status: res.status, body: await res.json() };
  }));
  answers.forEach((answer, i) => {
    const { rider, right } = attempts[i];
    if (right) {
      assert.equal(answer.status, 200, `login ${i}`);
      assert.equal(answer.body.user.id, rider.user.id);
    } else {
      assert.equal(answer.status, 401, `login ${i}`);
      assert.equal(answer.body.code, "invalid_credentials");
    }
  });
});

Deno.test("a full password queue answers 503 password_checks_busy with Retry-After", async () => {
  const small = await startTestApp({ passwordPool: { workers: 1, queueMax: 1 } });
  try {
    const rider = await registerRider(small);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        small.request("POST", "/api/auth/login", {
          body: { email: rider.email, password: rider.password },
        })),
    );
    const statuses = answers.map((res) => res.status);
    // The one being hashed and the one waiting get through; the login that found the
    // queue full is refused, not kept waiting.
    assert.ok(statuses.filter((s) => s === 200).length >= 2, String(statuses));
    const busy = answers.filter((res) => res.status === 503);
    assert.ok(busy.length >= 1, String(statuses));
    assert.equal(busy[0].headers.get("retry-after"), "1");
    assert.equal((await busy[0].json()).code, "password_checks_busy");
    await Promise.all(answers.map((res) => res.bodyUsed ? undefined : res.body?.cancel()));
    // Once the queue has drained, the same login works again.
    const again = await small.request("POST", "/api/auth/login", {
      body: { email: rider.email, password: rider.password },
    });
    assert.equal(again.status, 200);
    await again.body?.cancel();
  } finally {
    await small.close();
  }
});

Deno.test("the event loop keeps running while hashes with the shipped cost are in flight", async () => {
  const pool = createPasswordHasher({ workers: 2, queueMax: 10, log });
  try {
    await pool.hash("warm the workers up", { memoryKib: 1024, iterations: 1 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let settled = false;
    const hashes = Promise.all(
      Array.from({ length: 4 }, (_, i) => pool.hash(`password ${i}`, shipped)),
    ).finally(() => settled = true);
    const seenBeforeSettled = new Promise<number>((resolve) => {
      const probe = setInterval(() => {
        if (ticks >= 3 || settled) {
          clearInterval(probe);
          resolve(settled ? -1 : ticks);
        }
      }, 1);
    });
    const seen = await seenBeforeSettled;
    const hashed = await hashes;
    clearInterval(timer);
    assert.ok(seen >= 3, "timers ran while the hashes were in flight");
    for (const [i, hash] of hashed.entries()) {
      assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal(await pool.verify(`password ${i}`, hash), true);
      assert.equal(await pool.verify(`password ${i} `, hash), false);
    }
  } finally {
    pool.close();
  }
});

Deno.test("a worker that dies fails its job and is replaced for the next", async () => {
  const pool = createPasswordHasher({
    workers: 1,
    queueMax: 10,
    log,
    workerUrl: new URL("./crashing_password_worker.ts", import.meta.url),
  });
  try {
    const cost = { memoryKib: 1024, iterations: 1 };
    const stored = await pool.hash("a good password", cost);
    const [crashed, waiting] = await Promise.allSettled([
      pool.verify("crash", stored),
      pool.verify("a good password", stored), // queued behind the job that kills the worker
    ]);
    assert.equal(crashed.status, "rejected");
    assert.deepEqual(waiting, { status: "fulfilled", value: true });
    assert.equal(await pool.verify("a wrong password", stored), false);
  } finally {
    pool.close();
  }
});

Deno.test("a closed pool refuses new work with 503 instead of hanging", async () => {
  const pool = createPasswordHasher({ workers: 1, queueMax: 10, log });
  await pool.hash("start a worker", { memoryKib: 1024, iterations: 1 });
  pool.close();
  await assert.rejects(
    pool.hash("too late", { memoryKib: 1024, iterations: 1 }),
    (err: unknown) => err instanceof ApiError && err.status === 503,
  );
});

Deno.test("PASSWORD_WORKERS defaults to the cores but one and 0 hashes inline", () => {
  assert.equal(
    loadConfig({}).passwordPool.workers,
    Math.max(1, navigator.hardwareConcurrency - 1),
  );
  assert.deepEqual(loadConfig({ PASSWORD_WORKERS: "0", PASSWORD_QUEUE_MAX: "5" }).passwordPool, {
    workers: 0,
    queueMax: 5,
  });
});
