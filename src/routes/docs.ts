import { Hono } from "hono";
import swaggerUiDist from "swagger-ui-dist";
import type { AppEnv } from "../http/deps.ts";

/** Swagger UI's files, served from the npm package itself so /docs works without a CDN. */
const assets = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
} as const;

const page = (specUrl: string) =>
  `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Bike Power Tracker API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js" data-spec="${specUrl}"></script>
</body>
</html>`;

// validatorUrl null: Swagger UI would otherwise show a badge image from an outside validator.
const init = `const spec = document.currentScript.dataset.spec;
window.ui = SwaggerUIBundle({
  url: spec, dom_id: "#docs", deepLinking: true, tryItOutEnabled: true, validatorUrl: null,
});`;

/**
 * What the page needs and nothing more: its own scripts and stylesheet, the inline SVG images of
 * Swagger UI's stylesheet (data:), fetches of the spec and of "Try it out" to this origin.
 */
export const docsContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Interactive API docs at /docs, rendering `specUrl` with Swagger UI. */
export function docsRoutes(specUrl: string) {
  const app = new Hono<AppEnv>();
  const cache = new Map<string, Uint8Array<ArrayBuffer>>();
  app.get("/", (c) => {
    c.header("Content-Security-Policy", docsContentSecurityPolicy);
    return c.html(page(specUrl));
  });
  app.get("/init.js", (c) => c.body(init, 200, { "content-type": assets["swagger-ui-bundle.js"] }));
  app.get("/:file{swagger-ui\\.css|swagger-ui-bundle\\.js}", async (c) => {
    const file = c.req.param("file") as keyof typeof assets;
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = await Deno.readFile(`${swaggerUiDist.getAbsoluteFSPath()}/${file}`);
      cache.set(file, bytes);
    }
    return c.body(bytes, 200, {
      "content-type": assets[file],
      "cache-control": "public, max-age=86400",
    });
  });
  return app;
}
