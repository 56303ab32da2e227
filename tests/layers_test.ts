// The dependency rule of docs/architecture.md, read from the imports of src/: wiring at the top,
// routes, http, services, queries and pure code below; no folder imports a folder that imports
// it back, and an import up the layers is an exception named here with its reason.
import assert from "node:assert/strict";

/** src/ folders from the top down (src/*.ts files are the wiring, above all of them). */
const layers = [
  // The rider's pages: beside the routes (they render what the API serves and reuse a route's
  // helper, e.g. the sign-in attempt counter), above http, whose browser session they use.
  "pages",
  "routes",
  "http",
  "auth",
  "users",
  "streams",
  "workouts",
  // Below workouts: the outbox insert runs inside the workouts' transactions (src/webhooks/).
  "webhooks",
  "analytics",
  "files",
  "live",
  "db",
  "core",
];

/** Imports allowed to point up the layers, "from -> to" with the reason (at most 2). */
const allowedUpward: Record<string, string> = {};

const src = new URL("../src/", import.meta.url);

async function* sources(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sources(url);
    else if (/\.tsx?$/.test(entry.name)) yield url;
  }
}

/** The folder of a file under src/ ("" for the wiring files directly in src/). */
function folderOf(url: URL): string {
  const rel = url.pathname.slice(src.pathname.length);
  return rel.includes("/") ? rel.split("/")[0] : "";
}

/** Every relative import between files of src/: [from file, to file]. */
async function imports(): Promise<[URL, URL][]> {
  const edges: [URL, URL][] = [];
  for await (const file of sources(src)) {
    const text = await Deno.readTextFile(file);
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+["'](\.[^"']+)["']/g)) {
      edges.push([file, new URL(m[1], file)]);
    }
  }
  return edges;
}

function rank(folder: string): number {
  return folder === "" ? -1 : layers.indexOf(folder);
}

Deno.test("every folder of src/ has its place in the layers", async () => {
  const folders = new Set<string>();
  for await (const file of sources(src)) folders.add(folderOf(file));
  folders.delete("");
  assert.deepEqual([...folders].filter((f) => !layers.includes(f)), []);
});

Deno.test("no folder of src/ imports a folder that imports it back", async () => {
  const pairs = new Set<string>();
  for (const [from, to] of await imports()) {
    const a = folderOf(from), b = folderOf(to);
    if (a !== b) pairs.add(`${a || "src"} -> ${b || "src"}`);
  }
  const mutual = [...pairs].filter((pair) => {
    const [a, b] = pair.split(" -> ");
    return a < b && pairs.has(`${b} -> ${a}`);
  });
  assert.deepEqual(mutual, []);
});

Deno.test("imports point down the layers, but for the named exceptions (at most 2)", async () => {
  const upward: string[] = [];
  for (const [from, to] of await imports()) {
    const a = folderOf(from), b = folderOf(to);
    if (a !== b && rank(b) < rank(a)) {
      const key = `${from.pathname.slice(src.pathname.length)} -> ${
        to.pathname.slice(src.pathname.length)
      }`;
      if (!(key in allowedUpward)) upward.push(key);
    }
  }
  assert.deepEqual(upward, []);
  assert.ok(Object.keys(allowedUpward).length <= 2);
});
