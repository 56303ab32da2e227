/**
 * Prunes deno.lock to the npm packages the service itself needs: the closure of deno.json
 * "imports" (the workspace dependencies). The image runs it before `deno install --frozen`
 * because Deno installs every npm package a lockfile holds (denoland/deno#21261), and the lock
 * also holds the test- and bench-only packages tests/deps/ imports by npm: specifier (PGlite
 * alone is 23 MB). Versions and integrity stay the committed ones; `--frozen` then fails the
 * build if the runtime graph needs anything the pruned lock lacks.
 *
 *   deno run --allow-read=deno.lock --allow-write=deno.lock scripts/runtime_lock.ts
 */

type NpmEntry = { dependencies?: string[]; optionalDependencies?: string[] };
type Lock = {
  version: string;
  specifiers: Record<string, string>;
  npm?: Record<string, NpmEntry>;
  workspace?: { dependencies?: string[] };
  [key: string]: unknown;
};

/** The package name of `npm:name@range` or of a lock key `name@version_peers`. */
function packageName(text: string): string {
  const bare = text.replace(/^npm:\/?/, "");
  const at = bare.indexOf("@", 1);
  return at < 0 ? bare : bare.slice(0, at);
}

/** The lock keeping only what the workspace dependencies reach. */
export function runtimeLock(lock: Lock): Lock {
  const npm = lock.npm ?? {};
  const keysByName = new Map<string, string[]>();
  for (const key of Object.keys(npm)) {
    const name = packageName(key);
    keysByName.set(name, [...(keysByName.get(name) ?? []), key]);
  }
  const keep = new Set<string>();
  const visit = (key: string) => {
    if (keep.has(key) || !(key in npm)) return;
    keep.add(key);
    const entry = npm[key];
    for (const dep of [...(entry.dependencies ?? []), ...(entry.optionalDependencies ?? [])]) {
      // A dependency is its name when the lock holds one version of it, else name@version.
      if (dep in npm) visit(dep);
      else for (const candidate of keysByName.get(dep) ?? []) visit(candidate);
    }
  };
  const roots = lock.workspace?.dependencies ?? [];
  const specifiers: Record<string, string> = {};
  for (const specifier of roots) {
    const resolved = lock.specifiers[specifier];
    if (resolved === undefined) continue;
    specifiers[specifier] = resolved;
    if (specifier.startsWith("npm:")) visit(`${packageName(specifier)}@${resolved}`);
  }
  return {
    ...lock,
    specifiers,
    npm: Object.fromEntries(Object.entries(npm).filter(([key]) => keep.has(key))),
  };
}

if (import.meta.main) {
  const path = Deno.args[0] ?? "deno.lock";
  const lock = JSON.parse(await Deno.readTextFile(path)) as Lock;
  const pruned = runtimeLock(lock);
  await Deno.writeTextFile(path, JSON.stringify(pruned, null, 2) + "\n");
  const before = Object.keys(lock.npm ?? {}).length;
  console.log(`${path}: ${Object.keys(pruned.npm ?? {}).length} of ${before} npm packages kept`);
}
