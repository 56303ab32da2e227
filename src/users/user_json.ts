import { z } from "@hono/zod-openapi";
import type { User } from "./queries.ts";

/** A rider's profile as the API returns it. */
export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.string().nullable(),
    displayName: z.string().nullable(),
    avatarUrl: z.string().nullable(),
    weightKg: z.number().nullable(),
    ftpWatts: z.number().int().nullable(),
    maxHr: z.number().int().nullable().openapi({ description: "bpm" }),
    restingHr: z.number().int().nullable().openapi({ description: "bpm, for TRIMP" }),
    lthr: z.number().int().nullable().openapi({
      description: "Lactate-threshold heart rate, bpm, for the LTHR zones",
    }),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
    lastLoginAt: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("User");

/** A rider's profile as JSON. */
export type UserJson = z.infer<typeof UserSchema>;

/** Serialises a user row for the API. */
export function userJson(user: User): UserJson {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    avatarUrl: user.avatarUrl,
    weightKg: user.weightKg,
    ftpWatts: user.ftpWatts,
    maxHr: user.maxHr,
    restingHr: user.restingHr,
    lthr: user.lthr,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
  };
}
