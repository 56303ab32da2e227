import type { RouteHandler, z } from "@hono/zod-openapi";
import { userIdOf } from "../../http/authenticate.ts";
import type { AppEnv } from "../../http/deps.ts";
import type { ApiKey } from "../../auth/api_key_queries.ts";
import * as apiKeys from "../../auth/api_keys.ts";
import type * as specs from "./specs.ts";
import type { ApiKeySchema } from "./specs.ts";

function apiKeyJson(key: ApiKey): z.infer<typeof ApiKeySchema> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}

/** POST /api/users/me/api-keys: a new key, its secret shown once. */
export const createApiKey: RouteHandler<typeof specs.create, AppEnv> = async (c) => {
  const { key, secret } = await apiKeys.createApiKey(
    c.var.deps,
    userIdOf(c.var.principal),
    c.req.valid("json").name,
  );
  return c.json({ ...apiKeyJson(key), key: secret }, 201);
};

/** GET /api/users/me/api-keys: the caller's active keys. */
export const listApiKeys: RouteHandler<typeof specs.list, AppEnv> = async (c) => {
  const keys = await apiKeys.listOwnApiKeys(c.var.deps, userIdOf(c.var.principal));
  return c.json({ apiKeys: keys.map(apiKeyJson) }, 200);
};

/** DELETE /api/users/me/api-keys/{id}: revokes one of the caller's keys. */
export const revokeApiKey: RouteHandler<typeof specs.revoke, AppEnv> = async (c) => {
  await apiKeys.revokeOwnApiKey(c.var.deps, userIdOf(c.var.principal), c.req.valid("param").id);
  return c.body(null, 204);
};
