import { ApiError } from "../core/errors.ts";
import { looksLikeFit } from "./fit.ts";
import type { RideFormat } from "./ride_file.ts";

/** Content types that name one format. */
const declared: Record<string, RideFormat> = {
  "application/vnd.ant.fit": "fit",
  "application/fit": "fit",
  "application/gpx+xml": "gpx",
  "application/vnd.garmin.tcx+xml": "tcx",
  "text/csv": "csv",
};

/** Content types whose format is told by the bytes (magic number or root element). */
const sniffed = new Set([
  "application/octet-stream",
  "application/xml",
  "text/xml",
  "text/plain",
  // A gzip of any of the formats (told by its magic bytes, src/files/gzip.ts).
  "application/gzip",
  "application/x-gzip",
  // A zip archive of ride files (a Strava or Garmin export): an import job.
  "application/zip",
  "application/x-zip-compressed",
]);

/** Every Content-Type the import route takes for a raw file body. */
export const fileContentTypes = [...Object.keys(declared), ...sniffed];

const extensions: Record<string, RideFormat> = { fit: "fit", gpx: "gpx", tcx: "tcx", csv: "csv" };

/** The media type without parameters, lowercased. */
export function essence(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

/** True when a Content-Type is one the import route takes as a raw ride file. */
export function isFileContentType(contentType: string | null | undefined): boolean {
  const type = essence(contentType);
  return type in declared || sniffed.has(type);
}

function unsupported(): ApiError {
  return new ApiError(
    "unsupported_file",
    "Unrecognised file: send a FIT, TCX, GPX or CSV ride file",
  );
}

/**
 * The format of an uploaded file: a FIT header (".FIT" at byte 8) wins; a declared specific
 * Content-Type is trusted (its parser reports a corrupt file as 400); otherwise the XML root
 * (`<gpx`, `<TrainingCenterDatabase`), a CSV header or the file name's extension decides.
 * Anything else is a 415.
 */
export function detectFormat(
  bytes: Uint8Array,
  options: { contentType?: string | null; filename?: string | null } = {},
): RideFormat {
  if (looksLikeFit(bytes)) return "fit";
  const type = essence(options.contentType);
  if (declared[type]) return declared[type];
  const head = new TextDecoder().decode(bytes.subarray(0, 4096)).replace(/^\uFEFF/, "")
    .trimStart();
  if (head.startsWith("<")) {
    if (/<(\w+:)?gpx[\s>]/.test(head)) return "gpx";
    if (/<(\w+:)?TrainingCenterDatabase[\s>]/.test(head)) return "tcx";
  }
  const firstLine = head.split(/\r?\n/)[0].toLowerCase();
  if (
    /^"?(epoch_ms|time|timestamp)"?\s*,/.test(firstLine) ||
    /,\s*"?(epoch_ms|time|timestamp)"?(,|$)/.test(firstLine)
  ) {
    return "csv";
  }
  const ext = options.filename?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext && extensions[ext]) return extensions[ext];
  throw unsupported();
}
