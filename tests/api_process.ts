/** The service as a process: `src/main.ts` started as in production, its JSON log collected. */

/** A started `src/main.ts` and its log lines so far. */
export type ServiceProcess = {
  child: Deno.ChildProcess;
  lines: Record<string, unknown>[];
  /** Resolves when stdout has ended. */
  read: Promise<void>;
  stderr: Promise<string>;
};

/** Starts main.ts with `env` added to this process's environment and collects its JSON log lines. */
export function startService(env: Record<string, string>): ServiceProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const read = (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of child.stdout) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const part of parts) if (part.trim()) lines.push(JSON.parse(part));
    }
  })();
  const stderr = new Response(child.stderr).text();
  return { child, lines, read, stderr };
}

/** Polls `check` every 50 ms until it holds; throws after `ms`. */
export async function waitFor(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stops a service: SIGKILL unless it already exited, then waits for its streams. */
export async function killService(service: ServiceProcess): Promise<void> {
  try {
    service.child.kill("SIGKILL");
  } catch {
    // already exited
  }
  await service.child.status;
  await service.read.catch(() => {});
  await service.stderr;
}
