import type { Sql } from "../db/client.ts";

/** A share link as its rider sees it (never the secret or its hash). */
export type StreamShare = {
  id: string;
  streamName: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
};

/** Stores a new share link of a rider's stream. */
export async function insertShare(
  sql: Sql,
  options: { userId: string; streamName: string; tokenHash: Uint8Array; expiresAt: Date },
): Promise<StreamShare> {
  const [share] = await sql<StreamShare[]>`
    insert into stream_shares (user_id, stream_name, token_hash, expires_at)
    values (${options.userId}, ${options.streamName}, ${options.tokenHash}, ${options.expiresAt})
    returning id, stream_name, created_at, expires_at, revoked_at
  `;
  return share;
}

/** A rider's share links of one stream, newest first (revoked and expired ones too). */
export async function listShares(
  sql: Sql,
  options: { userId: string; streamName: string },
): Promise<StreamShare[]> {
  return await sql<StreamShare[]>`
    select id, stream_name, created_at, expires_at, revoked_at
    from stream_shares
    where user_id = ${options.userId} and stream_name = ${options.streamName}
    order by created_at desc, id
  `;
}

/** Revokes one of a rider's share links; false when there is no such unrevoked link. */
export async function revokeShare(
  sql: Sql,
  options: { userId: string; streamName: string; shareId: string },
): Promise<boolean> {
  const rows = await sql`
    update stream_shares set revoked_at = now()
    where id = ${options.shareId} and user_id = ${options.userId}
      and stream_name = ${options.streamName} and revoked_at is null
    returning id
  `;
  return rows.length > 0;
}

/** The live (unrevoked, unexpired) share link with this secret's hash, if any. */
export async function findShare(
  sql: Sql,
  tokenHash: Uint8Array,
): Promise<{ id: string; userId: string; streamName: string; expiresAt: Date } | undefined> {
  const [share] = await sql<{ id: string; userId: string; streamName: string; expiresAt: Date }[]>`
    select id, user_id, stream_name, expires_at
    from stream_shares
    where token_hash = ${tokenHash} and revoked_at is null and expires_at > now()
  `;
  return share;
}
