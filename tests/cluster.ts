/**
 * Several real service processes (src/main.ts) behind Debian's nginx on loopback, for the
 * scale-out test and bench: one database, one Redis (through the REST bridge), any number of
 * instances, and a balancer that spreads requests over them. An instance can be killed with
 * SIGKILL and started again on its port.
 */
import { delay, freePort } from "./local_servers.ts";

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

/**
 * nginx in front of the instances, as docs/nginx.conf sets it up for SSE: no buffering, long
 * read timeouts, HTTP/1.1 kept-alive upstream connections; a POST already sent is never passed to
 * another instance (nginx's default for non-idempotent methods), one refused at connect is.
 */
function nginxConfig(dir: string, port: number, upstreams: number[]): string {
  return `
daemon off;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream api {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=1s;`).join("\n")}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_buffering off;
      proxy_read_timeout 1h;
      proxy_next_upstream error timeout;
      proxy_connect_timeout 1s;
    }
  }
}
`;
}

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
  options: { instances: number; env: Record<string, string> },
): Promise<Cluster> {
  const dir = await Deno.makeTempDir({ prefix: "bpt-cluster-" });
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

  const port = freePort();
  await Deno.writeTextFile(`${dir}/nginx.conf`, nginxConfig(dir, port, ports));
  const nginx = new Deno.Command("nginx", {
    args: ["-c", `${dir}/nginx.conf`, "-p", dir],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
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
      nginx.kill("SIGTERM");
      await nginx.status;
      await nginx.stderr.cancel().catch(() => {});
      for (let i = 0; i < children.length; i++) {
        const child = children[i];
        if (!child || !alive[i]) continue;
        child.kill("SIGTERM");
        await child.status;
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
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
