import { createRoute, z } from "@hono/zod-openapi";
import { requireUser, userIdOf } from "../auth/middleware.ts";
import { ApiError } from "../errors.ts";
import { createRouter, errors, json, jsonBody, userSecurity } from "../http/openapi.ts";
import { getUser, updateProfile, type User } from "./queries.ts";

/** A rider's profile as the API returns it. */
export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.string().nullable(),
    displayName: z.string().nullable(),
    avatarUrl: z.string().nullable(),
    weightKg: z.number().nullable(),
    ftpWatts: z.number().int().nullable(),
    maxHr: z.number().int().nullable(),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
    lastLoginAt: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("User");

/** Serialises a user row for the API. */
export function userJson(user: User): z.infer<typeof UserSchema> {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    avatarUrl: user.avatarUrl,
    weightKg: user.weightKg,
    ftpWatts: user.ftpWatts,
    maxHr: user.maxHr,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
  };
}

const getMe = createRoute({
  method: "get",
  path: "/me",
  tags: ["Users"],
  summary: "The signed-in rider's profile",
  security: userSecurity,
  middleware: [requireUser] as const,
  responses: { 200: json(UserSchema, "Profile"), ...errors(401) },
});

const ProfilePatchSchema = z
  .object({
    displayName: z.string().trim().min(1).max(100).nullable(),
    avatarUrl: z.url({ protocol: /^https?$/ }).max(2048).nullable(),
    weightKg: z.number().gt(0).lt(500).nullable(),
    ftpWatts: z.number().int().min(1).max(3000).nullable(),
    maxHr: z.number().int().min(1).max(299).nullable(),
  })
  .partial()
  .strict()
  .openapi("ProfilePatch");

const patchMe = createRoute({
  method: "patch",
  path: "/me",
  tags: ["Users"],
  summary: "Change the signed-in rider's profile (null clears a field)",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { body: jsonBody(ProfilePatchSchema) },
  responses: { 200: json(UserSchema, "Updated profile"), ...errors(400, 401, 415) },
});

/** Routes under /api/users. */
export function userRoutes() {
  const app = createRouter();

  app.openapi(getMe, async (c) => {
    const user = await getUser(c.var.deps.sql, userIdOf(c.var.principal));
    if (!user) throw new ApiError(404, "not_found", "User not found");
    return c.json(userJson(user), 200);
  });

  app.openapi(patchMe, async (c) => {
    const user = await updateProfile(
      c.var.deps.sql,
      userIdOf(c.var.principal),
      c.req.valid("json"),
    );
    if (!user) throw new ApiError(404, "not_found", "User not found");
    return c.json(userJson(user), 200);
  });

  return app;
}
