import type { Context } from "hono";
import { hashSecret } from "../core/secrets.ts";
import { ApiError } from "../core/errors.ts";
import { shareTokenPrefix, type StreamCaller } from "../streams/access.ts";
import { findShare } from "../streams/share_queries.ts";
import type { StreamOwner } from "../streams/store.ts";
import type { AppEnv } from "./deps.ts";

/** The old service's answer to a missing or bad shared key (COMPAT). */
function unauthorized(): ApiError {
  return new ApiError("unauthorized", "Unauthorized: Invalid API Key", {
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
      throw new ApiError("invalid_share", "Share link is invalid, expired or revoked");
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
