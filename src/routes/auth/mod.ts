import { createRouter } from "../../http/openapi.ts";
import * as handlers from "./handlers.ts";
import * as specs from "./specs.ts";

/** Routes under /api/auth: register, login, OpenID Connect sign-in, refresh, logout (public). */
export function authRoutes() {
  const app = createRouter();
  app.openapi(specs.register, handlers.register);
  app.openapi(specs.login, handlers.login);
  app.openapi(specs.oidc, handlers.signInWithOidc);
  app.openapi(specs.refresh, handlers.refreshTokens);
  app.openapi(specs.logout, handlers.logout);
  return app;
}
