/** The service as a child process: `src/main.ts` of a checkout, with its JSON log lines. */

/** A running `src/main.ts` and what it printed. */
export type ServiceProcess = {
  child: Deno.ChildProcess;
  /** The JSON log lines so far. */
  lines: Record<string, unknown>[];
  /** Resolves when stdout ends. */
  read: Promise<void>;
  stderr: Promise<string>;
};

/** Starts `src/main.ts` (of `cwd`, default this checkout) and collects its JSON log lines. */
export function startService(env: Record<string, string>, cwd?: string): ServiceProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    env: { ...env, NO_COLOR: "1" },
    cwd,
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

/** Waits until `check()` is true; throws after `ms`. */
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
