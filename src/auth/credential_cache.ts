/** What an API key stands for, as cached in memory. */
export type KeyOwner = { userId: string; keyId: string };

/**
 * In-memory caches that spare authentication a Postgres read per request: personal API keys by
 * hash (bounded, each entry kept `keyTtlMs`), the sessions already seen in Postgres, and the user
 * id of `API_KEY_RIDER`.
 * Revocations are checked against the revocation feed on every use, not here.
 */
export type CredentialCache = {
  /** The owner of a key hash, if cached and not expired. */
  key: (hash: string) => (KeyOwner & { touchedAt: number }) | undefined;
  /** Remembers a key hash's owner (forgetting the oldest entry when full). */
  setKey: (hash: string, owner: KeyOwner) => void;
  /** Forgets a key hash. */
  deleteKey: (hash: string) => void;
  /** How long a key stays cached, in ms (the revocation feed must retain entries this long). */
  keyTtlMs: number;
  /** True when this instance has seen the session in Postgres recently. */
  knownSession: (sessionId: string) => boolean;
  /** Remembers a session as seen until `untilMs`. */
  rememberSession: (sessionId: string, untilMs: number) => void;
  /** The resolved `API_KEY_RIDER`: its id, or none until `retryAt`. */
  rider: { id: string } | { id: undefined; retryAt: number } | undefined;
};

/** Builds empty caches. */
export function createCredentialCache(
  options: { keyTtlMs?: number; maxKeys?: number; maxSessions?: number } = {},
): CredentialCache {
  const keyTtlMs = options.keyTtlMs ?? 10 * 60_000;
  const maxKeys = options.maxKeys ?? 10_000;
  const maxSessions = options.maxSessions ?? 50_000;
  const keys = new Map<string, KeyOwner & { touchedAt: number; expiresAt: number }>();
  const sessions = new Map<string, number>();
  return {
    keyTtlMs,
    rider: undefined,
    key(hash) {
      const entry = keys.get(hash);
      if (!entry) return undefined;
      if (entry.expiresAt <= Date.now()) {
        keys.delete(hash);
        return undefined;
      }
      return entry;
    },
    setKey(hash, owner) {
      keys.delete(hash);
      if (keys.size >= maxKeys) keys.delete(keys.keys().next().value!);
      const now = Date.now();
      keys.set(hash, { ...owner, touchedAt: now, expiresAt: now + keyTtlMs });
    },
    deleteKey: (hash) => void keys.delete(hash),
    knownSession(sessionId) {
      const until = sessions.get(sessionId);
      if (until === undefined) return false;
      if (until > Date.now()) return true;
      sessions.delete(sessionId);
      return false;
    },
    rememberSession(sessionId, untilMs) {
      sessions.delete(sessionId);
      if (sessions.size >= maxSessions) sessions.delete(sessions.keys().next().value!);
      sessions.set(sessionId, untilMs);
    },
  };
}
