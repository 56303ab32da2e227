import type { Sql } from "../db/client.ts";

/** A personal API key as its owner sees it (never the secret or its hash). */
export type ApiKey = {
  id: string;
  name: string;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
};

/** The result of trying to create a key: the key, or the cap that stopped it. */
export type InsertApiKeyResult = { ok: true; key: ApiKey } | { ok: false; active: number };

/**
 * Stores a new key for a rider unless they already have `max` active keys.
 *
 * The rider's row is locked while counting, so concurrent creations cannot exceed the cap.
 */
export async function insertApiKey(
  sql: Sql,
  options: { userId: string; name: string; prefix: string; keyHash: Uint8Array; max: number },
): Promise<InsertApiKeyResult> {
  return await sql.begin(async (tx): Promise<InsertApiKeyResult> => {
    await tx`select id from users where id = ${options.userId} for update`;
    const [{ active }] = await tx<{ active: number }[]>`
      select count(*)::int as active from api_keys
      where user_id = ${options.userId} and revoked_at is null
    `;
    if (active >= options.max) return { ok: false, active };
    const [key] = await tx<ApiKey[]>`
      insert into api_keys (user_id, name, prefix, key_hash)
      values (${options.userId}, ${options.name}, ${options.prefix}, ${options.keyHash})
      returning id, name, prefix, created_at, last_used_at
    `;
    return { ok: true, key };
  });
}

/** A rider's active (unrevoked) keys, newest first. */
export async function listApiKeys(sql: Sql, userId: string): Promise<ApiKey[]> {
  return await sql<ApiKey[]>`
    select id, name, prefix, created_at, last_used_at from api_keys
    where user_id = ${userId} and revoked_at is null
    order by created_at desc, id
  `;
}

/** Revokes one of the rider's active keys; false when they have no such active key. */
export async function revokeApiKey(
  sql: Sql,
  options: { userId: string; keyId: string },
): Promise<boolean> {
  const rows = await sql`
    update api_keys set revoked_at = now()
    where id = ${options.keyId} and user_id = ${options.userId} and revoked_at is null
    returning id
  `;
  return rows.length === 1;
}
