/**
 * Upstash-compatible REST bridge in front of a real Redis (a dev/test tool, never imported by src/).
 *
 * RESP2 goes through scripts/resp_connection.ts: replies stay raw bytes, commands are pipelined
 * FIFO on one shared connection (one write per turn of the event loop), a command fails at once
 * while Redis is down, and the shared connection reconnects by itself.
 *
 * Run: deno run --allow-net --allow-env scripts/redis_rest_bridge.ts
 * @module
 */

import { Buffer } from "node:buffer";
import { safeEqual } from "../src/core/secrets.ts";
import { type Reply, ReplyError, RespConnection } from "./resp_connection.ts";

/** Options of {@linkcode startBridge}. */
export interface BridgeOptions {
  /** TCP port to listen on; 0 picks a free one. Default 58079. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  hostname?: string;
  /** Redis to talk to, e.g. `redis://127.0.0.1:56379`. */
  redisUrl: string;
  /** Bearer token that every command request must carry. */
  token: string;
}

/** A running bridge. */
export interface Bridge {
  /** The port actually listened on. */
  port: number;
  /** Base URL to hand to `new Redis({ url, token })`. */
  url: string;
  /** Stops accepting requests, fails blocked commands, closes every Redis connection. */
  shutdown(): Promise<void>;
}

type Arg = string;
type Command = Arg[];
type Outcome = { result: unknown } | { error: string };
type Kind = "normal" | "blocking" | "refused";

const UNAUTHORIZED = "WRONGPASS invalid or missing auth token";
const IDLE_DEDICATED_MAX = 4;
const HEALTH_TIMEOUT_MS = 1000;
const SHARED_COMMAND_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 1000;

/** Commands that would change the state of a shared connection or never answer like a command. */
const REFUSED = new Set([
  "subscribe",
  "psubscribe",
  "ssubscribe",
  "unsubscribe",
  "punsubscribe",
  "sunsubscribe",
  "monitor",
  "sync",
  "psync",
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  "select",
  "quit",
  "reset",
  "hello",
  "auth",
]);

/** Commands that may block the connection they run on. */
const BLOCKING = new Set([
  "blpop",
  "brpop",
  "brpoplpush",
  "blmove",
  "blmpop",
  "bzpopmin",
  "bzpopmax",
  "bzmpop",
  "wait",
  "waitaof",
]);

/** Thrown for a request that cannot be served; carries its HTTP status. */
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Starts a bridge; resolves once it listens (Redis may still be down: it reconnects by itself). */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const hostname = options.hostname ?? "127.0.0.1";
  const token = options.token;
  const state = createRedisState(options.redisUrl);
  let syncToken = 0;

  const server = Deno.serve(
    { port: options.port ?? 58079, hostname, onListen: () => {} },
    async (req) => {
      const headers = new Headers({
        "content-type": "application/json",
        "upstash-sync-token": String(++syncToken),
      });
      try {
        const { status, body } = await route(req, state, token);
        return new Response(JSON.stringify(body), { status, headers });
      } catch (err) {
        const status = err instanceof HttpError ? err.status : 500;
        const message = err instanceof Error ? err.message : String(err);
        return new Response(JSON.stringify({ error: message }), { status, headers });
      }
    },
  );
  // Give Redis a moment so that the first requests do not race the initial connect.
  await withTimeout(state.firstReady, HEALTH_TIMEOUT_MS).catch(() => {});

  const port = server.addr.port;
  const urlHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${urlHost}:${port}`,
    shutdown() {
      closing ??= (async () => {
        state.closing = true;
        // Blocked commands would keep their requests (and so server.shutdown) waiting forever.
        for (const conn of [...state.dedicated]) conn.close("the bridge is shutting down");
        state.dedicated.clear();
        await server.shutdown();
        await server.finished;
        state.cancelFirstReady();
        clearTimeout(state.retryTimer);
        state.shared?.close("the bridge is shutting down");
      })();
      return closing;
    },
  };
}

interface RedisState {
  url: string;
  /** The connection normal commands share; null while (re)connecting. */
  shared: RespConnection | null;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  lastError: string;
  closing: boolean;
  firstReady: Promise<void>;
  cancelFirstReady(): void;
  /** Every dedicated connection, idle or busy. */
  dedicated: Set<RespConnection>;
  idle: RespConnection[];
}

function createRedisState(url: string): RedisState {
  let markReady: () => void = () => {};
  const firstReady = new Promise<void>((resolve) => (markReady = resolve));
  const state: RedisState = {
    url,
    shared: null,
    retryTimer: undefined,
    lastError: "not connected yet",
    closing: false,
    firstReady,
    cancelFirstReady: () => markReady(),
    dedicated: new Set(),
    idle: [],
  };
  // Reconnects after 50, 100, … up to 500 ms between attempts, for as long as the bridge runs.
  const connectShared = (attempt: number) => {
    RespConnection.connect(url, {
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      commandTimeoutMs: SHARED_COMMAND_TIMEOUT_MS,
    }).then(
      (conn) => {
        if (state.closing) return conn.close("the bridge is shutting down");
        state.shared = conn;
        state.lastError = "";
        conn.onClose = (reason) => {
          state.shared = null;
          state.lastError = reason;
          if (!state.closing) connectShared(1);
        };
        markReady();
      },
      (err: Error) => {
        state.lastError = err.message;
        if (state.closing) return;
        state.retryTimer = setTimeout(
          () => connectShared(attempt + 1),
          Math.min(50 * attempt, 500),
        );
      },
    );
  };
  connectShared(1);
  return state;
}

async function route(
  req: Request,
  state: RedisState,
  token: string,
): Promise<{ status: number; body: unknown }> {
  const url = new URL(req.url);
  const path = url.pathname.replace(/\/+$/, "") || "/";
  if (path === "/health" && req.method === "GET") return await health(state);
  if (!authorized(req, url, token)) return { status: 401, body: { error: UNAUTHORIZED } };
  const base64 = (req.headers.get("upstash-encoding") ?? "").toLowerCase() === "base64";

  if (req.method === "POST" && path === "/pipeline") {
    const commands = parseCommands(await req.json().catch(badJson));
    return { status: 200, body: await runPipeline(state, commands, base64, () => req.signal) };
  }
  if (req.method === "POST" && path === "/multi-exec") {
    const commands = parseCommands(await req.json().catch(badJson));
    return { status: 200, body: await runTransaction(state, commands, base64) };
  }
  let command: Command;
  if (req.method === "POST" && path === "/") {
    command = parseCommand(await req.json().catch(badJson));
  } else if (req.method === "POST" || req.method === "GET") {
    // Path form: /set/key/value, the request body (if any) being one more argument.
    command = path.slice(1).split("/").map(decodeURIComponent);
    const body = req.method === "POST" ? await req.text() : "";
    if (body !== "") command.push(body);
  } else {
    throw new HttpError(405, "ERR method not allowed");
  }
  const outcome = (await runPipeline(state, [command], base64, () => req.signal))[0];
  return { status: "error" in outcome ? 400 : 200, body: outcome };
}

async function health(state: RedisState): Promise<{ status: number; body: unknown }> {
  try {
    await withTimeout(sendShared(state, ["PING"]), HEALTH_TIMEOUT_MS);
    return { status: 200, body: { status: "ok" } };
  } catch (err) {
    const error = unavailable(state, err).message;
    return { status: 503, body: { status: "unavailable", error } };
  }
}

function authorized(req: Request, url: URL, token: string): boolean {
  const header = req.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  const given = match?.[1] ?? url.searchParams.get("_token");
  return given != null && safeEqual(given, token);
}

function badJson(): never {
  throw new HttpError(400, "ERR failed to parse the request body as JSON");
}

function parseCommands(body: unknown): Command[] {
  if (!Array.isArray(body) || body.length === 0) {
    throw new HttpError(400, "ERR expected a non-empty JSON array of commands");
  }
  return body.map(parseCommand);
}

function parseCommand(raw: unknown): Command {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new HttpError(400, "ERR expected a command as a non-empty JSON array");
  }
  return raw.map((arg, i) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number" || typeof arg === "boolean") return String(arg);
    throw new HttpError(400, `ERR argument ${i} of the command must be a string or a number`);
  });
}

function classify(command: Command): Kind {
  const name = command[0].toLowerCase();
  if (REFUSED.has(name) || (name === "client" && command[1]?.toLowerCase() === "reply")) {
    return "refused";
  }
  if (BLOCKING.has(name)) return "blocking";
  if (name === "xread" || name === "xreadgroup") {
    return command.some((arg) => arg.toLowerCase() === "block") ? "blocking" : "normal";
  }
  return "normal";
}

function refusal(command: Command): string {
  return `ERR command ${command[0].toUpperCase()} is not supported by the REST bridge`;
}

/** Sends one command on the shared connection; fails at once while it is down. */
function sendShared(state: RedisState, command: Command): Promise<Reply> {
  if (state.shared === null) return Promise.reject(new Error(state.lastError));
  return state.shared.send(command);
}

function isReplyError(err: unknown): err is ReplyError {
  return err instanceof ReplyError;
}

function unavailable(state: RedisState, err: unknown): HttpError {
  const detail = state.lastError || (err instanceof Error ? err.message : String(err));
  return new HttpError(503, `Redis is unavailable: ${detail}`);
}

/**
 * Runs commands in order: runs of normal commands go pipelined on the shared connection, each
 * blocking command on a dedicated one, so a blocked command never delays other requests.
 */
async function runPipeline(
  state: RedisState,
  commands: Command[],
  base64: boolean,
  signal: () => AbortSignal,
): Promise<Outcome[]> {
  const kinds = commands.map(classify);
  const outcomes: Outcome[] = [];
  let i = 0;
  while (i < commands.length) {
    if (kinds[i] === "refused") {
      outcomes.push({ error: refusal(commands[i]) });
      i++;
      continue;
    }
    if (kinds[i] === "blocking") {
      outcomes.push(await runBlocking(state, commands[i], base64, signal));
      i++;
      continue;
    }
    let end = i;
    while (end < commands.length && kinds[end] === "normal") end++;
    const settled = await Promise.allSettled(
      commands.slice(i, end).map((command) => sendShared(state, command)),
    );
    for (const s of settled) {
      if (s.status === "fulfilled") outcomes.push({ result: encode(s.value, base64) });
      else if (isReplyError(s.reason)) outcomes.push({ error: s.reason.message });
      else throw unavailable(state, s.reason);
    }
    i = end;
  }
  return outcomes;
}

async function runBlocking(
  state: RedisState,
  command: Command,
  base64: boolean,
  signal: () => AbortSignal,
): Promise<Outcome> {
  const conn = await acquire(state);
  // A client that gives up must not leave a connection blocked in Redis.
  // (Read lazily: touching request.signal makes Deno print a one-time notice.)
  const abortSignal = signal();
  const onAbort = () => conn.close("the client went away");
  abortSignal.addEventListener("abort", onAbort, { once: true });
  try {
    const reply = await conn.send(command);
    release(state, conn);
    return { result: encode(reply, base64) };
  } catch (err) {
    if (isReplyError(err)) {
      release(state, conn);
      return { error: err.message };
    }
    discard(state, conn);
    throw unavailable(state, err);
  } finally {
    abortSignal.removeEventListener("abort", onAbort);
  }
}

/** Runs commands between MULTI and EXEC on a dedicated connection. */
async function runTransaction(
  state: RedisState,
  commands: Command[],
  base64: boolean,
): Promise<Outcome[]> {
  const refused = commands.find((command) => classify(command) === "refused");
  if (refused) throw new HttpError(400, refusal(refused));
  const conn = await acquire(state);
  const sent = [["MULTI"], ...commands, ["EXEC"]].map((command) => conn.send(command));
  const settled = await Promise.allSettled(sent);
  const failure = settled.find((s) => s.status === "rejected" && !isReplyError(s.reason));
  if (failure) {
    discard(state, conn);
    throw unavailable(state, (failure as PromiseRejectedResult).reason);
  }
  release(state, conn);
  const exec = settled[settled.length - 1];
  if (exec.status === "rejected") {
    // EXECABORT: a command was refused while queueing; say which one.
    const queued = settled.slice(1, -1).find((s) => s.status === "rejected");
    const message = (exec.reason as Error).message.replace(/\.$/, "");
    const cause = queued ? ` (${(queued as PromiseRejectedResult).reason.message.trim()})` : "";
    throw new HttpError(400, `${message}${cause}`);
  }
  const results = exec.value;
  if (!Array.isArray(results)) {
    throw new HttpError(400, "ERR transaction aborted");
  }
  return results.map((r) =>
    r instanceof Error ? { error: r.message } : { result: encode(r, base64) }
  );
}

async function acquire(state: RedisState): Promise<RespConnection> {
  if (state.closing) throw new HttpError(503, "Redis is unavailable: the bridge is shutting down");
  while (state.idle.length > 0) {
    const conn = state.idle.pop()!;
    if (conn.status === "ready") return conn;
    discard(state, conn);
  }
  let conn: RespConnection;
  try {
    conn = await RespConnection.connect(state.url, { connectTimeoutMs: CONNECT_TIMEOUT_MS });
  } catch (err) {
    throw unavailable(state, err);
  }
  state.dedicated.add(conn);
  return conn;
}

function release(state: RedisState, conn: RespConnection): void {
  if (!state.closing && conn.status === "ready" && state.idle.length < IDLE_DEDICATED_MAX) {
    state.idle.push(conn);
  } else {
    discard(state, conn);
  }
}

function discard(state: RedisState, conn: RespConnection): void {
  state.dedicated.delete(conn);
  const at = state.idle.indexOf(conn);
  if (at >= 0) state.idle.splice(at, 1);
  conn.close();
}

const utf8 = new TextDecoder();

/** Turns a RESP2 reply into JSON: strings (base64 when asked), numbers, null, nested arrays. */
function encode(reply: Reply, base64: boolean): unknown {
  if (!base64 && Array.isArray(reply) && reply.length > 1) {
    const leaves: Uint8Array[] = [];
    collectStrings(reply, leaves);
    // A few strings (a post's reply: two) decode one by one as cheaply.
    if (leaves.length < 16) return encodeEach(reply);
    const texts = decodeAll(leaves);
    let next = 0;
    const rebuild = (r: Reply): unknown =>
      Array.isArray(r)
        ? r.map(rebuild)
        : r instanceof Uint8Array
        ? texts[next++]
        : r instanceof Error
        ? r.message
        : r;
    return rebuild(reply);
  }
  if (reply === null || typeof reply === "number") return reply;
  if (Array.isArray(reply)) return base64 ? reply.map((r) => encode(r, base64)) : encodeEach(reply);
  if (reply instanceof Error) {
    return base64 ? Buffer.from(reply.message).toString("base64") : reply.message;
  }
  return base64
    ? Buffer.from(reply.buffer, reply.byteOffset, reply.length).toString("base64")
    : utf8.decode(reply);
}

/** `encode` of an array's elements without base64, each string decoded by itself. */
function encodeEach(reply: Reply[]): unknown[] {
  return reply.map((r) =>
    Array.isArray(r)
      ? encodeEach(r)
      : r instanceof Uint8Array
      ? utf8.decode(r)
      : r instanceof Error
      ? r.message
      : r
  );
}

function collectStrings(reply: Reply[], into: Uint8Array[]): void {
  for (const r of reply) {
    if (Array.isArray(r)) collectStrings(r, into);
    else if (r instanceof Uint8Array) into.push(r);
  }
}

/**
 * Decodes the strings of one reply. Those read from the same buffer, one after another, are
 * decoded as one span and sliced out of it when it is all one byte per character (ASCII: RESP's
 * framing between them is): one TextDecoder call per string was a third of the bridge's busy
 * time on a GET of 100 stream entries (700 strings).
 */
function decodeAll(leaves: Uint8Array[]): string[] {
  const texts = new Array<string>(leaves.length);
  let i = 0;
  while (i < leaves.length) {
    const buffer = leaves[i].buffer;
    const base = leaves[i].byteOffset;
    let end = base + leaves[i].length;
    let j = i + 1;
    while (j < leaves.length && leaves[j].buffer === buffer && leaves[j].byteOffset >= end) {
      end = leaves[j].byteOffset + leaves[j].length;
      j++;
    }
    const span = j - i > 1 ? utf8.decode(new Uint8Array(buffer, base, end - base)) : undefined;
    // As many characters as bytes: each byte is one character (no multi-byte sequence, which
    // never crosses the ASCII framing between two strings), so byte offsets are string offsets.
    if (span !== undefined && span.length === end - base) {
      for (let k = i; k < j; k++) {
        const at = leaves[k].byteOffset - base;
        texts[k] = span.slice(at, at + leaves[k].length);
      }
    } else {
      for (let k = i; k < j; k++) texts[k] = utf8.decode(leaves[k]);
    }
    i = j;
  }
  return texts;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

if (import.meta.main) {
  const port = Number(Deno.env.get("BRIDGE_PORT") ?? "58079");
  const hostname = Deno.env.get("BRIDGE_HOST") ?? "127.0.0.1";
  const redisUrl = Deno.env.get("BRIDGE_REDIS_URL") ?? "redis://127.0.0.1:56379";
  const token = Deno.env.get("BRIDGE_TOKEN") ?? "bpt-local-token";
  const bridge = await startBridge({ port, hostname, redisUrl, token });
  console.log(`bridge listening on ${bridge.url} -> ${redisUrl}`);
  const stop = async () => {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    await bridge.shutdown();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
