import { methodNotAllowed } from "hono/method-not-allowed";
import { secureHeaders } from "hono/secure-headers";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { authenticate } from "./http/authenticate.ts";
import { authRoutes } from "./routes/auth/mod.ts";
import type { AppEnv, Deps } from "./http/deps.ts";
import { ApiError } from "./core/errors.ts";
import { errorResponse, handleError } from "./http/error_response.ts";
import { healthRoutes } from "./routes/health.ts";
import { docsRoutes } from "./routes/docs.ts";
import {
  apiContentSecurityPolicy,
  corsHeaders,
  declaredBodyLimit,
  noStore,
  requestId,
  requestLog,
  requestMetrics,
} from "./http/middleware.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { credentialLimit } from "./http/credential_limit.ts";
import { compressAnswers } from "./http/compress.ts";
import { rateLimit } from "./http/rate_limit.ts";
import { createRouter, type OpenApiDocument, publicUnlessSecured } from "./http/openapi.ts";
import { userRoutes } from "./routes/users/mod.ts";
import { analyticsRoutes } from "./routes/analytics/mod.ts";
import { workoutRoutes } from "./routes/workouts/mod.ts";
import { streamRoutes } from "./routes/streams/mod.ts";
import { apiKeyRoutes } from "./routes/api_keys/mod.ts";
import { webhookRoutes } from "./routes/webhooks/mod.ts";
import { cookieCredentials } from "./http/browser_session.ts";
import { pagesRoutes } from "./pages/mod.tsx";

/** The service version reported in the OpenAPI document. */
export const version = "0.1.0";

/** Builds the HTTP app around its dependencies; does no I/O until a request arrives. */
export function createApp(deps: Deps): OpenAPIHono<AppEnv> {
  const app = createRouter({ cacheMatches: true });
  const origins = deps.config.corsOrigins;

  app.use(
    requestMetrics,
    requestId,
    async (c, next) => {
      c.set("deps", deps);
      c.set("principal", null);
      await next();
    },
    requestLog,
    // Nothing here sets X-Powered-By, so there is nothing to remove on every response. A route
    // that sets one of these headers itself keeps it (overwrite: false): /docs sets its own CSP.
    secureHeaders({
      crossOriginResourcePolicy: "cross-origin",
      removePoweredBy: false,
      contentSecurityPolicy: apiContentSecurityPolicy,
      overwrite: false,
    }),
    corsHeaders({
      origins,
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      allowHeaders: ["Content-Type", "Authorization", "X-API-Key", "X-Request-Id"],
      exposeHeaders: [
        "X-Request-Id",
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
      ],
      maxAge: 600,
    }),
    declaredBodyLimit(deps.config.bodyLimitBytes, () => {
      throw new ApiError(
        "payload_too_large",
        `Request body is larger than ${deps.config.bodyLimitBytes} bytes`,
      );
    }),
    // Innermost of the global middleware, so the log, security headers and CORS see the 405 it
    // makes of a 404 on a path some route answers for another method. Hono lists GET, HEAD and
    // the route methods; OPTIONS is answered for every path (CORS), so it is listed too.
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) => {
        c.header("Allow", [...methods, "OPTIONS"].join(", "));
        return errorResponse(
          c,
          new ApiError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}`),
        );
      },
    }),
  );
  // Failed credentials are counted around `authenticate`, and a blocked client is refused before
  // its credential is checked; the request limit needs the principal, so it comes after.
  app.use("/api/*", noStore, compressAnswers);
  // The pages' session cookie stands for a Bearer token; a state change also needs its CSRF token.
  app.use("/api/*", cookieCredentials);
  if (deps.config.credentialFailures.perClient > 0) app.use("/api/*", credentialLimit(deps));
  app.use("/api/*", authenticate);
  if (deps.config.rateLimitPerMinute > 0) app.use("/api/*", rateLimit(deps));

  app.route("/", healthRoutes());
  // Without a token, /metrics is not on the API's port (404): METRICS_PORT may serve it apart.
  if (deps.config.metrics.token) app.route("/", metricsRoutes(deps.config.metrics.token));
  app.route("/api/auth", authRoutes());
  app.route("/api/users", userRoutes());
  app.route("/api/workouts", workoutRoutes());
  app.route("/api/analytics", analyticsRoutes());
  app.route("/api/streams", streamRoutes());
  app.route("/api/users/me/api-keys", apiKeyRoutes());
  app.route("/api/webhooks", webhookRoutes());

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "Access token from /api/auth/login or /api/auth/refresh",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKeyAuth", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description: "A personal API key (bpt_…) or the deployment's shared API_KEY",
  });
  // Generated once, on the first request: the routes are all registered by then.
  let document: OpenApiDocument | undefined;
  app.get("/openapi.json", (c) =>
    c.json(
      document ??= publicUnlessSecured(app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "Bike Power Tracker API",
          version,
          description: "Live power, cadence and heart-rate streams, archived rides and analytics.",
        },
        servers: [{ url: "/", description: "The deployment serving this document" }],
        tags: [
          { name: "Health", description: "Liveness and the state of the database and Redis" },
          { name: "Auth", description: "Registration, sign-in, token refresh and sign-out" },
          { name: "Users", description: "The signed-in rider's profile and account" },
          { name: "API keys", description: "Personal API keys for devices and scripts" },
          { name: "Workouts", description: "Live and archived rides, their samples and files" },
          { name: "Analytics", description: "Totals, power curves and history over rides" },
          {
            name: "Webhooks",
            description: "Signed deliveries of workout events to a rider's URLs",
          },
          {
            name: "Live streams (legacy)",
            description: "The old clients' /api/streams: live messages and SSE",
          },
        ],
      })),
    ));
  app.route("/docs", docsRoutes("/openapi.json"));
  app.route("/", pagesRoutes(deps));

  app.notFound((c) =>
    errorResponse(c, new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}`))
  );
  app.onError(handleError(deps.log));
  return app;
}
