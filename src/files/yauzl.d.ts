// The part of yauzl's API that src/files/zip.ts uses. @types/yauzl is not used: it pulls in
// @types/node, whose globals replace Deno's Web Crypto types (tests/security stopped checking).

import type { Readable } from "node:stream";

/** One central-directory record. */
export interface Entry {
  fileName: string;
  compressedSize: number;
  uncompressedSize: number;
}

/** An open archive; with lazyEntries, `readEntry()` emits the next `entry` (or `end`). */
export interface ZipFile {
  entryCount: number;
  readEntry(): void;
  openReadStream(entry: Entry, callback: (err: Error | null, stream?: Readable) => void): void;
  close(): void;
  on(event: "entry", listener: (entry: Entry) => void): this;
  on(event: "end" | "close", listener: () => void): this;
  on(event: "error", listener: (err: Error) => void): this;
}

/** Options of `open`. */
export interface Options {
  lazyEntries?: boolean;
  autoClose?: boolean;
  validateEntrySizes?: boolean;
  strictFileNames?: boolean;
}

/** Opens the zip file at `path`, reading its central directory's end record. */
export function open(
  path: string,
  options: Options,
  callback: (err: Error | null, zipfile?: ZipFile) => void,
): void;

declare const yauzl: { open: typeof open };
export default yauzl;
