import { createHash } from "node:crypto";
import { RedisReplyError } from "../core/errors.ts";
import type { RestPipeline } from "./rest_pipeline.ts";

/**
 * Runs calls of one Lua script as EVALSHA commands, batching calls that arrive while REST round
 * trips are under way into one pipeline request (@upstash/redis only merges calls made in the
 * same tick, and requests arriving on separate sockets never are). At low load a call goes out at once; under
 * load up to `maxInFlight` round trips overlap, each carrying what queued since the last one left
 * (one at a time left this thread idle while a batch travelled).
 */
export function scriptBatcher<T>(
  pipeline: RestPipeline,
  script: string,
  options: { maxBatch?: number; maxInFlight?: number } = {},
) {
  const sha = createHash("sha1").update(script).digest("hex");
  const maxBatch = options.maxBatch ?? 500;
  const maxInFlight = options.maxInFlight ?? 2;
  type Call = {
    keys: string[];
    args: string[];
    resolve: (v: T) => void;
    reject: (e: unknown) => void;
  };
  let queue: Call[] = [];
  let inFlight = 0; // round trips under way
  let planned = false; // a flush is due at the end of this tick

  async function send(batch: Call[], retried = false): Promise<void> {
    let replies: { result?: unknown; error?: string }[];
    try {
      replies = await pipeline.send(
        batch.map((call) => ["EVALSHA", sha, String(call.keys.length), ...call.keys, ...call.args]),
      );
    } catch (err) {
      for (const call of batch) call.reject(err);
      return;
    }
    if (!retried && replies.some((r) => r.error?.startsWith("NOSCRIPT"))) {
      // Redis lost its script cache (restart, failover): load it and run the batch again.
      try {
        const [loaded] = await pipeline.send([["SCRIPT", "LOAD", script]]);
        if (loaded.error) throw new RedisReplyError(loaded.error);
      } catch (err) {
        for (const call of batch) call.reject(err);
        return;
      }
      return await send(batch, true);
    }
    replies.forEach((reply, i) => {
      if (reply.error) batch[i].reject(new RedisReplyError(reply.error));
      else batch[i].resolve(reply.result as T);
    });
  }

  /** Sends what is queued, while fewer than `maxInFlight` round trips are under way. */
  function flush(): void {
    planned = false;
    while (queue.length > 0 && inFlight < maxInFlight) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      inFlight++;
      void send(batch).finally(() => {
        inFlight--;
        flush();
      });
    }
  }

  return {
    /** Runs the script with these keys and arguments; resolves with its reply. */
    exec(keys: string[], args: string[]): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ keys, args, resolve, reject });
        // Let calls from the same tick join, then start a round trip if one may start.
        if (!planned && inFlight < maxInFlight) {
          planned = true;
          queueMicrotask(flush);
        }
      });
    },
  };
}
