import type { Context } from "hono";
import { ApiError, dependencyErrorKind, type ErrorBody, toApiError } from "../core/errors.ts";
import { metrics } from "../core/metrics.ts";
import type { Logger } from "../core/log.ts";

/** Builds the JSON error response for a context. */
export function errorResponse(c: Context, err: ApiError): Response {
  const body: ErrorBody = {
    error: err.message,
    code: err.code,
    requestId: c.get("requestId") ?? "",
    ...err.extra,
  };
  for (const [name, value] of Object.entries(err.headers)) c.header(name, value);
  return c.json(body, err.status);
}

/** Hono's onError handler: known errors keep their status, everything else is a fixed 500. */
export function handleError(log: Logger) {
  return (err: Error, c: Context): Response => {
    const failed = dependencyErrorKind(err);
    if (failed) metrics.dependencyErrors.inc(failed);
    const known = toApiError(err);
    if (known) {
      if (known.status >= 500) {
        log.warn("dependency unavailable", { requestId: c.get("requestId"), err: String(err) });
      }
      return errorResponse(c, known);
    }
    log.error("unhandled error", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      err: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    return errorResponse(
      c,
      new ApiError("internal_error", "Internal server error; the request id is in the log"),
    );
  };
}
