import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { createHub } from "../streams/hub.ts";
import { sseSlots } from "../streams/sse_slots.ts";
import { streamStore } from "../streams/store.ts";
import { maxRideSpanMs } from "../workouts/sample_input.ts";
import type { LiveStore } from "./store.ts";
import { workoutLive } from "./workout_live.ts";

/**
 * The live-path services built on one live store: workout samples, legacy streams, SSE hub and
 * the SSE connection counter.
 */
export function liveServices(live: LiveStore, config: Config, log: Logger) {
  const ttlMs = config.liveTtlS * 1000;
  const streams = streamStore(live, { ttlMs });
  return {
    workoutLive: workoutLive(live, { ttlMs, maxSpanMs: maxRideSpanMs }),
    streams,
    sseSlots: sseSlots(live, { renewMs: config.sseHeartbeatS * 1000, log }),
    hub: createHub(live, streams, {
      pollMs: config.streamPollMs,
      heartbeatMs: config.sseHeartbeatS * 1000,
      log,
    }),
  };
}
