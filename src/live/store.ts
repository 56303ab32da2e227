import { Redis } from "@upstash/redis";
import { type LiveKeys, liveKeys } from "./keys.ts";
import {
  type CommandBatcher,
  commandBatcher,
  type RestTransport,
  restTransport,
} from "./transport.ts";
import { traced, tracing } from "../core/tracing.ts";

/** The live store: an Upstash REST client plus the project's key prefix. */
export type LiveStore = {
  redis: Redis;
  /** The same endpoint without JSON parsing of replies: values come back exactly as stored. */
  raw: Redis;
  /**
   * Raw pipelines over kept-alive connections for the hot path, sent at most once (see
   * transport.ts).
   */
  transport: RestTransport;
  /**
   * Reads (and only reads: they may be sent again) batched across requests into pipelines, over
   * their own kept-alive connections (`readTransport`, delivery at least once).
   */
  reads: CommandBatcher;
  /** The transport under `reads`. */
  readTransport: RestTransport;
  /** Every key name, under the configured prefix (see keys.ts); bare names are never used. */
  keys: LiveKeys;
  /** True when Redis answers PING within the timeout. */
  ping: (timeoutMs?: number) => Promise<boolean>;
  /** Closes the kept-alive connections of `transport` and `readTransport`. */
  close: () => void;
};

/** Creates the live store from the REST URL and token. */
export function createLiveStore(
  options: { url: string; token: string; prefix: string; retries?: number },
): LiveStore {
  const redis = new Redis({
    url: options.url,
    token: options.token,
    retry: { retries: options.retries ?? 2, backoff: (n) => 50 * 2 ** n },
    enableTelemetry: false,
    // Every value is text written by this service: base64 replies only cost time both ways.
    responseEncoding: false,
  });
  const raw = new Redis({
    url: options.url,
    token: options.token,
    retry: { retries: options.retries ?? 2, backoff: (n) => 50 * 2 ** n },
    enableTelemetry: false,
    responseEncoding: false,
    automaticDeserialization: false,
  });
  const plain = restTransport({
    url: options.url,
    token: options.token,
    retries: options.retries ?? 2,
    backoff: (n) => 50 * 2 ** n,
    // Its callers write (a message POST, a sample batch): a request that may have run is never
    // sent again.
    delivery: "at-most-once",
  });
  const plainReads = restTransport({
    url: options.url,
    token: options.token,
    retries: options.retries ?? 2,
    backoff: (n) => 50 * 2 ** n,
    // A read changes nothing: one that may have run is sent again rather than failed.
    delivery: "at-least-once",
  });
  const transport = withSpans(plain);
  const readTransport = withSpans(plainReads);
  return {
    redis,
    raw,
    transport,
    reads: commandBatcher(readTransport),
    readTransport,
    close: () => {
      transport.close();
      readTransport.close();
    },
    keys: liveKeys(options.prefix),
    ping: (timeoutMs = 1000) => withTimeout(redis.ping(), timeoutMs).then((r) => r === "PONG"),
  };
}

/** With OTEL_DENO=true each pipeline is a span (fetch-based clients get one from the runtime). */
function withSpans(plain: RestTransport): RestTransport {
  if (!tracing) return plain;
  return {
    ...plain,
    send: (commands) =>
      traced("redis pipeline", {
        "db.system": "redis",
        "db.operation": commands[0]?.[0] ?? "",
        "redis.commands": commands.length,
      }, () => plain.send(commands)),
  };
}

/** Resolves like `promise`, or to `undefined` after `ms` milliseconds. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}
