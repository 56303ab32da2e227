import type { Context } from "hono";
import { gzipSync } from "node:zlib";

/** Answers smaller than this go uncompressed: gzip's framing would eat what it saves. */
const minCompressBytes = 1024;
const utf8 = new TextEncoder();

/** True when an `Accept-Encoding` header accepts gzip (`gzip`, `x-gzip` or `*`, q above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(",")) {
    const [coding, ...params] = part.split(";");
    const name = coding.trim().toLowerCase();
    if (name !== "gzip" && name !== "x-gzip" && name !== "*") continue;
    const q = params.map((p) => p.trim()).find((p) => p.toLowerCase().startsWith("q="));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/**
 * A JSON answer from its text, gzip-compressed when the client accepts gzip and the text is at
 * least 1 KiB; the decoded body is the text byte for byte.
 *
 * Level 1 with node:zlib in one call: a GET of 100 stream messages (33 KB → 2 KB) costs ~16 µs
 * of CPU that way, against ~115 µs more per request through hono/compress (CompressionStream,
 * level 6, streamed: 1.4 KB) — measured in-process, 2026-12-02.
 */
export function jsonAnswer(c: Context, text: string, status: 200 | 201 = 200): Response {
  if (text.length >= minCompressBytes && acceptsGzip(c.req.header("accept-encoding"))) {
    const gzipped = gzipSync(utf8.encode(text), { level: 1 });
    const bytes = new Uint8Array(gzipped.buffer as ArrayBuffer, gzipped.byteOffset, gzipped.length);
    return c.body(bytes, status, {
      "Content-Type": "application/json",
      "Content-Encoding": "gzip",
      Vary: "Accept-Encoding",
    });
  }
  return c.body(text, status, { "Content-Type": "application/json", Vary: "Accept-Encoding" });
}
