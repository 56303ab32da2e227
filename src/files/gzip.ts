import { ApiError } from "../core/errors.ts";
import { corruptFile } from "./ride_file.ts";

/** True when the bytes start with the gzip magic number (1f 8b, RFC 1952). */
export function looksLikeGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** A file name without a trailing `.gz` ("ride.fit.gz" → "ride.fit"). */
export function withoutGz(filename: string | null): string | null {
  return filename?.replace(/\.gz$/i, "") || null;
}

/** The 413 for a file that decompresses to more than the limit. */
export function tooLargeUncompressed(maxBytes: number): ApiError {
  return new ApiError(
    "payload_too_large",
    `The file decompresses to more than ${maxBytes} bytes (IMPORT_MAX_FILE_BYTES)`,
  );
}

/**
 * Decompresses a gzip file with the platform's DecompressionStream, stopping (413) as soon as the
 * output passes `maxBytes`, so a gzip bomb never grows past the limit in memory. A corrupt or
 * truncated stream is a 400 `invalid_gzip`.
 */
export async function gunzip(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip")).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLargeUncompressed(maxBytes);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw corruptFile("invalid_gzip", "The gzip file is corrupt or truncated");
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
