/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A structured logger that writes one JSON object per line. */
export type Logger = {
  [L in LogLevel]: (msg: string, fields?: Record<string, unknown>) => void;
};

const ranks = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;

/** Creates a JSON-lines logger that drops lines below `level`. */
export function createLogger(
  level: LogLevel | "silent" = "info",
  write: (line: string) => void = console.log,
): Logger {
  const emit = (lineLevel: LogLevel) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (ranks[lineLevel] < ranks[level]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lineLevel, msg, ...fields }));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
