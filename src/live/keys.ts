/**
 * Every Redis key name of the service, in one place: each is the configured prefix (`bpt:` by
 * default, REDIS_KEY_PREFIX) followed by one of the names below; no module builds a key itself.
 *
 * Keys one module's Lua script reads or writes while another module owns them:
 * - streams/store.ts `postScript` (the legacy message POST) writes `workouts:active` (passed as
 *   KEYS[5]) and reads and refreshes the TTL of `workout:<id>` of the workout bound to the stream
 *   (live/workout_live.ts owns both). That workout id is only known inside the script (read from
 *   the stream's `stream:<name>:meta` hash in the same atomic call), so the key cannot be passed as
 *   a KEYS[] argument without a read round trip first, which a concurrent (re)binding could
 *   overtake. The script builds it as ARGV[7] .. id, ARGV[7] being {@linkcode LiveKeys.workoutPrefix}
 *   below, so that `workout(id)` here and that concatenation are the same string by construction.
 * @module
 */

/** The key names under one prefix. */
export function liveKeys(prefix: string) {
  const workoutPrefix = `${prefix}workout:`;
  return {
    /** The prefix itself, for scans in tests (`<prefix>*`); never a key. */
    prefix,

    // Workouts (live/workout_live.ts).
    /** Hash of a live workout: `user`, `state`, `closing_at`, `first`, `gap`. */
    workout: (id: string) => `${workoutPrefix}${id}`,
    /** The prefix of {@linkcode workout}, for streams/store.ts `postScript` (see the module doc). */
    workoutPrefix,
    /** Stream of a live workout's sample batches. */
    workoutSamples: (id: string) => `${workoutPrefix}${id}:samples`,
    /** Sorted set: live workout ids by last write (ms), for the idle sweeper. */
    workoutsActive: `${prefix}workouts:active`,
    /** Marker left for a minute after a workout's live keys are removed. */
    workoutEnded: (id: string) => `${prefix}workouts:ended:${id}`,

    // Legacy named live streams (streams/store.ts).
    /** The Redis stream of a named live stream. */
    stream: (name: string) => `${prefix}stream:${name}`,
    /** Hash of a named stream: `owner`, `workout`, `visibility`. */
    streamMeta: (name: string) => `${prefix}stream:${name}:meta`,
    /** Sorted set: stream names by last write (ms). */
    streams: `${prefix}streams`,
    /** Stream of `created` / `deleted` / `visibility` events, for SSE on every instance. */
    streamsEvents: `${prefix}streams:events`,
    /** Where a deleted stream's entries stay for 10 s (one per delete). */
    streamTombstone: (id: string) => `${prefix}streams:tombstone:${id}`,

    // SSE connection slots (streams/sse_slots.ts).
    /** Sorted set: the open SSE connections of one holder (rider, key, address), by lease end. */
    sseSlots: (holder: string) => `${prefix}sse:slots:${holder}`,

    // Credentials and limits (auth/revocations.ts, http/*).
    /** Stream of revoked sessions, keys, share links and users, read by every instance. */
    revocations: `${prefix}auth:revocations`,
    /** The prefix @upstash/ratelimit puts before its own key names (http/rate_limit.ts). */
    rateLimit: `${prefix}rate_limit`,
    /** Counter of one client address's credential failures in the window. */
    credentialFailures: (id: string) => `${prefix}credential_failures:${id}`,
    /** Sorted set: blocked client address digests by blocked-until (ms). */
    credentialBlocked: `${prefix}credential_failures:blocked`,
    /** Counter of sign-in attempts from one client address digest (http/login_limits.ts). */
    authLimitClient: (digest: string) => `${prefix}auth_limit:client:${digest}`,
    /** Counter of failed sign-ins of one account (email digest) since its last success. */
    authLimitAccount: (digest: string) => `${prefix}auth_limit:account:${digest}`,
  };
}

/** The key names {@linkcode liveKeys} builds. */
export type LiveKeys = ReturnType<typeof liveKeys>;
