import type { Sql } from "../db/client.ts";

/** Starts a session with its first refresh token. */
export async function insertSession(
  sql: Sql,
  options: { userId: string; tokenHash: Uint8Array; ttlDays: number },
): Promise<string> {
  return await sql.begin(async (tx) => {
    const [session] = await tx<{ id: string }[]>`
      insert into auth_sessions (user_id) values (${options.userId}) returning id
    `;
    await tx`
      insert into refresh_tokens (session_id, user_id, token_hash, expires_at)
      values (${session.id}, ${options.userId}, ${options.tokenHash},
        now() + make_interval(days => ${options.ttlDays}))
    `;
    return session.id;
  });
}

/** The outcome of presenting a refresh token. */
export type RotateResult =
  | { ok: true; userId: string; sessionId: string; rotated: boolean }
  | { ok: false; reason: "unknown" | "expired" | "revoked" }
  | { ok: false; reason: "reused"; sessionId: string };

/**
 * Exchanges a refresh token for a new one in the same session.
 *
 * A token that was already used revokes its whole session (the family), as a stolen copy may be
 * in someone else's hands — unless it was used less than `reuseGraceS` seconds ago (browser
 * sessions: requests in flight together carry the same cookie): then the session is confirmed
 * without a new token (`rotated: false`).
 */
export async function rotateRefreshToken(
  sql: Sql,
  options: {
    tokenHash: Uint8Array;
    newTokenHash: Uint8Array;
    ttlDays: number;
    reuseGraceS?: number;
  },
): Promise<RotateResult> {
  return await sql.begin(async (tx): Promise<RotateResult> => {
    const [token] = await tx<
      {
        id: string;
        sessionId: string;
        userId: string;
        expired: boolean;
        usedAt: Date | null;
        recentlyUsed: boolean;
        revokedAt: Date | null;
      }[]
    >`
      select t.id, t.session_id, t.user_id, t.expires_at <= now() as expired, t.used_at,
        -- No grace (the JSON API): never recent. now() is this transaction's start, which can be
        -- before the used_at a concurrent refresh wrote while this one waited for the row lock.
        coalesce(${options.reuseGraceS ?? 0} > 0
          and t.used_at > now() - make_interval(secs => ${options.reuseGraceS ?? 0}), false)
          as recently_used,
        s.revoked_at
      from refresh_tokens t
      join auth_sessions s on s.id = t.session_id
      where t.token_hash = ${options.tokenHash}
      for update of t, s
    `;
    if (!token) return { ok: false, reason: "unknown" };
    if (token.revokedAt) return { ok: false, reason: "revoked" };
    if (token.usedAt && token.recentlyUsed && !token.expired) {
      return { ok: true, userId: token.userId, sessionId: token.sessionId, rotated: false };
    }
    if (token.usedAt) {
      await tx`
        update auth_sessions set revoked_at = now(), revoked_reason = 'refresh token reused'
        where id = ${token.sessionId}
      `;
      return { ok: false, reason: "reused", sessionId: token.sessionId };
    }
    if (token.expired) return { ok: false, reason: "expired" };
    await tx`update refresh_tokens set used_at = now() where id = ${token.id}`;
    await tx`
      insert into refresh_tokens (session_id, user_id, token_hash, expires_at)
      values (${token.sessionId}, ${token.userId}, ${options.newTokenHash},
        now() + make_interval(days => ${options.ttlDays}))
    `;
    return { ok: true, userId: token.userId, sessionId: token.sessionId, rotated: true };
  });
}

/** Finds the session a refresh token belongs to. */
export async function findSessionByRefreshToken(
  sql: Sql,
  tokenHash: Uint8Array,
): Promise<{ sessionId: string; userId: string } | undefined> {
  const [row] = await sql<{ sessionId: string; userId: string }[]>`
    select session_id, user_id from refresh_tokens where token_hash = ${tokenHash}
  `;
  return row;
}

/** Revokes a session: its access and refresh tokens stop working. */
export async function revokeSession(
  sql: Sql,
  options: { sessionId: string; userId: string; reason: string },
): Promise<void> {
  await sql`
    update auth_sessions set revoked_at = now(), revoked_reason = ${options.reason}
    where id = ${options.sessionId} and user_id = ${options.userId} and revoked_at is null
  `;
}

/** True when the session exists for that user and is not revoked. */
export async function isSessionActive(
  sql: Sql,
  options: { sessionId: string; userId: string },
): Promise<boolean> {
  const [row] = await sql`
    select 1 as ok from auth_sessions
    where id = ${options.sessionId} and user_id = ${options.userId} and revoked_at is null
  `;
  return Boolean(row);
}

/** Finds the owner of an unrevoked personal API key and records its use (at most once a minute). */
export async function useApiKey(
  sql: Sql,
  keyHash: Uint8Array,
): Promise<{ userId: string; keyId: string } | undefined> {
  const [row] = await sql<{ userId: string; keyId: string }[]>`
    with key as (
      select id, user_id, last_used_at from api_keys
      where key_hash = ${keyHash} and revoked_at is null
    ), touched as (
      update api_keys set last_used_at = now()
      where id = (select id from key)
        and (last_used_at is null or last_used_at < now() - interval '1 minute')
    )
    select user_id, id as key_id from key
  `;
  return row;
}

/** Records a cached key's use (at most once a minute); used off the request path. */
export async function touchApiKey(sql: Sql, keyId: string): Promise<void> {
  await sql`
    update api_keys set last_used_at = now()
    where id = ${keyId} and (last_used_at is null or last_used_at < now() - interval '1 minute')
  `;
}
