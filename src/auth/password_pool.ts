import { ApiError, unavailable } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { PasswordAnswer, PasswordJob } from "./password_worker.ts";
import { hashPassword, type PasswordCost, verifyPassword } from "./passwords.ts";

/** Hashes and checks passwords (Argon2id, see passwords.ts), on worker threads when it has them. */
export type PasswordHasher = {
  /** Hashes a password with a fresh salt, as a PHC string. */
  hash(password: string, cost: PasswordCost): Promise<string>;
  /** Checks a password against a stored PHC hash. */
  verify(password: string, stored: string): Promise<boolean>;
  /** Jobs waiting for a free worker (not those being hashed). */
  queued(): number;
  /** Ends the workers; jobs still waiting fail with 503. */
  close(): void;
};

/** How the pool is sized: workers (0 hashes on the event loop) and the longest queue. */
export type PasswordPoolOptions = {
  workers: number;
  queueMax: number;
  log: Logger;
  /** The worker module (tests pass one that can crash); password_worker.ts by default. */
  workerUrl?: URL;
};

type Pending = {
  job: PasswordJob;
  resolve: (value: string | boolean) => void;
  reject: (err: unknown) => void;
};

function busy(): ApiError {
  return new ApiError(
    "password_checks_busy",
    "Too many sign-ins are being checked; try again shortly",
    {
      headers: { "Retry-After": "1" },
    },
  );
}

/**
 * A pool of module Web Workers for Argon2id. One hash with the shipped cost (19 MiB, 2 passes)
 * is ~50 ms of CPU in WebAssembly that never yields; on the event loop, four concurrent logins
 * held `/health` for 140–226 ms. Workers start on the first job and stay; each hashes one job
 * at a time, the rest wait in a queue of at most `queueMax` (then 503 `password_checks_busy`).
 * A worker that dies (an uncaught error) fails its job and is replaced for the next one.
 */
export function createPasswordHasher(options: PasswordPoolOptions): PasswordHasher {
  if (options.workers === 0) {
    return {
      hash: hashPassword,
      verify: verifyPassword,
      queued: () => 0,
      close: () => {},
    };
  }
  const url = options.workerUrl ?? new URL("./password_worker.ts", import.meta.url);
  const idle: Worker[] = [];
  const running = new Map<Worker, Pending>();
  const queue: Pending[] = [];
  let started = 0;
  let nextId = 0;
  let closed = false;

  const settle = (worker: Worker, answer: PasswordAnswer) => {
    const pending = running.get(worker);
    running.delete(worker);
    if (pending && pending.job.id === answer.id) {
      if ("error" in answer) pending.reject(new Error(answer.error));
      else pending.resolve(answer.value);
    }
    const next = queue.shift();
    if (next) send(worker, next);
    else idle.push(worker);
  };

  const died = (worker: Worker, reason: string) => {
    worker.terminate();
    started--;
    const pending = running.get(worker);
    running.delete(worker);
    options.log.warn("password worker died; a new one takes the next job", { err: reason });
    pending?.reject(new Error(`The password worker died: ${reason}`));
    const next = queue.shift();
    if (next && !closed) send(spawn(), next);
  };

  const spawn = (): Worker => {
    const worker = new Worker(url, { type: "module", name: "password" });
    started++;
    worker.onmessage = (event: MessageEvent<PasswordAnswer>) => settle(worker, event.data);
    worker.onerror = (event) => {
      event.preventDefault(); // else the worker's uncaught error ends the whole process
      died(worker, event.message);
    };
    worker.onmessageerror = () => died(worker, "an unreadable message");
    return worker;
  };

  const send = (worker: Worker, pending: Pending) => {
    running.set(worker, pending);
    worker.postMessage(pending.job);
  };

  const run = (job: PasswordJob) =>
    new Promise<string | boolean>((resolve, reject) => {
      if (closed) return reject(unavailable("Password checking"));
      const pending = { job, resolve, reject };
      const worker = idle.pop() ?? (started < options.workers ? spawn() : undefined);
      if (worker) return send(worker, pending);
      if (queue.length >= options.queueMax) return reject(busy());
      queue.push(pending);
    });

  return {
    hash: async (password, cost) =>
      await run({ id: nextId++, op: "hash", password, cost }) as string,
    verify: async (password, stored) =>
      await run({ id: nextId++, op: "verify", password, stored }) as boolean,
    queued: () => queue.length,
    close() {
      closed = true;
      for (const pending of [...queue.splice(0), ...running.values()]) {
        pending.reject(unavailable("Password checking"));
      }
      for (const worker of [...idle.splice(0), ...running.keys()]) worker.terminate();
      running.clear();
      started = 0;
    },
  };
}
