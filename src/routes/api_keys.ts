import { createRoute, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/deps.ts";
import { ApiError } from "../core/errors.ts";
import { createRouter, errors, json, jsonBody } from "../http/openapi.ts";
import { type ApiKey, insertApiKey, listApiKeys, revokeApiKey } from "../auth/api_key_queries.ts";
import { apiKeyPrefix, requireUser, userIdOf } from "../http/authenticate.ts";
import { hashSecret, randomSecret } from "../auth/secrets.ts";

const tags = ["API keys"];
/** Characters of a key kept in clear to tell keys apart (`bpt_` and 8 random ones). */
const shownPrefixLength = 12;

const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().openapi({
      example: "bpt_Xy3kQ9aB",
      description: "The key's first characters",
    }),
    createdAt: z.string().openapi({ format: "date-time" }),
    lastUsedAt: z.string().nullable().openapi({
      format: "date-time",
      description: "Last use, updated at most once a minute",
    }),
  })
  .openapi("ApiKey");

const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().openapi({
    example: "bpt_Xy3kQ9aBWc1n…",
    description: "The secret, shown only in this answer; send it as X-API-Key",
  }),
}).openapi("CreatedApiKey");

/**
 * Only a Bearer session (a rider who signed in) may manage keys: a key (personal, or the shared
 * key acting as `API_KEY_RIDER`) cannot mint keys.
 */
const requireSession = createMiddleware<AppEnv>(async (c, next) => {
  const principal = c.var.principal;
  if (principal?.kind === "legacy" || (principal?.kind === "user" && principal.via === "api_key")) {
    throw new ApiError(
      "session_required",
      "API keys are managed from a signed-in session (Bearer token), not with an API key",
    );
  }
  await next();
});

const sessionSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }];

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a personal API key (its secret is shown once)",
  security: sessionSecurity,
  middleware: [requireUser, requireSession] as const,
  request: {
    body: jsonBody(
      z.object({
        name: z.string().trim().min(1, "must not be blank").max(100).openapi({
          example: "Garage trainer",
        }),
      }).strict(),
    ),
  },
  responses: {
    201: json(CreatedApiKeySchema, "The new key with its secret"),
    ...errors(
      "validation_failed",
      "unauthorized",
      "forbidden",
      "conflict",
      "unsupported_media_type",
    ),
  },
});

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The signed-in rider's active API keys (never their secrets)",
  security: sessionSecurity,
  middleware: [requireUser, requireSession] as const,
  responses: {
    200: json(z.object({ apiKeys: z.array(ApiKeySchema) }), "Active keys, newest first"),
    ...errors("unauthorized", "forbidden"),
  },
});

const revoke = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Revoke an API key (it answers 401 from then on)",
  security: sessionSecurity,
  middleware: [requireUser, requireSession] as const,
  request: { params: z.object({ id: z.uuid("must be a UUID") }) },
  responses: {
    204: { description: "Revoked" },
    ...errors("validation_failed", "unauthorized", "forbidden", "not_found"),
  },
});

function apiKeyJson(key: ApiKey): z.infer<typeof ApiKeySchema> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}

/** Routes under /api/users/me/api-keys: create, list and revoke personal API keys. */
export function apiKeyRoutes() {
  const app = createRouter();

  app.openapi(create, async (c) => {
    const { sql, config } = c.var.deps;
    const secret = `${apiKeyPrefix}${randomSecret(32)}`;
    const result = await insertApiKey(sql, {
      userId: userIdOf(c.var.principal),
      name: c.req.valid("json").name,
      prefix: secret.slice(0, shownPrefixLength),
      keyHash: await hashSecret(secret),
      max: config.apiKeysPerUserMax,
    });
    if (!result.ok) {
      throw new ApiError(
        "too_many_api_keys",
        `You already have ${result.active} API keys (the most allowed); revoke one first`,
      );
    }
    return c.json({ ...apiKeyJson(result.key), key: secret }, 201);
  });

  app.openapi(list, async (c) => {
    const keys = await listApiKeys(c.var.deps.sql, userIdOf(c.var.principal));
    return c.json({ apiKeys: keys.map(apiKeyJson) }, 200);
  });

  app.openapi(revoke, async (c) => {
    const keyId = c.req.valid("param").id;
    const revoked = await revokeApiKey(c.var.deps.sql, {
      userId: userIdOf(c.var.principal),
      keyId,
    });
    if (!revoked) throw new ApiError("not_found", "API key not found");
    await c.var.deps.revocations.publish({ kind: "api_key", id: keyId });
    return c.body(null, 204);
  });

  return app;
}
