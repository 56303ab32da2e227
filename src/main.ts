import { generatePrivateKeyPem } from "./auth/tokens.ts";
import { ConfigError, loadConfig } from "./core/config.ts";
import { createSql } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { type Instance, startInstance } from "./instance.ts";
import type { WorkerCommand, WorkerReply } from "./instance_worker.ts";
import { createLogger, type Logger } from "./core/log.ts";
import { installProcessGuard } from "./process_guard.ts";

/** Starts the service: config, migrations, INSTANCES instances on one port, graceful shutdown. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(Deno.env.toObject());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      Deno.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // A dead database or Redis socket must not end the process; a bug still does (see the module).
  installProcessGuard(log);

  let privateKeyPem = config.jwt.privateKeyPem;
  if (!privateKeyPem) {
    log.warn(
      "JWT_PRIVATE_KEY is not set: using a throwaway key, so sign-ins end when the process " +
        "restarts; run `deno task keygen` and set it",
    );
    privateKeyPem = await generatePrivateKeyPem();
  }

  if (config.migrateOnStart) {
    const sql = createSql(config.databaseUrl, { max: 2 }); // the lock holds one
    try {
      const result = await migrate(sql, { log });
      log.info("migrations done", { applied: result.applied.length });
    } catch (err) {
      log.error("migrations failed", { err: err instanceof Error ? err.message : String(err) });
      await sql.end({ timeout: 1 });
      Deno.exit(1);
    }
    await sql.end({ timeout: 5 });
  }

  const several = config.instances > 1;
  const instances: Instance[] = [];
  try {
    instances.push(
      await startInstance(config, {
        log,
        privateKeyPem,
        reusePort: several,
        name: several ? "1" : undefined,
      }),
    );
    for (let i = 2; i <= config.instances; i++) {
      instances.push(await startWorker(String(i), privateKeyPem, log));
    }
  } catch (err) {
    log.error("starting the service failed", {
      err: err instanceof Error ? err.message : String(err),
    });
    await Promise.allSettled(instances.map((instance) => instance.stop()));
    Deno.exit(1);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    const forced = setTimeout(() => {
      log.warn("shutdown timed out; exiting");
      Deno.exit(1);
    }, config.shutdownTimeoutMs);
    await Promise.all(instances.map((instance) => instance.stop()));
    clearTimeout(forced);
    log.info("stopped");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
}

/** Starts one more instance in a worker thread; it shares the port (SO_REUSEPORT). */
function startWorker(name: string, privateKeyPem: string, log: Logger): Promise<Instance> {
  const worker = new Worker(new URL("./instance_worker.ts", import.meta.url), { type: "module" });
  const send = (command: WorkerCommand) => worker.postMessage(command);
  let stopped: (() => void) | undefined;
  return new Promise((resolve, reject) => {
    worker.onerror = (event) => {
      event.preventDefault();
      log.error("instance failed", { instance: name, err: event.message });
      reject(new Error(`Instance ${name} failed: ${event.message}`));
    };
    worker.onmessage = ({ data: reply }: MessageEvent<WorkerReply>) => {
      if (reply.type === "started") {
        resolve({
          stop: () =>
            new Promise<void>((done) => {
              stopped = done;
              send({ type: "stop" });
            }),
        });
      } else if (reply.type === "failed") {
        reject(new Error(`Instance ${name} did not start: ${reply.error}`));
      } else {
        stopped?.();
      }
    };
    send({ type: "start", privateKeyPem, name });
  });
}

if (import.meta.main) await main();
