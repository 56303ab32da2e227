import type { Context } from "hono";
import { hashSecret } from "../auth/secrets.ts";
import type { AppEnv } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { findShare } from "./share_queries.ts";
import type { StreamMeta, StreamOwner } from "./store.ts";

/** Prefix of share-link secrets. */
export const shareTokenPrefix = "bpts_";

/**
 * Who is looking at streams (DESIGN §6):
 * - a rider sees their own streams and public ones;
 * - the shared key (and anonymous callers where ALLOW_ANONYMOUS_STREAMS is on) sees the shared
 *   streams (the old clients' broadcast model) and public ones, never a rider's private stream;
 * - a share-link holder sees the one stream the link is for, while its rider owns it.
 *
 * `tags` name the credentials, so revoking one ends the caller's open connections.
 */
export type StreamCaller =
  | { kind: "rider"; userId: string; tags: string[] }
  | { kind: "shared"; tags: string[]; anonymous: boolean }
  | { kind: "share"; shareId: string; userId: string; streamName: string; tags: string[] };

/** Whether a caller may read a stream (its entries, its SSE frames, its place in the list). */
export function canRead(caller: StreamCaller, name: string, meta: StreamMeta): boolean {
  if (meta.visibility === "public") return true;
  switch (caller.kind) {
    case "rider":
      return meta.owner === `user:${caller.userId}`;
    case "shared":
      return meta.owner === "shared";
    case "share":
      return name === caller.streamName && meta.owner === `user:${caller.userId}`;
  }
}

/** The old service's answer to a missing or bad shared key (COMPAT). */
function unauthorized(): ApiError {
  return new ApiError(401, "unauthorized", "Unauthorized: Invalid API Key", {
    extra: { hint: "Use the X-API-Key header for authentication" },
    headers: { "WWW-Authenticate": 'Bearer realm="bike-power-tracker"' },
  });
}

/** The caller as a stream owner, for writes: a rider, or the shared key / anonymous (if allowed). */
export function ownerOf(c: Context<AppEnv>): StreamOwner {
  const principal = c.get("principal");
  if (principal?.kind === "user") return `user:${principal.userId}`;
  if (principal?.kind === "legacy" || c.get("deps").config.allowAnonymousStreams) return "shared";
  throw unauthorized();
}

/** The caller of a read route; `share` is the `?share=` secret of a share link, if any. */
export async function streamCaller(
  c: Context<AppEnv>,
  share: string | undefined,
): Promise<StreamCaller> {
  if (share !== undefined) {
    const found = share.startsWith(shareTokenPrefix) && share.length <= 100
      ? await findShare(c.get("deps").sql, await hashSecret(share))
      : undefined;
    if (!found) {
      throw new ApiError(401, "invalid_share", "Share link is invalid, expired or revoked");
    }
    return {
      kind: "share",
      shareId: found.id,
      userId: found.userId,
      streamName: found.streamName,
      tags: [`share:${found.id}`, `user:${found.userId}`],
    };
  }
  const principal = c.get("principal");
  if (principal?.kind === "user") {
    const credential = principal.via === "token"
      ? `session:${principal.sessionId}`
      : `api_key:${principal.keyId}`;
    return {
      kind: "rider",
      userId: principal.userId,
      tags: [credential, `user:${principal.userId}`],
    };
  }
  if (principal?.kind === "legacy") return { kind: "shared", tags: [], anonymous: false };
  if (c.get("deps").config.allowAnonymousStreams) {
    return { kind: "shared", tags: [], anonymous: true };
  }
  throw unauthorized();
}
