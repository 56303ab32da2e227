/**
 * The error vocabulary holds together: every code the source hands an error constructor is in
 * src/core/error_codes.ts, the OpenAPI Error schema lists exactly those codes, and real error
 * answers carry one of them.
 */
import assert from "node:assert/strict";
import { errorCodeList, errorCodes } from "../src/core/error_codes.ts";
import { startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

/** The constructors that take a code, and the position of the code among their arguments. */
const codeArgument: Record<string, number> = {
  "new ApiError": 0,
  corruptFile: 0,
  conflict: 0,
  invalid: 1,
};

/** The argument texts of a call whose `(` is at `open`, split at top-level commas. */
function callArguments(source: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < source.length; i++) {
    const ch = source[i];
    if (ch === '"' || ch === "'" || ch === "`") {
      // Skip the string; a template's ${} holds no code literal we look for.
      for (i++; i < source.length && source[i] !== ch; i++) if (source[i] === "\\") i++;
    } else if ("([{".includes(ch)) {
      depth++;
    } else if (")]}".includes(ch)) {
      depth--;
      if (depth === 0) {
        args.push(source.slice(start, i).trim());
        return args.filter((arg) => arg !== "");
      }
    } else if (ch === "," && depth === 1) {
      args.push(source.slice(start, i).trim());
      start = i + 1;
    }
  }
  return args;
}

/** Every string literal given as a code to an error constructor in src/, with where it is. */
async function codeLiterals(): Promise<{ code: string; via: string; at: string }[]> {
  const found: { code: string; via: string; at: string }[] = [];
  const call = /(?<![\w.$])(new ApiError|corruptFile|conflict|invalid)\(/g;
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        const source = await Deno.readTextFile(path);
        for (const match of source.matchAll(call)) {
          const arg = callArguments(source, match.index + match[0].length - 1)[
            codeArgument[match[1]]
          ];
          const literal = arg?.match(/^["']([^"']*)["']$/);
          if (!literal) continue;
          const line = source.slice(0, match.index).split("\n").length;
          found.push({ code: literal[1], via: match[1], at: `${path}:${line}` });
        }
      }
    }
  };
  await walk(new URL("../src", import.meta.url).pathname);
  return found;
}

Deno.test("every code literal given to an error constructor in src/ is in errorCodes", async () => {
  const literals = await codeLiterals();
  // The scan finds the calls (about 70 when this was written); a broken scan finds none.
  assert.ok(literals.length >= 50, `only ${literals.length} code literals found`);
  // No src/ call passes invalid() or conflict() a code literal today; the scanner reads theirs.
  assert.ok(literals.some(({ via }) => via === "new ApiError"));
  assert.ok(literals.some(({ via }) => via === "corruptFile"));
  const sample = 'invalid(`a, ${f(b, c)}`, "invalid_value"); conflict("email_taken", "x, y")';
  assert.deepEqual(callArguments(sample, sample.indexOf("(")), [
    "`a, ${f(b, c)}`",
    '"invalid_value"',
  ]);
  const second = sample.indexOf("conflict(") + "conflict".length;
  assert.deepEqual(callArguments(sample, second), ['"email_taken"', '"x, y"']);
  const unknown = literals.filter(({ code }) => !Object.hasOwn(errorCodes, code));
  assert.deepEqual(unknown, [], "codes missing from src/core/error_codes.ts");
});

Deno.test("the OpenAPI Error schema lists exactly the codes of errorCodes", async () => {
  const res = await t.request("GET", "/openapi.json");
  assert.equal(res.status, 200);
  const document = await res.json();
  assert.deepEqual(document.components.schemas.Error.properties.code.enum, errorCodeList);
});

Deno.test("real error answers carry a listed code", async () => {
  const cases: [string, string, number, string, unknown?][] = [
    ["GET", "/api/does-not-exist", 404, "not_found"],
    ["DELETE", "/api/auth/login", 405, "method_not_allowed"],
    ["POST", "/api/auth/login", 400, "validation_failed", { email: "not an email" }],
    ["GET", "/api/users/me", 401, "unauthorized"],
  ];
  for (const [method, path, status, code, body] of cases) {
    const res = await t.request(method, path, body === undefined ? {} : { body });
    assert.equal(res.status, status, `${method} ${path}`);
    const answer = await res.json();
    assert.ok(errorCodeList.includes(answer.code), `${method} ${path}: ${answer.code}`);
    assert.equal(answer.code, code, `${method} ${path}`);
    assert.equal(errorCodes[answer.code as keyof typeof errorCodes][0], status);
  }
});
