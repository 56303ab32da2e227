import { createMiddleware } from "hono/factory";
import { onRoutes, requireUser } from "../../http/authenticate.ts";
import type { AppEnv } from "../../http/deps.ts";
import { ApiError } from "../../core/errors.ts";
import { createRouter } from "../../http/openapi.ts";
import * as handlers from "./handlers.ts";
import * as specs from "./specs.ts";

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

/** Routes under /api/users/me/api-keys: create, list and revoke personal API keys. */
export function apiKeyRoutes() {
  const app = createRouter();
  app.use(onRoutes(requireUser, requireSession));
  app.openapi(specs.create, handlers.createApiKey);
  app.openapi(specs.list, handlers.listApiKeys);
  app.openapi(specs.revoke, handlers.revokeApiKey);
  return app;
}
