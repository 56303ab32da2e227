/** Throwaway servers for fault tests: a private redis-server, and a TCP proxy that can go down. */

/** A free TCP port on loopback. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Waits `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function ping(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}

/** A redis-server of the test's own, on loopback, without persistence. */
export type RedisServer = {
  port: number;
  url: string;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop: () => Promise<void>;
  /** Starts it again on the same port. */
  start: () => Promise<void>;
};

/** Starts a private redis-server (from PATH) on a free port. */
export async function startRedisServer(port = freePort()): Promise<RedisServer> {
  let child: Deno.ChildProcess | undefined;
  const start = async () => {
    const process = new Deno.Command("redis-server", {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child = process;
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (Date.now() > deadline) {
        process.kill("SIGKILL");
        await process.status;
        throw new Error(`redis-server did not answer on port ${port}`);
      }
      await delay(25);
    }
  };
  const stop = async () => {
    if (!child) return;
    const process = child;
    child = undefined;
    process.kill("SIGTERM");
    await process.status;
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, stop, start };
}

/** A TCP proxy in front of a server; `down()` cuts every connection and refuses new ones. */
export type TcpProxy = {
  port: number;
  down: () => void;
  up: () => void;
  close: () => Promise<void>;
};

/** Starts a loopback TCP proxy to `target` (host and port). */
export function startTcpProxy(target: { hostname: string; port: number }): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  let isDown = false;

  const closeQuietly = (conn: Deno.Conn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  };

  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: true, preventCancel: true });
    } catch {
      // the other side went away
    }
    closeQuietly(from);
    closeQuietly(to);
  };

  const accepting = (async () => {
    for await (const client of listener) {
      if (isDown) {
        closeQuietly(client);
        continue;
      }
      open.add(client);
      const track = (p: Promise<void>) => {
        pumps.add(p);
        p.finally(() => pumps.delete(p));
      };
      track((async () => {
        let server: Deno.Conn;
        try {
          server = await Deno.connect(target);
        } catch {
          closeQuietly(client);
          return;
        }
        open.add(server);
        await Promise.all([pipe(client, server), pipe(server, client)]);
      })());
    }
  })().catch(() => {});

  return {
    port: (listener.addr as Deno.NetAddr).port,
    down: () => {
      isDown = true;
      for (const conn of [...open]) closeQuietly(conn);
    },
    up: () => {
      isDown = false;
    },
    close: async () => {
      isDown = true;
      listener.close();
      for (const conn of [...open]) closeQuietly(conn);
      await accepting;
      await Promise.allSettled([...pumps]);
    },
  };
}
