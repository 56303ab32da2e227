import { createHash } from "node:crypto";
import { RedisReplyError } from "../core/errors.ts";

/**
 * The hot path's Redis transport: Upstash REST pipeline requests (`POST /pipeline`) over
 * kept-alive HTTP/1.1 connections, and {@linkcode scriptBatcher}, which runs the calls of one Lua
 * script as EVALSHA commands batched across requests.
 *
 * The hot path of a legacy message POST sends one pipeline per batch of script calls. Through
 * `fetch` each round trip cost about 250–300 µs of CPU in this process (Request, Response, header
 * and body-stream objects); written straight to a kept-alive `Deno.connect`/`Deno.connectTls`
 * socket it costs about 70 µs. Everything else still goes through @upstash/redis.
 *
 * Delivery (see {@linkcode Delivery}): by default a request is sent at most once once any byte
 * of it went out, so a Lua script that writes never runs twice for one call.
 * @module
 */

/** One command's outcome, as the REST API answers it. */
export type PipelineReply = { result?: unknown; error?: string };

/**
 * What the transport may send again after a network failure (never after an HTTP answer, whatever
 * its status: an answer is final).
 *
 * - `"at-most-once"` (the default, for writes): a request is sent again (after `backoff`, at most
 *   `retries` times) only when none of its bytes were written: the connection could not be opened
 *   (refused, unreachable, DNS) or its first write failed. A request that was written, even in
 *   part, and then got no whole answer within `timeoutMs`, or lost its connection (closed, reset)
 *   before a whole answer, is never sent again: Redis may have run it. It fails with a
 *   {@linkcode RestError} of status 0 (a 503 for the caller). A kept-alive connection that the
 *   server closed while it was idle is noticed before it is used (a read is kept pending on idle
 *   connections), so an idle timeout of the server costs no failure (unless its close crosses a
 *   request on the wire: that request lost its connection and fails).
 * - `"at-least-once"` (for reads and idempotent commands only): every network failure, timeouts
 *   and lost connections included, is sent again, at most `retries` times.
 */
export type Delivery = "at-most-once" | "at-least-once";

/** Options of {@linkcode restTransport}. */
export type RestTransportOptions = {
  /** The REST endpoint, e.g. `https://eu1-example.upstash.io` or `http://127.0.0.1:58079`. */
  url: string;
  token: string;
  /** Sends again after a network failure, at most this many times, as `delivery` allows. */
  retries: number;
  /** Wait before retry `n` (0-based), in ms. */
  backoff: (n: number) => number;
  /** What may be sent again; default `"at-most-once"` (see {@linkcode Delivery}). */
  delivery?: Delivery;
  /** A request without a whole answer after this long fails. Default 10 s. */
  timeoutMs?: number;
  /** Idle connections kept for the next requests. Default 4. */
  maxIdle?: number;
  /** Extra trusted certificates (PEM) for an https URL, beside the system's (tests use one). */
  caCerts?: string[];
};

/** A failure after some bytes of the request were written: it may have run. */
class SentError extends Error {}

/**
 * Thrown when the REST API answers with an error status, or (status 0) cannot be reached or gave
 * no whole answer. core/errors.ts maps it by this name.
 */
export class RestError extends Error {
  override name = "RestError";
  constructor(readonly status: number, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF = 0x0d;

/** A pipeline client: `send` posts commands and resolves with one reply per command, in order. */
export function restTransport(options: RestTransportOptions) {
  const url = new URL(options.url);
  const tls = url.protocol === "https:";
  const port = Number(url.port || (tls ? 443 : 80));
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const path = `${url.pathname.replace(/\/+$/, "")}/pipeline`;
  const head = `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    `Authorization: Bearer ${options.token}\r\nContent-Type: application/json\r\n`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxIdle = options.maxIdle ?? 4;
  const delivery = options.delivery ?? "at-most-once";
  const idle: HttpConnection[] = [];
  const open = new Set<HttpConnection>();
  let requests = 0;
  let closed = false;

  async function connect(): Promise<HttpConnection> {
    const conn = tls
      ? await Deno.connectTls({ hostname, port, caCerts: options.caCerts })
      : await Deno.connect({ hostname, port });
    if (!tls) (conn as Deno.TcpConn).setNoDelay(true);
    const connection = new HttpConnection(conn);
    open.add(connection);
    return connection;
  }

  /** One exchange on an idle connection (one the server has not closed) or a new one. */
  async function exchange(request: Uint8Array): Promise<HttpResponse> {
    const conn = idle.pop() ?? await connect();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const response = await Promise.race([
        conn.exchange(request, () => requests++),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new SentError(`No answer from Redis REST within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      if (response.keepAlive && !closed && idle.length < maxIdle) {
        idle.push(conn);
        // A server closing it while idle (its idle timeout) takes it out of the pool, so that no
        // request is written to a connection already gone.
        conn.watch(() => {
          const at = idle.indexOf(conn);
          if (at >= 0) idle.splice(at, 1);
          drop(conn);
        });
      } else drop(conn);
      return response;
    } catch (err) {
      drop(conn);
      // Once a byte went out the server may have read the request: that failure is final.
      if (conn.written > 0 && !(err instanceof SentError)) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new SentError(reason, { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  function drop(conn: HttpConnection): void {
    open.delete(conn);
    conn.close();
  }

  return {
    /**
     * Posts the commands as one pipeline. Network failures are sent again only as the delivery
     * policy allows (see {@linkcode Delivery}); an answer, even an error status, never is.
     */
    async send(commands: string[][]): Promise<PipelineReply[]> {
      if (closed) throw new Error("The Redis REST client is closed");
      const body = encoder.encode(JSON.stringify(commands));
      const headBytes = encoder.encode(`${head}Content-Length: ${body.length}\r\n\r\n`);
      const request = new Uint8Array(headBytes.length + body.length);
      request.set(headBytes);
      request.set(body, headBytes.length);
      for (let n = 0;; n++) {
        let response: HttpResponse;
        try {
          response = await exchange(request);
        } catch (err) {
          const sent = err instanceof SentError;
          if (n >= options.retries || closed || (sent && delivery === "at-most-once")) {
            const reason = err instanceof Error ? err.message : String(err);
            const once = sent && delivery === "at-most-once"
              ? " (the request was sent and is not sent again: it may have run)"
              : "";
            throw new RestError(0, `Redis REST cannot be reached: ${reason}${once}`, {
              cause: err,
            });
          }
          await new Promise((resolve) => setTimeout(resolve, options.backoff(n)));
          continue;
        }
        const parsed = parseJson(response.body);
        if (response.status < 200 || response.status > 299) {
          const message = (parsed as { error?: unknown } | undefined)?.error;
          throw new RestError(
            response.status,
            typeof message === "string" ? message : `Redis REST answered ${response.status}`,
          );
        }
        if (!Array.isArray(parsed) || parsed.length !== commands.length) {
          throw new Error("Redis REST answered a pipeline with something else than its replies");
        }
        return parsed as PipelineReply[];
      }
    },

    /** HTTP requests written (retries included) and connections open: for tests and benchmarks. */
    stats: () => ({ requests, connections: open.size }),

    /** Closes every connection; later sends fail. */
    close(): void {
      closed = true;
      for (const conn of open) conn.close();
      open.clear();
      idle.length = 0;
    },
  };
}

/** The client type {@linkcode restTransport} returns. */
export type RestTransport = ReturnType<typeof restTransport>;

/**
 * Sends groups of commands (one group per caller) as REST pipelines, batching the groups that
 * arrive while round trips are under way into one pipeline request (@upstash/redis only merges
 * calls made in the same tick, and requests arriving on separate sockets never are). At low load
 * a group goes out at once; under load up to `maxInFlight` round trips overlap, each carrying
 * what queued since the last one left (one at a time left this thread idle while a batch
 * travelled), at most `maxBatch` commands each (a bigger group goes alone).
 *
 * Each group is sent as the transport's delivery policy allows: with `"at-most-once"` a group
 * whose batch was sent but got no answer fails, and is not sent again.
 */
export function commandBatcher(
  transport: Pick<RestTransport, "send">,
  options: { maxBatch?: number; maxInFlight?: number } = {},
) {
  const maxBatch = options.maxBatch ?? 500;
  const maxInFlight = options.maxInFlight ?? 2;
  let queue: BatchedGroup[] = [];
  let inFlight = 0; // round trips under way
  let planned = false; // a flush is due at the end of this tick

  async function send(batch: BatchedGroup[]): Promise<void> {
    let commands = batch[0].commands;
    if (batch.length > 1) {
      commands = [];
      for (const group of batch) for (const command of group.commands) commands.push(command);
    }
    let replies: PipelineReply[];
    try {
      replies = await transport.send(commands);
    } catch (err) {
      for (const group of batch) group.fail(err);
      return;
    }
    let at = 0;
    for (const group of batch) {
      group.settle(replies, at);
      at += group.commands.length;
    }
  }

  /** Sends what is queued, while fewer than `maxInFlight` round trips are under way. */
  function flush(): void {
    planned = false;
    while (queue.length > 0 && inFlight < maxInFlight) {
      let n = 1;
      let commands = queue[0].commands.length;
      while (n < queue.length && commands + queue[n].commands.length <= maxBatch) {
        commands += queue[n].commands.length;
        n++;
      }
      const batch = n === queue.length ? queue : queue.slice(0, n);
      queue = n === queue.length ? [] : queue.slice(n);
      inFlight++;
      void send(batch).finally(() => {
        inFlight--;
        flush();
      });
    }
  }

  function enqueue(group: BatchedGroup): void {
    queue.push(group);
    // Let calls from the same tick join, then start a round trip if one may start.
    if (!planned && inFlight < maxInFlight) {
      planned = true;
      queueMicrotask(flush);
    }
  }

  return {
    /** Sends these commands (in one pipeline, maybe with others'); resolves with their replies. */
    send(commands: string[][]): Promise<PipelineReply[]> {
      return new Promise<PipelineReply[]>((resolve, reject) => {
        enqueue({
          commands,
          settle: (replies, at) =>
            resolve(
              at === 0 && replies.length === commands.length
                ? replies
                : replies.slice(at, at + commands.length),
            ),
          fail: reject,
        });
      });
    },

    /** Queues a group that settles itself (no promise of its own: the script batcher's calls). */
    enqueue,
  };
}

/** A caller's commands in a {@linkcode commandBatcher}, told its replies or the failure. */
export type BatchedGroup = {
  commands: string[][];
  /** The replies of the whole batch; this group's start at `at`. */
  settle: (replies: PipelineReply[], at: number) => void;
  fail: (err: unknown) => void;
};

/** The batcher type {@linkcode commandBatcher} returns. */
export type CommandBatcher = ReturnType<typeof commandBatcher>;

/**
 * Runs calls of one Lua script as EVALSHA commands through a {@linkcode commandBatcher}: calls
 * that arrive while REST round trips are under way share one pipeline request.
 *
 * Each call runs as the transport's delivery policy allows: with `"at-most-once"` a call whose
 * batch was sent but got no answer fails, and is not run again. Only calls Redis answered
 * NOSCRIPT (it lost its script cache: they did not run) are sent again, once, after SCRIPT LOAD
 * (one load for every call that met NOSCRIPT meanwhile).
 */
export function scriptBatcher<T>(
  transport: Pick<RestTransport, "send">,
  script: string,
  options: { maxBatch?: number; maxInFlight?: number } = {},
) {
  const sha = createHash("sha1").update(script).digest("hex");
  const batcher = commandBatcher(transport, options);
  let loading: Promise<void> | undefined;

  async function load(): Promise<void> {
    const [loaded] = await transport.send([["SCRIPT", "LOAD", script]]);
    if (loaded.error) throw new RedisReplyError(loaded.error);
  }

  return {
    /** Runs the script with these keys and arguments; resolves with its reply. */
    exec(keys: string[], args: string[]): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const command = ["EVALSHA", sha, String(keys.length), ...keys, ...args];
        const run = (retried: boolean) =>
          batcher.enqueue({
            commands: [command],
            settle(replies, at) {
              const reply = replies[at];
              if (!retried && reply.error?.startsWith("NOSCRIPT")) {
                // Redis lost its script cache (restart, failover): load it, run this call again.
                loading ??= load().finally(() => loading = undefined);
                loading.then(() => run(true), reject);
              } else if (reply.error) reject(new RedisReplyError(reply.error));
              else resolve(reply.result as T);
            },
            fail: reject,
          });
        run(false);
      });
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`Redis REST answered something else than JSON: ${text.slice(0, 200)}`);
  }
}

type HttpResponse = { status: number; body: string; keepAlive: boolean };

/** One HTTP/1.1 connection: one request at a time, answers with a length or in chunks. */
class HttpConnection {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(16 * 1024);
  /** Bytes of #buffer read but not yet used. */
  #start = 0;
  #end = 0;
  #closed = false;
  /** The read kept pending while the connection is idle (see `watch`), not yet consumed. */
  #pending: Promise<number | null> | undefined;
  #idle = false;
  /** Bytes of the current request written so far. */
  written = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /**
   * Keeps a read pending while the connection is idle: if it ends (the server closed it, or sent
   * something unasked) before the next exchange, `gone` runs. The next exchange consumes the read.
   */
  watch(gone: () => void): void {
    this.#idle = true;
    if (this.#start !== this.#end) return gone(); // bytes after the answer: not HTTP we know
    this.#start = this.#end = 0;
    const pending = this.#conn.read(this.#buffer.subarray(this.#end));
    this.#pending = pending;
    const ended = () => {
      if (this.#idle && this.#pending === pending) gone();
    };
    pending.then(ended, ended);
  }

  /** Writes the request (`sending` runs once its first bytes are out) and reads the answer. */
  async exchange(request: Uint8Array, sending: () => void): Promise<HttpResponse> {
    this.#idle = false;
    this.written = 0;
    while (this.written < request.length) {
      const n = await this.#conn.write(request.subarray(this.written));
      if (this.written === 0 && n > 0) sending();
      this.written += n;
    }
    const headerEnd = await this.#until(() => this.#find("\r\n\r\n"));
    const headerText = decoder.decode(this.#buffer.subarray(this.#start, headerEnd));
    this.#start = headerEnd + 4;
    const [statusLine, ...lines] = headerText.split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
    if (!Number.isInteger(status)) throw new Error(`Bad HTTP status line: ${statusLine}`);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    let keepAlive = !/\bclose\b/i.test(headers.get("connection") ?? "") &&
      statusLine.startsWith("HTTP/1.1");
    let body: Uint8Array;
    const length = headers.get("content-length");
    if (/\bchunked\b/i.test(headers.get("transfer-encoding") ?? "")) {
      body = await this.#chunked();
    } else if (length !== undefined) {
      // Decoded below, before the buffer is read into again: no copy of a large reply.
      body = await this.#take(Number(length), false);
    } else {
      body = await this.#rest();
      keepAlive = false;
    }
    return { status, body: decoder.decode(body), keepAlive };
  }

  /** Index of `marker` in the unread bytes, or -1. */
  #find(marker: "\r\n\r\n" | "\r\n"): number {
    // Only the unread bytes: an indexOf on the whole buffer ran through its stale tail (megabytes
    // once a large reply grew it) whenever no CR was read yet, 5% of a GET's CPU.
    const buf = this.#buffer.subarray(0, this.#end);
    for (
      let i = buf.indexOf(CRLF, this.#start);
      i >= 0 && i < this.#end;
      i = buf.indexOf(CRLF, i + 1)
    ) {
      if (i + marker.length > this.#end) return -1;
      if (
        marker === "\r\n"
          ? buf[i + 1] === 0x0a
          : buf[i + 1] === 0x0a && buf[i + 2] === CRLF && buf[i + 3] === 0x0a
      ) {
        return i;
      }
    }
    return -1;
  }

  /** Reads until `found` answers an index. */
  async #until(found: () => number): Promise<number> {
    for (let at = found();; at = found()) {
      if (at >= 0) return at;
      if (!(await this.#fill())) throw new Error("Redis REST closed the connection mid-answer");
    }
  }

  /** Reads more bytes into the buffer (compacting or growing it); false at end of stream. */
  async #fill(): Promise<boolean> {
    const pending = this.#pending;
    if (pending) {
      // The read started while idle, into the buffer from #end = 0 (see `watch`).
      this.#pending = undefined;
      const n = await pending;
      if (n === null) return false;
      this.#end += n;
      return true;
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buffer.length) {
      const unread = this.#end - this.#start;
      if (unread * 2 <= this.#buffer.length) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      } else {
        const bigger = new Uint8Array(this.#buffer.length * 2);
        bigger.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = bigger;
      }
      this.#start = 0;
      this.#end = unread;
    }
    const n = await this.#conn.read(this.#buffer.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** The next `length` bytes: a copy, or (`copy` false) a view valid until the next read. */
  async #take(length: number, copy = true): Promise<Uint8Array> {
    while (this.#end - this.#start < length) {
      if (!(await this.#fill())) throw new Error("Redis REST closed the connection mid-answer");
    }
    const bytes = copy
      ? this.#buffer.slice(this.#start, this.#start + length)
      : this.#buffer.subarray(this.#start, this.#start + length);
    this.#start += length;
    return bytes;
  }

  async #chunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    while (true) {
      const lineEnd = await this.#until(() => this.#find("\r\n"));
      const sizeText = decoder.decode(this.#buffer.subarray(this.#start, lineEnd)).split(";")[0];
      const size = parseInt(sizeText.trim(), 16);
      if (!Number.isInteger(size) || size < 0) throw new Error(`Bad chunk size: ${sizeText}`);
      this.#start = lineEnd + 2;
      if (size === 0) {
        // Trailers (if any) up to the empty line.
        while (true) {
          const end = await this.#until(() => this.#find("\r\n"));
          const empty = end === this.#start;
          this.#start = end + 2;
          if (empty) break;
        }
        break;
      }
      parts.push(await this.#take(size));
      total += size;
      await this.#take(2);
    }
    const body = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      body.set(part, at);
      at += part.length;
    }
    return body;
  }

  async #rest(): Promise<Uint8Array> {
    while (await this.#fill()) { /* until the server closes */ }
    const bytes = this.#buffer.slice(this.#start, this.#end);
    this.#start = this.#end;
    return bytes;
  }
}
