/**
 * Upstash REST pipeline requests (`POST /pipeline`) over kept-alive HTTP/1.1 connections.
 *
 * The hot path of a legacy message POST sends one pipeline per batch of script calls. Through
 * `fetch` each round trip cost about 250–300 µs of CPU in this process (Request, Response, header
 * and body-stream objects); written straight to a kept-alive `Deno.connect`/`Deno.connectTls`
 * socket it costs about 70 µs. Everything else still goes through @upstash/redis.
 * @module
 */

/** One command's outcome, as the REST API answers it. */
export type PipelineReply = { result?: unknown; error?: string };

/** Options of {@linkcode restPipeline}. */
export type RestPipelineOptions = {
  /** The REST endpoint, e.g. `https://eu1-example.upstash.io` or `http://127.0.0.1:58079`. */
  url: string;
  token: string;
  /** Network failures retried per request (as @upstash/redis's `retry.retries`). */
  retries: number;
  /** Wait before retry `n` (0-based), in ms. */
  backoff: (n: number) => number;
  /** A request without a whole answer after this long fails. Default 10 s. */
  timeoutMs?: number;
  /** Idle connections kept for the next requests. Default 4. */
  maxIdle?: number;
  /** Extra trusted certificates (PEM) for an https URL, beside the system's (tests use one). */
  caCerts?: string[];
};

/** No whole answer within the timeout: the request may still be running, so it is not resent. */
class NoAnswerError extends Error {}

/** Thrown when the REST API answers with an error status, or (status 0) cannot be reached. */
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
export function restPipeline(options: RestPipelineOptions) {
  const url = new URL(options.url);
  const tls = url.protocol === "https:";
  const port = Number(url.port || (tls ? 443 : 80));
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const path = `${url.pathname.replace(/\/+$/, "")}/pipeline`;
  const head = `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    `Authorization: Bearer ${options.token}\r\nContent-Type: application/json\r\n`;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxIdle = options.maxIdle ?? 4;
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

  async function attempt(request: Uint8Array): Promise<HttpResponse> {
    const reused = idle.pop();
    try {
      return await exchange(reused ?? await connect(), request);
    } catch (err) {
      // A kept-alive connection the server closed while it was idle fails before any byte of an
      // answer: that is no answer to this request, so it goes once more on a new connection.
      if (!reused?.answerless || err instanceof NoAnswerError || closed) throw err;
      return await exchange(await connect(), request);
    }
  }

  async function exchange(conn: HttpConnection, request: Uint8Array): Promise<HttpResponse> {
    requests++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const response = await Promise.race([
        conn.exchange(request),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new NoAnswerError(`No answer from Redis REST within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      if (response.keepAlive && !closed && idle.length < maxIdle) idle.push(conn);
      else drop(conn);
      return response;
    } catch (err) {
      drop(conn);
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
    /** Posts the commands as one pipeline; network failures are retried, error replies are not. */
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
          response = await attempt(request);
        } catch (err) {
          if (n >= options.retries || closed) {
            const reason = err instanceof Error ? err.message : String(err);
            throw new RestError(0, `Redis REST cannot be reached: ${reason}`, { cause: err });
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

    /** HTTP requests sent (retries included) and connections open: for tests and benchmarks. */
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

/** The client type {@linkcode restPipeline} returns. */
export type RestPipeline = ReturnType<typeof restPipeline>;

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
  /** True while the current exchange has received no byte (its failure was not an answer). */
  answerless = true;

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

  async exchange(request: Uint8Array): Promise<HttpResponse> {
    this.answerless = true;
    for (let written = 0; written < request.length;) {
      written += await this.#conn.write(request.subarray(written));
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
      body = await this.#take(Number(length));
    } else {
      body = await this.#rest();
      keepAlive = false;
    }
    return { status, body: decoder.decode(body), keepAlive };
  }

  /** Index of `marker` in the unread bytes, or -1. */
  #find(marker: "\r\n\r\n" | "\r\n"): number {
    const buf = this.#buffer;
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
    this.answerless = false;
    this.#end += n;
    return true;
  }

  async #take(length: number): Promise<Uint8Array> {
    while (this.#end - this.#start < length) {
      if (!(await this.#fill())) throw new Error("Redis REST closed the connection mid-answer");
    }
    const bytes = this.#buffer.slice(this.#start, this.#start + length);
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
