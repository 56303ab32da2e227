/**
 * A password-hashing worker (a module Web Worker started by password_pool.ts): it runs one
 * Argon2id hash or check per message, off the event loop that serves requests.
 */
import { hashPassword, type PasswordCost, verifyPassword } from "./passwords.ts";

/** A job the pool sends to a worker. */
export type PasswordJob =
  | { id: number; op: "hash"; password: string; cost: PasswordCost }
  | { id: number; op: "verify"; password: string; stored: string };

/** A worker's answer to one job: its value, or the message of what it threw. */
export type PasswordAnswer = { id: number; value: string | boolean } | {
  id: number;
  error: string;
};

// The worker's global scope, typed by hand: this file is checked with the window's lib.
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<PasswordJob>) => void) | null;
  postMessage(answer: PasswordAnswer): void;
};

scope.onmessage = async ({ data: job }) => {
  try {
    const value = job.op === "hash"
      ? await hashPassword(job.password, job.cost)
      : await verifyPassword(job.password, job.stored);
    scope.postMessage({ id: job.id, value });
  } catch (err) {
    scope.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
  }
};
