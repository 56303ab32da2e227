// Zip archives (Strava and Garmin bulk exports) read entry by entry from a file with yauzl: the
// central directory first (names and declared sizes, checked against the limits before anything
// is imported), then one entry at a time, so memory holds one ride file, never the archive.

// @ts-types="./yauzl.d.ts"
import yauzl, { type Entry, type ZipFile } from "yauzl";
import type { Readable } from "node:stream";
import { ApiError } from "../core/errors.ts";
import { tooLargeUncompressed } from "./gzip.ts";

/** True when the bytes start with a zip local file header (PK\x03\x04). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 &&
    bytes[3] === 0x04;
}

/** The limits an archive is checked against before any entry is read. */
export type ZipLimits = { maxEntries: number; maxTotalBytes: number; maxFileBytes: number };

/** An open archive and its file entries (directories left out), in central-directory order. */
export type ZipArchive = {
  names: string[];
  /** The entry's bytes, refused (413) past the per-file limit, whatever its header declared. */
  read: (index: number) => Promise<Uint8Array>;
  close: () => void;
};

function invalidZip(): ApiError {
  return new ApiError("invalid_zip", "The zip archive is corrupt or truncated");
}

/**
 * Opens the archive at `path` and reads its central directory: 413 `too_many_entries` past
 * `maxEntries`, 413 `payload_too_large` when an entry declares more than `maxFileBytes` or all
 * together more than `maxTotalBytes`, 400 `invalid_zip` when it is not a readable zip.
 */
export async function openZip(path: string, limits: ZipLimits): Promise<ZipArchive> {
  const zip = await new Promise<ZipFile>((resolve, reject) =>
    yauzl.open(
      path,
      { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false },
      (err, file) => (err || !file ? reject(invalidZip()) : resolve(file)),
    )
  );
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw new ApiError(
        "too_many_entries",
        `The archive has ${zip.entryCount} entries; at most ${limits.maxEntries} are taken ` +
          "(IMPORT_ZIP_MAX_ENTRIES)",
      );
    }
    const entries = await new Promise<Entry[]>((resolve, reject) => {
      const found: Entry[] = [];
      let total = 0;
      zip.on("error", () => reject(invalidZip()));
      zip.on("end", () => resolve(found));
      zip.on("entry", (entry: Entry) => {
        if (!entry.fileName.endsWith("/")) {
          if (entry.uncompressedSize > limits.maxFileBytes) {
            return reject(tooLargeUncompressed(limits.maxFileBytes));
          }
          total += entry.uncompressedSize;
          if (total > limits.maxTotalBytes) {
            return reject(
              new ApiError(
                "payload_too_large",
                `The archive decompresses to more than ${limits.maxTotalBytes} bytes ` +
                  "(IMPORT_ZIP_MAX_TOTAL_BYTES)",
              ),
            );
          }
          found.push(entry);
        }
        zip.readEntry();
      });
      zip.readEntry();
    });
    return {
      names: entries.map((e) => e.fileName),
      read: (index) => readEntry(zip, entries[index], limits.maxFileBytes),
      close: () => zip.close(),
    };
  } catch (err) {
    zip.close();
    throw err;
  }
}

async function readEntry(
  zip: ZipFile,
  entry: Entry,
  maxBytes: number,
): Promise<Uint8Array> {
  const stream = await new Promise<Readable>((resolve, reject) =>
    zip.openReadStream(entry, (err, s) => (err || !s ? reject(invalidZip()) : resolve(s)))
  );
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      // yauzl also refuses an entry whose actual size differs from its declared one.
      if (total > maxBytes) throw tooLargeUncompressed(maxBytes);
      chunks.push(chunk);
    }
  } catch (err) {
    (stream as unknown as { destroy?: () => void }).destroy?.();
    if (err instanceof ApiError) throw err;
    throw invalidZip();
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
