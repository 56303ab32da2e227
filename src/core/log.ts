/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A structured logger that writes one JSON object per line. */
export type Logger = {
  [L in LogLevel]: (msg: string, fields?: Record<string, unknown>) => void;
};

const ranks = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;

/**
 * Writes lines to standard output in batches: lines logged during one turn of the event loop
 * leave in one write (a write per line cost more than the request it described), and whatever is
 * pending is written before the process exits.
 */
export function batchedStdout(): (line: string) => void {
  const encoder = new TextEncoder();
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes = encoder.encode(pending.join("\n") + "\n");
    pending = [];
    for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
  };
  globalThis.addEventListener("unload", flush);
  return (line) => {
    if (pending.push(line) === 1) setTimeout(flush, 0);
  };
}

let stdoutWriter: ((line: string) => void) | undefined;

/** Creates a JSON-lines logger that drops lines below `level`. */
export function createLogger(
  level: LogLevel | "silent" = "info",
  write: (line: string) => void = stdoutWriter ??= batchedStdout(),
): Logger {
  const emit = (lineLevel: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (ranks[lineLevel] < ranks[level]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lineLevel, msg, ...fields }));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** A logger that adds `fields` to every line of `log`. */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  const wrap = (level: LogLevel) => (msg: string, more: Record<string, unknown> = {}) =>
    log[level](msg, { ...fields, ...more });
  return { debug: wrap("debug"), info: wrap("info"), warn: wrap("warn"), error: wrap("error") };
}
