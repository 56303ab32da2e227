import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, errorCodes } from "./error_codes.ts";

/** The one error body every failure answers with. */
export type ErrorBody = {
  error: string;
  code: ErrorCode;
  requestId: string;
  [extra: string]: unknown;
};

/** An error with a code from the closed vocabulary (which fixes its HTTP status) and a sentence. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: ContentfulStatusCode;
  readonly code: ErrorCode;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = errorCodes[code][0];
    this.code = code;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

/** Thrown when a dependency (database, Redis) cannot be reached. */
export class UnavailableError extends ApiError {
  constructor(what: string) {
    super("service_unavailable", `${what} is unavailable; try again shortly`, {
      headers: { "Retry-After": "5" },
    });
  }
}

const httpCodes: Record<number, [ErrorCode, string]> = {
  400: ["bad_request", "Bad request"],
  401: ["unauthorized", "Authentication required"],
  403: ["forbidden", "Forbidden"],
  404: ["not_found", "Not found"],
  405: ["method_not_allowed", "Method not allowed"],
  409: ["conflict", "Conflict"],
  413: ["payload_too_large", "Request body is too large"],
  415: ["unsupported_media_type", "Content-Type must be application/json"],
  422: ["unprocessable_entity", "Unprocessable entity"],
  429: ["rate_limited", "Too many requests"],
};

/** SQLSTATE classes and codes that describe the caller's mistake or an outage, not a bug. */
const sqlStates: Record<string, [ContentfulStatusCode, ErrorCode, string]> = {
  "23505": [409, "conflict", "A record with these values already exists"],
  "23503": [409, "conflict", "A related record does not exist"],
  "23514": [400, "invalid_value", "A value is out of the allowed range"],
  "22P02": [400, "invalid_value", "A value has the wrong format"],
  "22001": [400, "invalid_value", "A value is too long"],
  "22021": [400, "invalid_value", "A value contains a NUL character, which cannot be stored"],
  "22P05": [400, "invalid_value", "A value contains a NUL character, which cannot be stored"],
  "22003": [400, "invalid_value", "A number is out of range"],
  "57P01": [503, "service_unavailable", "The database is unavailable; try again shortly"],
  "57P03": [503, "service_unavailable", "The database is unavailable; try again shortly"],
  "53300": [503, "service_unavailable", "The database is overloaded; try again shortly"],
};

const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/** Turns any thrown value into an ApiError, or undefined when it is an unexpected bug. */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    const [code, fallback] = httpCodes[err.status] ??
      [err.status >= 500 ? "internal_error" : "bad_request", "Request failed"];
    const message = err.status === 415 ? fallback : err.message || fallback;
    return new ApiError(code, message);
  }
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") {
    const code = err.code;
    const known = sqlStates[code];
    if (known) return new ApiError(known[1], known[2]);
    if (code.startsWith("08") || connectionErrorCodes.has(code)) {
      return new UnavailableError("The database");
    }
  }
  // @upstash/redis throws UpstashError (HTTP failures, and error replies with the Redis error
  // text), live/transport.ts RestError (status 0 when unreachable or unanswered) and
  // RedisReplyError (one command's error reply): what Redis said decides (redisError).
  if (
    err instanceof Error &&
    (err.name === "UpstashError" || err.name === "UpstashJSONParseError" ||
      err.name === "RestError" || err.name === "RedisReplyError")
  ) {
    return redisError(err);
  }
  if (err instanceof TypeError && /fetch|connect|network|refused/i.test(err.message)) {
    return new UnavailableError("The live store (Redis)");
  }
  if (isClosedSocket(err)) return new UnavailableError("The database");
  return undefined;
}

/** What failed and how, for `bpt_dependency_errors_total` (a bounded set of kinds). */
export type DependencyErrorKind = { dependency: "postgres" | "redis"; kind: string };

/**
 * The dependency and kind of a database or Redis error, as toApiError reads it: the SQLSTATE or
 * connection error code for Postgres; for Redis the reply's first word (LOADING, ERR, …),
 * `http_<status>` when the endpoint answered an error, or `unreachable`. Undefined for anything
 * else (the caller's mistakes, bugs).
 */
export function dependencyErrorKind(err: unknown): DependencyErrorKind | undefined {
  if (err instanceof ApiError || err instanceof HTTPException) return undefined;
  if (
    err instanceof Error &&
    (err.name === "UpstashError" || err.name === "UpstashJSONParseError" ||
      err.name === "RestError" || err.name === "RedisReplyError")
  ) {
    const word = /^[A-Z]+(?=\b)/.exec(redisErrorText(err.message))?.[0];
    if (word && word.length <= 20) return { dependency: "redis", kind: word };
    if (err.name === "UpstashJSONParseError") return { dependency: "redis", kind: "bad_reply" };
    const status = (err as { status?: unknown }).status;
    return {
      dependency: "redis",
      kind: typeof status === "number" && status > 0 ? `http_${status}` : "unreachable",
    };
  }
  if (err instanceof TypeError && /fetch|connect|network|refused/i.test(err.message)) {
    return { dependency: "redis", kind: "unreachable" };
  }
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") {
    const code = err.code;
    if (/^[0-9A-Z]{5}$/.test(code) || connectionErrorCodes.has(code)) {
      return { dependency: "postgres", kind: code };
    }
  }
  if (isClosedSocket(err)) return { dependency: "postgres", kind: "closed_socket" };
  return undefined;
}

/** One Redis command's error reply (in a pipeline that itself succeeded). */
export class RedisReplyError extends Error {
  override name = "RedisReplyError";
}

/** Redis error replies that mean "not now" (loading, busy script, failover): retry shortly. */
const redisTransient = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|READONLY|OOM)\b/;
/** Redis error replies that describe the command sent, so ours (a bug) unless input caused it. */
const redisCommandError =
  /^(ERR|WRONGTYPE|EXECABORT|NOSCRIPT|NOGROUP|BUSYGROUP|NOPERM|NOAUTH|WRONGPASS|[A-Z]+ERR)\b/;

/** The Redis error text of a client error, without the client's wrapping. */
function redisErrorText(message: string): string {
  return message
    .replace(/^Command failed: /, "")
    .replace(/^Command \d+ \[ [^\]]* \] failed: /, "")
    .replace(/, command was: [\s\S]*$/, "");
}

/**
 * Maps a Redis client error: a transient reply or an unreachable, failing endpoint is an outage
 * (503, Retry-After); a reply about an invalid stream id is bad input (400); any other command
 * error is a bug (undefined: a logged 500), never reported as an outage.
 */
function redisError(err: Error): ApiError | undefined {
  const text = redisErrorText(err.message);
  if (redisTransient.test(text)) {
    return new UnavailableError("The live store (Redis)");
  }
  if (/^ERR max (daily |concurrent )?(requests?|connections?)\b.*(limit|exceeded)/i.test(text)) {
    return new UnavailableError("The live store (Redis)"); // an Upstash plan limit
  }
  if (/^ERR (Invalid stream ID|invalid (start|end) ID)/i.test(text)) {
    return new ApiError("invalid_value", "A stream id has the wrong format");
  }
  if (redisCommandError.test(text)) return undefined;
  // No Redis reply: the endpoint failed or could not be reached (RestError status 0 or 5xx,
  // UpstashJSONParseError for a proxy's HTML error page, Upstash's own 5xx).
  const status = (err as { status?: unknown }).status;
  if (typeof status === "number" && status >= 400 && status < 500 && status !== 429) {
    return undefined; // the endpoint refused what we sent (token, URL): a configuration bug
  }
  return new UnavailableError("The live store (Redis)");
}

/** Deno's node:net errors for a socket the other end closed ("socket has been ended", EPIPE). */
function isClosedSocket(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return code === "EPIPE" || code === "ERR_STREAM_WRITE_AFTER_END" ||
    code === "ERR_STREAM_DESTROYED" || code === "ERR_SOCKET_CLOSED" ||
    /socket has been ended|broken pipe/i.test(err.message);
}

/** A 404 for a resource the caller does not have: `notFound("Workout")` → "Workout not found". */
export function notFound(what: string): ApiError {
  return new ApiError("not_found", `${what} not found`);
}

/** A 400 for a parameter or field the schema could not check (zod checks the rest). */
export function invalid(message: string, code: ErrorCode = "validation_failed"): ApiError {
  return new ApiError(code, message);
}

/** A 403: the caller is known but may not do this. */
export function forbidden(message: string): ApiError {
  return new ApiError("forbidden", message);
}

/** A 409 (or the code's own status): the request conflicts with what is stored. */
export function conflict(code: ErrorCode, message: string): ApiError {
  return new ApiError(code, message);
}

/** A 503 with Retry-After: a dependency (database, Redis, identity provider) is down. */
export function unavailable(what: string): ApiError {
  return new UnavailableError(what);
}
