import { createRoute, z } from "@hono/zod-openapi";
import { errors, json, jsonBody } from "../../http/openapi.ts";
import { idParams, jsonBodyErrors, signedInErrors } from "../../http/schemas.ts";

const tags = ["API keys"];
const sessionSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }];
/** A key (personal, or the shared one) cannot manage keys: 403 session_required. */
const sessionErrors = [...signedInErrors, "session_required"] as const;

/** A personal API key as JSON (never its secret). */
export const ApiKeySchema = z
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

/** POST /api/users/me/api-keys */
export const create = createRoute({
  method: "post",
  path: "/",
  operationId: "createApiKey",
  tags,
  summary: "Create a personal API key (its secret is shown once)",
  security: sessionSecurity,
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
    ...errors(...jsonBodyErrors, ...sessionErrors, "too_many_api_keys"),
  },
});

/** GET /api/users/me/api-keys */
export const list = createRoute({
  method: "get",
  path: "/",
  operationId: "listApiKeys",
  tags,
  summary: "The signed-in rider's active API keys (never their secrets)",
  security: sessionSecurity,
  responses: {
    200: json(z.object({ apiKeys: z.array(ApiKeySchema) }), "Active keys, newest first"),
    ...errors(...sessionErrors),
  },
});

/** DELETE /api/users/me/api-keys/{id} */
export const revoke = createRoute({
  method: "delete",
  path: "/{id}",
  operationId: "revokeApiKey",
  tags,
  summary: "Revoke an API key (it answers 401 from then on)",
  security: sessionSecurity,
  request: { params: idParams() },
  responses: {
    204: { description: "Revoked" },
    ...errors("validation_failed", ...sessionErrors, "not_found", "revocation_pending"),
  },
});
