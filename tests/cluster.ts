/**
 * Several real service processes (src/main.ts) behind Debian's nginx on loopback (configured from
 * docs/nginx.conf, the deployment's own example), for the
 * scale-out test and bench: one database, one Redis (through the REST bridge), any number of
 * instances, and a balancer that spreads requests over them. An instance can be killed with
 * SIGKILL and started again on its port.
 */
import { delay, freePort } from "./local_servers.ts";
import { setUpNginx } from "./nginx_proxy.ts";

/** One service process. */
export type Instance = {
  port: number;
  url: string;
  pid: () => number | undefined;
};

/** The running cluster. */
export type Cluster = {
  /** The balancer's URL (nginx). */
  url: string;
  instances: Instance[];
  /** Kills instance `i` with SIGKILL (no shutdown, no cleanup) and waits until it is gone. */
  kill: (i: number) => Promise<void>;
  /** Starts instance `i` again on its port and waits until it answers. */
  restart: (i: number) => Promise<void>;
  /** What an instance wrote on stderr, for a failure's message. */
  stderr: (i: number) => string;
  stop: () => Promise<void>;
};

async function waitReady(url: string, alive: () => boolean, stderr: () => string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (!alive()) throw new Error(`A service exited on start: ${stderr()}`);
    try {
      const res = await fetch(`${url}/health`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not yet listening
    }
    await delay(50);
  }
  throw new Error(`No answer from ${url} within 30 s`);
}

/** Starts `instances` service processes with `env` and nginx in front of them. */
export async function startCluster(
  options: { instances: number; env: Record<string, string>; workerConnections?: number },
): Promise<Cluster> {
  const ports = Array.from({ length: options.instances }, () => freePort());
  const children: (Deno.ChildProcess | undefined)[] = [];
  const alive: boolean[] = [];
  const errors: string[] = ports.map(() => "");

  const spawn = async (i: number) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
      cwd: new URL("..", import.meta.url).pathname,
      env: { ...options.env, PORT: String(ports[i]), HOST: "127.0.0.1", NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    children[i] = child;
    alive[i] = true;
    child.status.then(() => {
      if (children[i] === child) alive[i] = false;
    });
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        errors[i] = (errors[i] + chunk).slice(-4000);
      }
    })();
    await waitReady(`http://127.0.0.1:${ports[i]}`, () => alive[i], () => errors[i]);
  };
  // One at a time: the first migrates the database (the others would wait on the lock anyway).
  for (let i = 0; i < ports.length; i++) await spawn(i);

  // The reverse-proxy example of docs/nginx.conf, filled for these instances.
  const setup = await setUpNginx({
    upstreams: ports.map((port) => ({ hostname: "127.0.0.1", port })),
    workerConnections: options.workerConnections ?? 4096,
  });
  const nginx = await setup.start();
  const url = nginx.httpUrl;
  await waitReady(url, () => true, () => "nginx");

  return {
    url,
    instances: ports.map((p, i) => ({
      port: p,
      url: `http://127.0.0.1:${p}`,
      pid: () => alive[i] ? children[i]?.pid : undefined,
    })),
    async kill(i) {
      const child = children[i];
      if (!child || !alive[i]) return;
      child.kill("SIGKILL");
      await child.status;
      alive[i] = false;
    },
    restart: (i) => spawn(i),
    stderr: (i) => errors[i],
    async stop() {
      await nginx.stop();
      await setup.remove().catch(() => {});
      for (let i = 0; i < children.length; i++) {
        const child = children[i];
        if (!child || !alive[i]) continue;
        child.kill("SIGTERM");
        await child.status;
      }
    },
  };
}

/** One SSE frame's fields: `id` (the `id:` line, if any) and the parsed `data:` JSON. */
export type Frame = { id: string | null; data: Record<string, unknown> };

/**
 * An EventSource-like viewer over fetch: reads frames, and when the connection ends or fails it
 * connects again after `retryMs` with `Last-Event-ID` set to the last `id:` it saw, as browsers
 * do. Stops on `stop()` or after a `stream_deleted` frame.
 */
export function reconnectingViewer(
  url: string,
  headers: Record<string, string>,
  onFrame: (frame: Frame) => void,
  options: { retryMs?: number } = {},
) {
  let lastId: string | null = null;
  let stopped = false;
  let controller: AbortController | undefined;
  let reader: ReadableStreamDefaultReader<string> | undefined;
  const stats = { connects: 0, reconnects: 0, failures: 0, lastError: "" };
  const connected = Promise.withResolvers<void>();

  const once = async () => {
    controller = new AbortController();
    const res = await fetch(url, {
      headers: { ...headers, ...(lastId ? { "Last-Event-ID": lastId } : {}) },
      signal: controller.signal,
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`listen answered ${res.status}`);
    }
    stats.connects++;
    let buffer = "";
    reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | null = null;
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("id:")) id = line.slice(3).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trimStart();
        }
        if (!data) continue; // a comment (: ping)
        if (id !== null) lastId = id;
        const frame = { id, data: JSON.parse(data) };
        if (frame.data.type === "connected") connected.resolve();
        onFrame(frame);
        if (frame.data.type === "stream_deleted") stopped = true;
      }
    }
  };

  const done = (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) break;
        stats.failures++;
        stats.lastError = err instanceof Error ? err.message : String(err);
      }
      if (stopped) break;
      stats.reconnects++;
      await delay(options.retryMs ?? 100);
    }
  })();

  return {
    stats,
    connected: connected.promise,
    lastId: () => lastId,
    async stop() {
      stopped = true;
      controller?.abort();
      // Aborting the fetch alone does not always end a read already waiting on the body.
      await reader?.cancel().catch(() => {});
      await done;
    },
  };
}

/**
 * POSTs JSON through the balancer as a rider's app would: sent again (same body) after a network
 * error, a timeout or a 502/503/504; any other failure throws. Null when never accepted.
 */
export async function postRetrying(
  url: string,
  token: string,
  body: unknown,
): Promise<Record<string, unknown> | null> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      const text = await res.text();
      if (res.ok) return JSON.parse(text);
      if (res.status !== 502 && res.status !== 503 && res.status !== 504) {
        throw new Error(`POST ${url}: ${res.status} ${text}`);
      }
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("POST ")) throw err;
    }
    await delay(50);
  }
  return null; // never accepted
}
