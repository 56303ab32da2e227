/**
 * An extra instance in a worker thread, for INSTANCES > 1: main.ts sends `start` (with the
 * signing key, so tokens from every instance verify everywhere) and, on shutdown, `stop`.
 */
import { loadConfig } from "./core/config.ts";
import { type Instance, startInstance } from "./instance.ts";
import { createLogger } from "./core/log.ts";
import { installProcessGuard } from "./process_guard.ts";

/** What main.ts sends a worker. */
export type WorkerCommand = { type: "start"; privateKeyPem: string; name: string } | {
  type: "stop";
};

/** What a worker answers. */
export type WorkerReply = { type: "started" } | { type: "failed"; error: string } | {
  type: "stopped";
};

const scope = globalThis as unknown as {
  onmessage: (event: MessageEvent<WorkerCommand>) => void;
  postMessage: (reply: WorkerReply) => void;
  close: () => void;
};

let instance: Instance | undefined;

scope.onmessage = async ({ data: command }) => {
  if (command.type === "start") {
    try {
      const config = loadConfig(Deno.env.toObject());
      const log = createLogger(config.logLevel);
      installProcessGuard(log);
      instance = await startInstance(config, {
        log,
        privateKeyPem: command.privateKeyPem,
        reusePort: true,
        name: command.name,
      });
      scope.postMessage({ type: "started" });
    } catch (err) {
      scope.postMessage({
        type: "failed",
        error: err instanceof Error ? err.message : String(err),
      });
    }
    return;
  }
  await instance?.stop();
  scope.postMessage({ type: "stopped" });
  scope.close();
};
