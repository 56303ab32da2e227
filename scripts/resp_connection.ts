/**
 * One RESP2 connection to Redis over `Deno.connect`, for the REST bridge (a dev/test tool).
 *
 * Commands are pipelined FIFO: every command sent in the same turn of the event loop goes out in
 * one write, and replies are parsed incrementally as they arrive, keeping bulk strings as bytes.
 * (ioredis did this through Node's `net` shim one write per command: half the bridge's CPU time.)
 * There is no offline queue: a command sent to a closed connection fails at once.
 * @module
 */

/** A reply: bulk and simple strings as bytes, integers, nil, errors and nested arrays. */
export type Reply = Uint8Array | number | null | ReplyError | Reply[];

/** An error reply from Redis (`-ERR …`); a command failing this way leaves the connection usable. */
export class ReplyError extends Error {
  override name = "ReplyError";
}

type Pending = {
  resolve(reply: Reply): void;
  reject(err: Error): void;
  /** The connection's coarse clock when the command was sent. */
  sentAt: number;
};

/** An array reply being read: how many elements are still to come. */
type Frame = { items: Reply[]; remaining: number };

const CR = 13;
const encoder = new TextEncoder();
const utf8 = new TextDecoder();

/** Options of {@linkcode RespConnection.connect}. */
export interface ConnectOptions {
  /** Give up connecting after this long. */
  connectTimeoutMs: number;
  /** Close the connection when its oldest command has had no reply for this long (0: never). */
  commandTimeoutMs?: number;
}

/** A connected RESP2 connection; `status` turns to "closed" once, for good. */
export class RespConnection {
  status: "ready" | "closed" = "ready";
  /** Why the connection closed, once it has. */
  closeReason = "";
  /** Called once when the connection closes, whatever the reason. */
  onClose: (reason: string) => void = () => {};

  #conn: Deno.TcpConn;
  #pending: Pending[] = [];
  #head = 0;
  /** Commands waiting for the next write, as RESP text (encoded once per write). */
  #out = "";
  #flushing = false;
  #writeScheduled = false;
  #clock = 0;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  // Parser state: unread bytes, and the arrays still being read.
  #buffer: Uint8Array = new Uint8Array(0);
  #offset = 0;
  #frames: Frame[] = [];
  /** Bytes needed before the next element can possibly be complete. */
  #needed = 0;
  #chunks: Uint8Array[] = [];
  #chunkBytes = 0;

  private constructor(conn: Deno.TcpConn, commandTimeoutMs: number) {
    this.#conn = conn;
    conn.setNoDelay(true);
    if (commandTimeoutMs > 0) {
      // One timer per connection instead of one per command: a tick is a second.
      const ticks = Math.ceil(commandTimeoutMs / 1000);
      const watchdog = setInterval(() => {
        this.#clock++;
        const oldest = this.#pending[this.#head];
        if (oldest && this.#clock - oldest.sentAt > ticks) {
          this.close(`Command timed out: no reply from Redis within ${commandTimeoutMs} ms`);
        }
      }, 1000);
      Deno.unrefTimer(watchdog);
      this.#watchdog = watchdog;
    }
    this.#readLoop();
  }

  /** Connects to `redis://host:port`. */
  static async connect(url: string, options: ConnectOptions): Promise<RespConnection> {
    const { hostname, port } = new URL(url);
    const signal = AbortSignal.timeout(options.connectTimeoutMs);
    const conn = await Deno.connect({
      hostname: hostname.replace(/^\[|\]$/g, ""),
      port: Number(port || 6379),
      signal,
    }).catch((err) => {
      throw signal.aborted
        ? new Error(`connect timed out after ${options.connectTimeoutMs} ms`)
        : err;
    });
    return new RespConnection(conn, options.commandTimeoutMs ?? 0);
  }

  /** Sends one command; an error reply rejects with a ReplyError (inside arrays it is an element). */
  send(args: string[]): Promise<Reply> {
    if (this.status === "closed") {
      return Promise.reject(new Error(`Connection is closed: ${this.closeReason}`));
    }
    this.#queueCommand(args);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject, sentAt: this.#clock });
    });
  }

  /** Closes the connection; every command still waiting fails with `reason`. */
  close(reason = "connection closed"): void {
    if (this.status === "closed") return;
    this.status = "closed";
    this.closeReason = reason;
    clearInterval(this.#watchdog);
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    const waiting = this.#pending.slice(this.#head);
    this.#pending = [];
    this.#head = 0;
    for (const p of waiting) p.reject(new Error(reason));
    this.onClose(reason);
  }

  #queueCommand(args: string[]): void {
    let text = `*${args.length}\r\n`;
    for (const arg of args) text += `$${utf8Length(arg)}\r\n${arg}\r\n`;
    this.#out += text;
    if (!this.#writeScheduled) {
      this.#writeScheduled = true;
      queueMicrotask(() => {
        this.#writeScheduled = false;
        this.#flush();
      });
    }
  }

  /** Writes everything queued as one buffer; one write at a time, in order. */
  async #flush(): Promise<void> {
    if (this.#flushing || this.#out === "" || this.status === "closed") return;
    this.#flushing = true;
    try {
      while (this.#out !== "" && this.status === "ready") {
        const data = encoder.encode(this.#out);
        this.#out = "";
        let written = 0;
        while (written < data.length) written += await this.#conn.write(data.subarray(written));
      }
    } catch (err) {
      this.close(`write failed: ${(err as Error).message}`);
    } finally {
      this.#flushing = false;
    }
  }

  async #readLoop(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        this.#received(chunk.slice(0, n));
      }
      this.close("connection closed by Redis");
    } catch (err) {
      this.close(
        this.status === "closed" ? this.closeReason : `read failed: ${(err as Error).message}`,
      );
    }
  }

  #received(data: Uint8Array): void {
    this.#chunks.push(data);
    this.#chunkBytes += data.length;
    const unread = this.#buffer.length - this.#offset;
    if (unread + this.#chunkBytes < this.#needed) return; // a long bulk string still arriving
    this.#buffer = concat(
      [this.#buffer.subarray(this.#offset), ...this.#chunks],
      unread + this.#chunkBytes,
    );
    this.#offset = 0;
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#needed = 0;
    this.#parse();
  }

  /** Reads every complete element; array replies are built across reads without re-parsing. */
  #parse(): void {
    const buf = this.#buffer;
    while (this.#offset < buf.length) {
      const start = this.#offset;
      const lineEnd = buf.indexOf(CR, start + 1);
      if (lineEnd < 0 || lineEnd + 1 >= buf.length) return;
      const type = buf[start];
      let next = lineEnd + 2;
      let value: Reply;
      if (type === 0x2b /* + */) {
        value = buf.subarray(start + 1, lineEnd);
      } else if (type === 0x2d /* - */) {
        value = new ReplyError(utf8.decode(buf.subarray(start + 1, lineEnd)));
      } else if (type === 0x3a /* : */) {
        value = readInteger(buf, start + 1, lineEnd);
      } else if (type === 0x24 /* $ */) {
        const length = readInteger(buf, start + 1, lineEnd);
        if (length < 0) {
          value = null;
        } else {
          if (next + length + 2 > buf.length) {
            this.#needed = next + length + 2 - start;
            return;
          }
          value = buf.subarray(next, next + length);
          next += length + 2;
        }
      } else if (type === 0x2a /* * */) {
        const count = readInteger(buf, start + 1, lineEnd);
        this.#offset = next;
        if (count > 0) {
          this.#frames.push({ items: [], remaining: count });
          continue;
        }
        value = count < 0 ? null : [];
      } else {
        this.close(`protocol error: unexpected reply type ${String.fromCharCode(type)}`);
        return;
      }
      this.#offset = next;
      this.#complete(value);
    }
  }

  /** Adds an element to the array being read, or hands a whole reply to its command. */
  #complete(value: Reply): void {
    while (this.#frames.length > 0) {
      const frame = this.#frames[this.#frames.length - 1];
      frame.items.push(value);
      if (--frame.remaining > 0) return;
      this.#frames.pop();
      value = frame.items;
    }
    const pending = this.#pending[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    if (value instanceof ReplyError) pending?.reject(value);
    else pending?.resolve(value);
  }
}

const nonAscii = /[\u0080-\uffff]/;

/** How many bytes TextEncoder makes of `text` (a lone surrogate becomes 3-byte U+FFFD). */
export function utf8Length(text: string): number {
  if (!nonAscii.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
    } else if (
      unit >= 0xd800 && unit < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      bytes += 2; // a surrogate pair: 4 bytes for 2 units
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/** The decimal integer in `buf[from, to)`, with an optional minus sign. */
function readInteger(buf: Uint8Array, from: number, to: number): number {
  const negative = buf[from] === 0x2d;
  let value = 0;
  for (let i = negative ? from + 1 : from; i < to; i++) value = value * 10 + buf[i] - 0x30;
  return negative ? -value : value;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
