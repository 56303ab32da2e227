// Three real instances behind nginx: riders post on both paths (the old clients' stream messages
// and the REST samples) spread over the instances, viewers watch through the balancer, and one
// instance is killed with SIGKILL mid-ride and started again. Every sample answered with a 2xx is
// archived exactly once, and every viewer, those of the killed instance included, reconnects with
// Last-Event-ID and has every accepted message of its stream, in order.
import assert from "node:assert/strict";
import postgres from "postgres";
import { generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { type Frame, postRetrying as post, reconnectingViewer, startCluster } from "./cluster.ts";
import { delay } from "./local_servers.ts";

const databaseUrl = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:55433/bpt_test";

Deno.test({
  name: "three instances behind nginx: a SIGKILL loses no accepted sample and no viewer frame",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const prefix = `scale${crypto.randomUUID().slice(0, 8)}:`;
    const cluster = await startCluster({
      instances: 3,
      env: {
        DATABASE_URL: databaseUrl,
        MIGRATE_ON_START: "true",
        UPSTASH_REDIS_REST_URL: Deno.env.get("UPSTASH_REDIS_REST_URL") ?? "http://127.0.0.1:58080",
        UPSTASH_REDIS_REST_TOKEN: Deno.env.get("UPSTASH_REDIS_REST_TOKEN") ?? "bpt-test-token",
        REDIS_KEY_PREFIX: prefix,
        JWT_PRIVATE_KEY: await generatePrivateKeyPem(),
        LOG_LEVEL: "error",
        PASSWORD_MEMORY_KIB: "1024",
        PASSWORD_ITERATIONS: "1",
        // Each rider here posts 40 times a second, far above a real rider's 1 Hz.
        RATE_LIMIT_PER_MINUTE: "0",
        // Every request comes from nginx on 127.0.0.1.
        TRUSTED_PROXY_HOPS: "1",
      },
    });
    const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
    const viewers: ReturnType<typeof reconnectingViewer>[] = [];
    try {
      const api = (path: string) => `${cluster.url}${path}`;
      const t0 = Date.now() - 3600_000;
      type Rider = {
        token: string;
        workoutId: string;
        stream?: string;
        accepted: Map<number, string>;
      };
      const riders: Rider[] = [];
      for (let r = 0; r < 8; r++) {
        const session = await post(api("/api/auth/register"), "", {
          email: `scale-${r}-${crypto.randomUUID().slice(0, 8)}@example.com`,
          password: "scale out password",
        });
        const token = session!.accessToken as string;
        if (r % 2 === 0) {
          // The old clients' path: a stream, bound to a workout of its rider.
          const stream = `scale-${prefix.slice(5, 13)}-${r}`;
          const created = await post(api("/api/streams/create"), token, { streamName: stream });
          riders.push({
            token,
            workoutId: created!.workoutId as string,
            stream,
            accepted: new Map(),
          });
        } else {
          const created = await post(api("/api/workouts"), token, {});
          const workout = created!.workout as { id: string };
          riders.push({ token, workoutId: workout.id, accepted: new Map() });
        }
      }

      // Three viewers per stream, spread over the instances by the balancer.
      const seen = new Map<ReturnType<typeof reconnectingViewer>, Frame[]>();
      for (const rider of riders.filter((r) => r.stream)) {
        for (let v = 0; v < 3; v++) {
          const frames: Frame[] = [];
          const viewer = reconnectingViewer(
            api(`/api/streams/${rider.stream}/listen`),
            { authorization: `Bearer ${rider.token}` },
            (frame) => frames.push(frame),
          );
          seen.set(viewer, frames);
          (viewer as unknown as { rider: Rider }).rider = rider;
          viewers.push(viewer);
        }
      }
      const connecting = Promise.all(viewers.map((v) => v.connected));
      const late = await Promise.race([
        connecting.then(() => false),
        delay(10_000).then(() => true),
      ]);
      assert.ok(
        !late,
        `viewers did not connect: ${viewers.map((v) => v.stats.lastError).join("; ")}`,
      );

      // Each rider posts a sample every 25 ms for 6 s; instance 1 is killed at 2 s and back at 3.5 s.
      const perRider = 240;
      const posting = riders.map(async (rider) => {
        for (let i = 0; i < perRider; i++) {
          const time = t0 + i * 1000;
          const answer = rider.stream
            ? await post(api(`/api/streams/${rider.stream}/messages`), rider.token, {
              message: JSON.stringify({
                power: 200 + (i % 50),
                cadence: 90,
                heartrate: 140,
                timestamp: time,
                dataType: "workout_metrics",
              }),
            })
            : await post(api(`/api/workouts/${rider.workoutId}/samples`), rider.token, {
              samples: [{ time, power: 200 + (i % 50), cadence: 90, heartRate: 140 }],
            });
          if (answer) rider.accepted.set(time, String(answer.messageId ?? ""));
          await delay(25);
        }
      });
      await delay(2000);
      await cluster.kill(1);
      await delay(1500);
      await cluster.restart(1);
      await Promise.all(posting);
      await delay(1500); // the last frames reach every viewer

      // Every viewer has every accepted message of its stream, in the order they were stored.
      let reconnected = 0;
      for (const viewer of viewers) {
        const rider = (viewer as unknown as { rider: Rider }).rider;
        const frames = seen.get(viewer)!.filter((f) => f.data.type === "message");
        const ids = frames.map((f) => f.data.id as string);
        const missing = [...rider.accepted.values()].filter((id) => !ids.includes(id));
        assert.deepEqual(
          missing,
          [],
          `a viewer of ${rider.stream} missed ${missing.length} messages`,
        );
        assert.equal(new Set(ids).size, ids.length, "a viewer got a message twice");
        for (const frame of frames) {
          assert.equal(frame.id, frame.data.id, "the id: line is the entry id");
        }
        if (viewer.stats.reconnects > 0) reconnected++;
      }
      assert.ok(reconnected > 0, "no viewer was on the killed instance");

      // Every accepted sample archived exactly once.
      for (const rider of riders) {
        const done = await post(api(`/api/workouts/${rider.workoutId}/complete`), rider.token, {});
        assert.ok(done, "complete answered");
        const rows = await sql<{ time: Date }[]>`
          select time from telemetry where workout_id = ${rider.workoutId} order by time
        `;
        const stored = rows.map((r) => r.time.getTime());
        assert.equal(new Set(stored).size, stored.length);
        const lost = [...rider.accepted.keys()].filter((t) => !stored.includes(t));
        assert.deepEqual(lost, [], `${rider.stream ?? "REST"} rider lost accepted samples`);
        assert.ok(rider.accepted.size >= perRider * 0.9, "most samples were accepted");
      }
    } finally {
      await Promise.all(viewers.map((v) => v.stop()));
      await sql.end();
      await cluster.stop();
    }
  },
});
