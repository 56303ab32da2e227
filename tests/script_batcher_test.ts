import assert from "node:assert/strict";
import { scriptBatcher } from "../src/live/script_batcher.ts";
import { createLiveStore } from "../src/live/store.ts";
import { testConfig } from "./support.ts";

const config = testConfig();

/** The live store on the test bridge: the batcher's pipeline client and an Upstash client. */
function liveStore() {
  return createLiveStore({
    url: config.redisRestUrl,
    token: config.redisRestToken,
    prefix: "bpt:test:",
    retries: 0,
  });
}

Deno.test("a script batcher answers every call with its own reply in fewer round trips", async () => {
  const { redis, pipeline, close } = liveStore();
  const echo = scriptBatcher<string>(pipeline, "return ARGV[1] .. ':' .. KEYS[1]");
  try {
    // Calls arriving one after another while earlier ones are in flight.
    const replies: Promise<string>[] = [];
    for (let i = 0; i < 200; i++) {
      replies.push(echo.exec([`bpt:test:k${i}`], [`v${i}`]));
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const answers = await Promise.all(replies);
    answers.forEach((answer, i) => assert.equal(answer, `v${i}:bpt:test:k${i}`));
    const { requests } = pipeline.stats();
    assert.ok(requests < 200 / 2, `200 calls took ${requests} REST requests`);

    // Redis forgot its scripts (restart, failover): the batcher loads the script again.
    await redis.scriptFlush();
    assert.equal(await echo.exec(["bpt:test:x"], ["again"]), "again:bpt:test:x");
  } finally {
    close();
  }
});

Deno.test("a script batcher overlaps at most maxInFlight round trips", async () => {
  const { redis, pipeline, close } = liveStore();
  let open = 0;
  let most = 0;
  const counted = {
    ...pipeline,
    send: async (commands: string[][]) => {
      most = Math.max(most, ++open);
      try {
        // A round trip slower than one turn of the loop, so that the next batch is ready while
        // this one is in flight on any machine (on a fast one they would never overlap).
        await new Promise((resolve) => setTimeout(resolve, 5));
        return await pipeline.send(commands);
      } finally {
        open--;
      }
    },
  };
  const echo = scriptBatcher<string>(counted, "return ARGV[1]", { maxInFlight: 2 });
  await redis.scriptLoad("return ARGV[1]");
  try {
    const replies: Promise<string>[] = [];
    for (let i = 0; i < 300; i++) {
      replies.push(echo.exec(["bpt:test:inflight"], [`v${i}`]));
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert.deepEqual(await Promise.all(replies), replies.map((_, i) => `v${i}`));
    assert.equal(most, 2);
  } finally {
    close();
  }
});
