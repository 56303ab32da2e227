import { hashSecret, randomSecret } from "../core/secrets.ts";
import type { Config } from "../core/config.ts";
import { forbidden, invalid, notFound } from "../core/errors.ts";
import type { Sql } from "../db/client.ts";
import { shareTokenPrefix } from "./access.ts";
import type { Hub } from "./hub.ts";
import { insertShare, revokeShare, type StreamShare } from "./share_queries.ts";
import type { StreamStore, Visibility } from "./store.ts";

/** What share links and visibility use. */
export type ShareDeps = {
  config: Pick<Config, "shareLinkMaxDays">;
  sql: Sql;
  streams: StreamStore;
  hub: Hub;
  /** The revocation feed (src/auth/revocations.ts), so every instance ends the link's viewers. */
  revocations: { publish(revocation: { kind: "share"; id: string }): Promise<void> };
};

function notOwner() {
  return forbidden("Only the stream's owner may do that");
}

/**
 * Creates a share link of the rider's stream (or of a name not yet in use). `lifetime` reads
 * the requested minutes only once the stream is known to be the rider's, so another rider's
 * stream is a 403 whatever the body holds; default 24 h, at most SHARE_LINK_MAX_DAYS.
 */
export async function createShareLink(
  deps: ShareDeps,
  input: { userId: string; streamName: string; lifetime: () => Promise<number | undefined> },
): Promise<{ share: StreamShare; token: string }> {
  const { userId, streamName } = input;
  const meta = await deps.streams.meta(streamName);
  if (meta && meta.owner !== `user:${userId}`) throw notOwner();
  const maxMinutes = deps.config.shareLinkMaxDays * 24 * 60;
  const minutes = (await input.lifetime()) ?? 24 * 60;
  if (minutes > maxMinutes) {
    throw invalid(
      `expiresInMinutes must be at most ${maxMinutes} (${deps.config.shareLinkMaxDays} days)`,
    );
  }
  const token = `${shareTokenPrefix}${randomSecret()}`;
  const share = await insertShare(deps.sql, {
    userId,
    streamName,
    tokenHash: await hashSecret(token),
    expiresAt: new Date(Date.now() + minutes * 60_000),
  });
  return { share, token };
}

/** Revokes one of the rider's share links; its viewers on every instance are disconnected. */
export async function revokeShareLink(
  deps: ShareDeps,
  ids: { userId: string; streamName: string; shareId: string },
): Promise<void> {
  const revoked = await revokeShare(deps.sql, ids);
  if (!revoked) throw notFound("Share link");
  // The feed ends them on every instance; here at once.
  deps.hub.endTagged(`share:${ids.shareId}`);
  await deps.revocations.publish({ kind: "share", id: ids.shareId });
}

/** Makes the rider's stream public or private; 404 without a stream, 403 for another's. */
export async function changeVisibility(
  deps: ShareDeps,
  input: { userId: string; streamName: string; visibility: Visibility },
): Promise<void> {
  const meta = await deps.streams.meta(input.streamName);
  if (!meta) throw notFound("Stream");
  if (meta.owner !== `user:${input.userId}`) throw notOwner();
  if (!(await deps.streams.setVisibility(input.streamName, input.visibility))) {
    throw notFound("Stream");
  }
}
