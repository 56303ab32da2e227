/**
 * The delivery worker, one per instance: every `pollMs` it claims due deliveries (for update skip
 * locked, so instances share the work without sending one delivery twice at once), POSTs each
 * signed body with a timeout and no redirects, and records the answer: a 2xx is delivered,
 * anything else is retried with capped exponential backoff and jitter until the event is
 * `retryHours` old, then marked failed. Faults (the database down, a receiver hanging) are
 * logged and retried on the next pass; they never end the process.
 * @module
 */
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/log.ts";
import { metrics } from "../core/metrics.ts";
import type { Sql } from "../db/client.ts";
import { refuseWebhookUrl } from "./address.ts";
import { claimDueDeliveries, type ClaimedDelivery, pruneEvents, recordAttempt } from "./queries.ts";
import { signatureHeader } from "./signing.ts";

/** Characters of a receiver's answer kept in the delivery log (the rest is never read). */
export const excerptChars = 256;
/** Deliveries claimed per pass and sent concurrently. */
const batchSize = 16;
/** Events older than this many days are deleted with their deliveries. */
const keepEventsDays = 30;

/** A started worker. */
export type DeliveryWorker = {
  /** Runs one pass now (claims and sends what is due); answers how many it sent. */
  runOnce(): Promise<number>;
  /** Stops polling and waits for the pass in flight (its sends end by their timeout). */
  stop(): Promise<void>;
};

/**
 * The delay before retry `attempts` + 1: base × 2^(attempts − 1), capped, with "equal jitter"
 * (half fixed, half random) so that hooks failing together do not retry in step.
 */
export function backoffMs(
  attempts: number,
  options: { baseMs: number; maxMs: number },
  random = Math.random,
): number {
  const capped = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(capped / 2 + random() * (capped / 2));
}

/** The JSON body of a delivery; the same bytes on every attempt of one event. */
export function deliveryBody(
  d: Pick<ClaimedDelivery, "eventId" | "eventType" | "occurredAt" | "data">,
): string {
  return JSON.stringify({
    id: d.eventId,
    type: d.eventType,
    occurredAt: d.occurredAt.toISOString(),
    data: d.data,
  });
}

/** Starts the worker of an instance (nothing polls when `pollMs` is 0; runOnce still works). */
export function startDeliveryWorker(
  deps: { sql: Sql; log: Logger; config: Pick<Config, "webhooks"> },
): DeliveryWorker {
  const options = deps.config.webhooks;
  // A claim outlives the slowest send, so it is never taken again while still being sent.
  const leaseMs = options.timeoutMs + 5000;
  const stopping = new AbortController();
  let current: Promise<number> | undefined;
  let prunedAt = -Infinity;

  async function send(d: ClaimedDelivery): Promise<void> {
    const body = deliveryBody(d);
    let statusCode: number | null = null;
    let error: string | null = null;
    let excerpt: string | null = null;
    try {
      // Checked again at send time: a host name may resolve elsewhere since it was saved.
      const refused = await refuseWebhookUrl(d.url, { allowPrivate: options.allowPrivate });
      if (refused) throw new Error(refused);
      const timestamp = Math.floor(Date.now() / 1000);
      const res = await fetch(d.url, {
        method: "POST",
        redirect: "manual", // a redirect is an answer, not followed (it could point inside)
        signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs), stopping.signal]),
        headers: {
          "content-type": "application/json",
          "user-agent": "bike-power-tracker-webhooks/1",
          "webhook-id": d.eventId,
          "webhook-signature": await signatureHeader(d.secret, timestamp, body),
        },
        body,
      });
      statusCode = res.status;
      excerpt = await readExcerpt(res);
      if (res.status < 200 || res.status > 299) error = `Receiver answered ${res.status}`;
    } catch (err) {
      if (stopping.signal.aborted) return; // shutting down: the lease runs out, sent again later
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    const delivered = error === null;
    const delay = backoffMs(d.attempts, {
      baseMs: options.backoffBaseMs,
      maxMs: options.backoffMaxMs,
    });
    const retryAt = new Date(Date.now() + delay);
    const deadline = d.occurredAt.getTime() + options.retryHours * 3_600_000;
    const giveUp = !delivered && retryAt.getTime() > deadline;
    await recordAttempt(deps.sql, {
      id: d.id,
      delivered,
      statusCode,
      error: error?.slice(0, 500) ?? null,
      excerpt,
      retryAt: delivered || giveUp ? null : retryAt,
    });
    metrics.webhookDeliveries.inc({
      outcome: delivered ? "delivered" : giveUp ? "failed" : "retry",
    });
    if (!delivered) {
      deps.log.info("webhook delivery failed", {
        deliveryId: d.id,
        attempts: d.attempts,
        err: error,
        retry: giveUp ? null : retryAt.toISOString(),
      });
    }
  }

  async function pass(): Promise<number> {
    if (Date.now() - prunedAt > 3_600_000) {
      prunedAt = Date.now();
      await pruneEvents(deps.sql, keepEventsDays);
    }
    const due = await claimDueDeliveries(deps.sql, { limit: batchSize, leaseMs });
    const results = await Promise.allSettled(due.map(send));
    for (const r of results) {
      if (r.status === "rejected") {
        deps.log.warn("webhook delivery not recorded; sent again after its lease", {
          err: String(r.reason),
        });
      }
    }
    return due.length;
  }

  function runOnce(): Promise<number> {
    current ??= pass().finally(() => current = undefined);
    return current;
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      // A full batch means more may be due: go again at once.
      while (!stopping.signal.aborted && (await runOnce()) === batchSize);
    } catch (err) {
      deps.log.warn("webhook delivery pass failed; retried on the next", { err: String(err) });
    }
    if (!stopping.signal.aborted) timer = setTimeout(tick, options.pollMs);
  };
  if (options.pollMs > 0) timer = setTimeout(tick, options.pollMs);

  return {
    runOnce,
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await current?.catch(() => {});
    },
  };
}

/** The first {@linkcode excerptChars} characters of an answer; the rest is not read. */
async function readExcerpt(res: Response): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < excerptChars) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // a broken answer body: its status is what counts
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.length > 0 ? text.slice(0, excerptChars) : null;
}
