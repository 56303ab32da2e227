/** A small SSE client for tests: keeps the raw text, parses `data:` frames as old clients do. */

/** One parsed `data:` frame. */
export type SseFrame = Record<string, unknown>;

/** An open (or refused) SSE response. */
export type SseClient = {
  status: number;
  headers: Headers;
  /** The body text of a refused (non-2xx) response. */
  errorBody: string;
  /** Every `data:` frame so far, JSON-parsed, in order. */
  frames: SseFrame[];
  /** Comment lines (`: ping`) seen so far. */
  comments: string[];
  /** Lines that are neither `data:`, `id:` nor comments (an `event:` line, say). */
  otherLines: string[];
  /** The `id:` lines so far (stream entries' ids, what EventSource sends back as Last-Event-ID). */
  ids: string[];
  /** All text received so far. */
  raw: () => string;
  /** Waits for the first frame at index `from` or later that matches. */
  waitFor: (
    match: (frame: SseFrame) => boolean,
    options?: { timeoutMs?: number; from?: number },
  ) => Promise<SseFrame>;
  /** Waits until at least `n` frames arrived. */
  waitForCount: (n: number, timeoutMs?: number) => Promise<void>;
  /** Resolves when the server ends the response. */
  ended: Promise<void>;
  isEnded: () => boolean;
  /** Disconnects (aborts the request and cancels the body). */
  close: () => Promise<void>;
};

/** Something that answers a Request: `fetch`, or an app's `fetch`/`request`. */
export type Fetcher = (request: Request) => Response | Promise<Response>;

/** Opens an SSE request and starts reading its body in the background. */
export async function openSse(
  fetcher: Fetcher,
  url: string,
  headers: Record<string, string> = {},
): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetcher(
    new Request(url, {
      headers: { accept: "text/event-stream", ...headers },
      signal: abort.signal,
    }),
  );
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  const otherLines: string[] = [];
  const ids: string[] = [];
  const waiters = new Set<() => void>();
  let raw = "";
  let pending = "";
  let done = false;
  let errorBody = "";
  const notify = () => {
    for (const w of [...waiters]) w();
  };

  const parse = () => {
    let cut: number;
    while ((cut = pending.indexOf("\n\n")) >= 0) {
      const block = pending.slice(0, cut);
      pending = pending.slice(cut + 2);
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) comments.push(line);
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        else if (/^id: \d+-\d+$/.test(line)) ids.push(line.slice(4));
        else otherLines.push(line);
      }
      if (data.length > 0) frames.push(JSON.parse(data.join("\n")));
    }
  };

  const reader = res.ok && res.body ? res.body.getReader() : undefined;
  if (!reader) {
    errorBody = await res.text();
    done = true;
  }
  const ended = (async () => {
    if (!reader) return;
    const decoder = new TextDecoder();
    try {
      while (true) {
        const { value, done: end } = await reader.read();
        if (end) break;
        const text = decoder.decode(value, { stream: true });
        raw += text;
        pending += text;
        parse();
        notify();
      }
    } catch {
      // aborted by close()
    } finally {
      done = true;
      notify();
    }
  })();

  const waitUntil = (ready: () => boolean, timeoutMs: number, what: () => string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (ready()) {
          cleanup();
          resolve();
        } else if (done) {
          cleanup();
          reject(new Error(`SSE response ended before ${what()}; got ${JSON.stringify(frames)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what()}; got ${JSON.stringify(frames)}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return {
    status: res.status,
    headers: res.headers,
    errorBody,
    frames,
    comments,
    otherLines,
    ids,
    raw: () => raw,
    waitFor: async (match, options = {}) => {
      const from = options.from ?? 0;
      let found: SseFrame | undefined;
      await waitUntil(
        () => (found = frames.slice(from).find(match)) !== undefined,
        options.timeoutMs ?? 3000,
        () => `a matching frame (from index ${from})`,
      );
      return found!;
    },
    waitForCount: (n, timeoutMs = 3000) =>
      waitUntil(() => frames.length >= n, timeoutMs, () => `${n} frames`),
    ended,
    isEnded: () => done,
    close: async () => {
      abort.abort();
      await reader?.cancel().catch(() => {});
      await ended;
    },
  };
}

/**
 * True when the text is nothing but whole frames `data: <one line>\n\n` (a stream entry's frame
 * may start with its `id: <ms>-<seq>` line, for Last-Event-ID) and comment blocks (`: …\n\n`),
 * with no `event:` or `retry:` field and no CR: what the old clients' `data:`-line parsers and
 * EventSource.onmessage read.
 */
export function isPlainDataStream(text: string): boolean {
  return /^(?:(?:(?:id: \d+-\d+\n)?data: [^\n\r]*|:[^\n\r]*)\n\n)*$/.test(text);
}

/** A real HTTP server on a free loopback port serving `handler`. */
export function serveOnFreePort(handler: Fetcher): { url: string; close: () => Promise<void> } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => handler(request),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** Polls `check` every 20 ms until it is true, or throws after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 3000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
