import type { Logger } from "./core/log.ts";

/**
 * The process-level last line of defence against a dependency fault ending the process.
 *
 * A driver's socket callbacks and timers run with nothing of ours above them, so an error thrown
 * there (a dead socket written to, a reset connection whose error event nobody listens to) is
 * uncaught and would end the process with every in-flight request and SSE viewer. Those errors
 * are logged and the process keeps serving: the socket is already gone and the driver reconnects
 * on the next query. Anything else uncaught is a bug, and still ends the process loudly (after a
 * log line and exit code 1), so that it is seen and fixed rather than left running in an unknown state.
 */

/** Error codes of a dead or refused network connection (Node socket codes, postgres.js codes). */
const socketErrorCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ERR_STREAM_WRITE_AFTER_END",
  "ERR_STREAM_DESTROYED",
  "ERR_SOCKET_CLOSED",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/** True for an uncaught error that a dead database or Redis socket explains (not a bug). */
export function isDriverSocketError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && socketErrorCodes.has(code)) return true;
  if (/socket has been ended|broken pipe/i.test(err.message)) return true;
  // postgres.js 3.4.9's nextWrite on a closed connection (vendor/postgres/PATCHED.md): guarded in
  // the vendored copy; recognised here too in case the driver is ever swapped back unpatched.
  return err instanceof TypeError && /\(reading 'write'\)/.test(err.message) &&
    /postgres\/(?:[\w.-]+\/)?src\/connection\.js/.test(err.stack ?? "");
}

/** Keeps the process alive on driver socket errors nothing caught; lets every other one crash. */
export function installProcessGuard(log: Logger): void {
  const handle = (event: Event, err: unknown, kind: string) => {
    if (isDriverSocketError(err)) {
      event.preventDefault();
      log.warn("driver socket error caught at the process level; still serving", {
        kind,
        err: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
      return;
    }
    // A bug: end the process as Deno would (the error on stderr, a failing exit code), but
    // through Deno.exit so that the log line above is written first (the logger is batched).
    event.preventDefault();
    log.error("uncaught error; the process ends", {
      kind,
      err: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    console.error("error: Uncaught", err);
    Deno.exit(1);
  };
  globalThis.addEventListener("error", (event) => handle(event, event.error, "error"));
  globalThis.addEventListener(
    "unhandledrejection",
    (event) => handle(event, event.reason, "unhandledrejection"),
  );
}
