import type { StreamMeta } from "./store.ts";

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
