import { createRouter } from "../../http/openapi.ts";
import * as handlers from "./handlers.ts";
import * as specs from "./specs.ts";

/** Routes under /api/auth: register, login, OpenID Connect sign-in, refresh, logout (public). */
export function authRoutes() {
  const app = createRouter();
  app.openapi(specs.register, handlers.registerHandler);
  app.openapi(specs.login, handlers.loginHandler);
  app.openapi(specs.oidc, handlers.oidcHandler);
  app.openapi(specs.refresh, handlers.refreshHandler);
  app.openapi(specs.logout, handlers.logoutHandler);
  return app;
}
