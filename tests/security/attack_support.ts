/** Shared helpers for the attack suite (tests/security): envelopes, table counts, raw HTTP. */
import assert from "node:assert/strict";
import { hashSecret } from "../../src/core/secrets.ts";
import type { Sql } from "../../src/db/client.ts";
import type { TestApp } from "../support.ts";

/** The error envelope every failure answers with (DESIGN §8). */
export type Envelope = { error: string; code: string; requestId: string; [extra: string]: unknown };

/**
 * Asserts the status and that the body is the error envelope (with `code`, when given).
 *
 * Returns the parsed body; `label` names the case in failure messages.
 */
export async function assertEnvelope(
  res: Response,
  status: number | number[],
  options: { code?: string; label?: string } = {},
): Promise<Envelope> {
  const label = options.label ?? "";
  const text = await res.text();
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(
    statuses.includes(res.status),
    `${label}: expected ${statuses}, got ${res.status} ${text}`,
  );
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/, label);
  const body = JSON.parse(text) as Envelope;
  assert.equal(typeof body.error, "string", label);
  assert.ok(body.error.length > 0, label);
  assert.ok(!body.error.endsWith("."), `${label}: message ends with a period`);
  assert.equal(typeof body.code, "string", label);
  assert.equal(typeof body.requestId, "string", label);
  assert.equal(body.requestId, res.headers.get("x-request-id"), label);
  if (options.code) assert.equal(body.code, options.code, `${label}: ${text}`);
  return body;
}

/** Asserts a 2xx and returns the JSON body. */
export async function okJson<T = Record<string, unknown>>(
  res: Response,
  label = "",
): Promise<T> {
  const text = await res.text();
  assert.ok(res.status >= 200 && res.status < 300, `${label}: got ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Classic SQL-injection strings, plus characters that trip naive escaping: NUL, Unicode quotes,
 * placeholders, LIKE wildcards, comment markers and backslashes.
 */
export const injectionStrings: readonly string[] = [
  "' or 1=1 --",
  "'; drop table users; --",
  '"; drop table workouts; --',
  "admin'--",
  "' union select password_hash, email from users --",
  "1; select pg_sleep(10); --",
  "') or ('a'='a",
  "\u2019 or \u20181\u2019=\u20181",
  "\uff07 or 1=1 --",
  "\u02bc; delete from users; --",
  "$1",
  "$1; $2 $$ drop $$",
  "${1}",
  "\\'; truncate telemetry; --",
  "%' or '%'='",
  "_%_",
  "/* */ or /**/ 1=1",
  "🚴 '\"`;--",
];

/** Strings with a NUL character, which a Postgres text column cannot hold. */
export const nulStrings: readonly string[] = [
  "\u0000",
  "a\u0000b",
  "'\u0000; drop table users; --",
];

/** A string of exactly `length` characters made of injection text. */
export function longInjection(length: number): string {
  return "' or 1=1; drop table users; -- ".repeat(Math.ceil(length / 31)).slice(0, length);
}

/** Row counts of every table in the public schema. */
export async function tableCounts(sql: Sql): Promise<Map<string, number>> {
  const tables = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE'
    order by table_name
  `;
  const counts = new Map<string, number>();
  for (const { name } of tables) {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(name)}`;
    counts.set(name, row.n);
  }
  return counts;
}

/** Asserts that every table is still there and no table lost rows since `before`. */
export async function assertTablesIntact(sql: Sql, before: Map<string, number>): Promise<void> {
  assert.ok(before.has("users") && before.has("workouts"), "snapshot misses the core tables");
  const after = await tableCounts(sql);
  for (const [table, count] of before) {
    assert.ok(after.has(table), `table ${table} is gone`);
    assert.ok(
      after.get(table)! >= count,
      `table ${table} lost rows: ${count} -> ${after.get(table)}`,
    );
  }
}

/** Asserts that GET /health still answers 200 ok. */
export async function assertHealthy(t: TestApp): Promise<void> {
  const res = await t.request("GET", "/health");
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, "ok");
}

/** The session id a refresh token belongs to. */
export async function sessionOf(sql: Sql, refreshToken: string): Promise<string> {
  const [row] = await sql<{ sessionId: string }[]>`
    select session_id from refresh_tokens where token_hash = ${await hashSecret(refreshToken)}
  `;
  assert.ok(row, "no session for this refresh token");
  return row.sessionId;
}

/** Creates a personal API key (`bpt_…`) for a rider and returns its secret. */
export async function personalKey(sql: Sql, userId: string): Promise<string> {
  const secret = `bpt_${crypto.randomUUID().replaceAll("-", "")}`;
  await sql`
    insert into api_keys (user_id, name, prefix, key_hash)
    values (${userId}, 'attack suite', ${secret.slice(0, 12)}, ${await hashSecret(secret)})
  `;
  return secret;
}

/** Base64url without padding, as JWTs use it. */
export function base64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** Decodes a base64url JWT segment as JSON. */
export function decodeSegment(segment: string): Record<string, unknown> {
  const binary = atob(segment.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** A response read off a raw socket. */
export type RawResponse = {
  status: number;
  headers: Headers;
  body: string;
};

/**
 * Sends raw bytes to a real listener and reads the response until the server closes or the
 * response is complete. Lets a test send what `fetch` refuses to (lying lengths, huge headers).
 */
export async function rawRequest(
  url: string,
  head: string,
  body: Uint8Array | AsyncIterable<Uint8Array> = new Uint8Array(),
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const writing = (async () => {
      try {
        await writeAll(conn, new TextEncoder().encode(head));
        if (body instanceof Uint8Array) await writeAll(conn, body);
        else for await (const chunk of body) await writeAll(conn, chunk);
      } catch {
        // the server may answer (and close) before it has read everything
      }
    })();
    const raw = await readResponse(conn);
    await writing;
    return raw;
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

async function readResponse(conn: Deno.Conn): Promise<RawResponse> {
  const decoder = new TextDecoder();
  let buffer = new Uint8Array(0);
  const chunk = new Uint8Array(64 * 1024);
  const append = (n: number) => {
    const next = new Uint8Array(buffer.length + n);
    next.set(buffer);
    next.set(chunk.subarray(0, n), buffer.length);
    buffer = next;
  };
  const headEnd = () => {
    for (let i = 0; i + 3 < buffer.length; i++) {
      if (
        buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10
      ) {
        return i;
      }
    }
    return -1;
  };
  let end = -1;
  let closed = false;
  while ((end = headEnd()) < 0) {
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) {
      closed = true;
      break;
    }
    append(n);
  }
  if (end < 0) throw new Error(`connection closed before a response head (${buffer.length} bytes)`);
  const [statusLine, ...lines] = decoder.decode(buffer.subarray(0, end)).split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let rest = buffer.subarray(end + 4);
  const length = headers.get("content-length");
  const chunked = /chunked/i.test(headers.get("transfer-encoding") ?? "");
  const complete = () => {
    if (length !== null) return rest.length >= Number(length);
    if (chunked) return decoder.decode(rest).includes("\r\n0\r\n\r\n") || rest[0] === 48;
    return false;
  };
  while (!closed && !complete()) {
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) break;
    append(n);
    rest = buffer.subarray(end + 4);
  }
  let text = decoder.decode(length !== null ? rest.subarray(0, Number(length)) : rest);
  if (chunked) text = dechunk(text);
  return { status, headers, body: text };
}

function dechunk(text: string): string {
  let out = "";
  let at = 0;
  while (at < text.length) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd < 0) break;
    const size = parseInt(text.slice(at, lineEnd), 16);
    if (!size) break;
    out += text.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
  return out;
}
