import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Hook } from "@hono/zod-openapi";
import type { Result, Router } from "hono/router";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import type { AppEnv } from "./deps.ts";
import { type ErrorCode, errorCodeList, errorCodes } from "../core/error_codes.ts";
import { ApiError } from "../core/errors.ts";

/** The error envelope, as documented; `code` is one of the closed vocabulary. */
export const ErrorSchema = z
  .object({
    error: z.string().openapi({ example: "Invalid JSON body: email: Invalid email address" }),
    code: z.enum(errorCodeList).openapi({ example: "validation_failed" }),
    requestId: z.string(),
  })
  .catchall(z.unknown())
  .openapi("Error", {
    description: "Every failure answers with this body. Codes: " +
      errorCodeList.map((code) => `\`${code}\` (${errorCodes[code][0]}): ${errorCodes[code][1]}`)
        .join("; "),
  });

/** A JSON response entry for createRoute's `responses`. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

/** A JSON request body entry for createRoute's `request.body`. */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { content: { "application/json": { schema } }, required: true };
}

const statusDescriptions: Record<number, string> = {
  400: "Invalid input",
  401: "Missing or invalid credentials",
  403: "Not allowed",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflict with existing data",
  413: "Body too large",
  415: "Unsupported body type",
  422: "Input is well-formed but unacceptable",
  429: "Too many requests",
  500: "A bug",
  503: "A dependency is unavailable",
};

/**
 * Error responses for createRoute's `responses`, from the codes an operation can answer with:
 * grouped by their status, each code a named example.
 */
export function errors(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = errorCodes[code][0];
    byStatus.set(status, [...byStatus.get(status) ?? [], code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [status, {
      description: statusDescriptions[status] ?? "Error",
      content: {
        "application/json": {
          schema: ErrorSchema,
          examples: Object.fromEntries(list.map((code) => [code, {
            summary: errorCodes[code][1],
            value: {
              error: errorCodes[code][1],
              code,
              requestId: "5f0c6e1e-3b7a-4e43-9d4b-6a1d2f9c7e21",
            },
          }])),
        },
      },
    }]),
  );
}

const targets: Record<string, string> = {
  json: "JSON body",
  query: "query string",
  param: "path",
  header: "headers",
  form: "form body",
  cookie: "cookies",
};

/** Most issues a 400 lists, and the longest path or message it repeats back. */
const maxIssues = 20;
const maxIssueText = 200;

/** Cuts text an attacker controls (key names in zod's messages) to a sane length. */
function shorten(text: string): string {
  return text.length > maxIssueText ? `${text.slice(0, maxIssueText)}…` : text;
}

/** Turns a zod validation failure into the 400 error envelope, naming the first bad fields. */
export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  // A batch of samples names its first bad sample: 422 with its index and field.
  const sample = result.target === "json"
    ? result.error.issues.find((i) => i.path[0] === "samples" && typeof i.path[1] === "number")
    : undefined;
  if (sample) {
    const [, index, field] = sample.path;
    const message = typeof field === "string" && !sample.message.startsWith(field)
      ? `${field}: ${sample.message}`
      : sample.message;
    throw new ApiError("invalid_sample", `Sample ${String(index)}: ${message}`, {
      extra: { index, field: field ?? null },
    });
  }
  // A body with 300,000 unknown keys must not get a 7 MB answer listing each of them.
  const issues = result.error.issues.slice(0, maxIssues).map((issue) => ({
    path: shorten(issue.path.join(".")),
    message: shorten(issue.message),
  }));
  const described = issues.slice(0, 3).map((issue) =>
    issue.path ? `${issue.path}: ${issue.message}` : issue.message
  );
  throw new ApiError(
    "validation_failed",
    `Invalid ${targets[result.target] ?? result.target}: ${described.join("; ")}`,
    { extra: { issues } },
  );
};

/** Either credential a signed-in rider can use, for createRoute's `security`. */
export const userSecurity: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyAuth: [] }];

/** The OpenAPI 3.1 document a router generates. */
export type OpenApiDocument = ReturnType<OpenAPIHono<AppEnv>["getOpenAPI31Document"]>;

const operationMethods = [
  "get",
  "put",
  "post",
  "delete",
  "options",
  "head",
  "patch",
  "trace",
] as const;

/**
 * Marks every operation that declares no `security` as public (`security: []`): routes that need
 * a credential declare it (`userSecurity`), so the rest need none, and saying so lets readers and
 * linters tell a public operation from a forgotten declaration.
 */
export function publicUnlessSecured(document: OpenApiDocument): OpenApiDocument {
  for (const item of Object.values(document.paths ?? {})) {
    for (const method of operationMethods) {
      const operation = item[method];
      if (operation && operation.security === undefined) operation.security = [];
    }
  }
  return document;
}

/** A router whose validation failures answer with the error envelope. */
export function createRouter(options: { cacheMatches?: boolean } = {}): OpenAPIHono<AppEnv> {
  // strict: false — "/api/streams/" answers like "/api/streams", as the old Express service did.
  return new OpenAPIHono<AppEnv>({
    defaultHook: validationHook,
    strict: false,
    ...(options.cacheMatches ? { router: new CachedRouter(defaultRouter()) } : {}),
  });
}

/** Hono's default router: RegExpRouter, or TrieRouter when RegExpRouter cannot take the routes. */
function defaultRouter<T>(): Router<T> {
  return new SmartRouter<T>({ routers: [new RegExpRouter<T>(), new TrieRouter<T>()] });
}

/**
 * A router that keeps the last matches per method and path, at most `max` of them.
 *
 * This app's routes make RegExpRouter give up (`/api/users/me/api-keys/:id` beside
 * `/api/users/:id`), so Hono searches its TrieRouter on every request: about 7% of a legacy
 * message POST's CPU. A rider posts to the same path every second, so the answer is reused. Hono
 * only reads a match result, so sharing one between requests is safe.
 */
export class CachedRouter<T> implements Router<T> {
  #inner: Router<T>;
  #cache = new Map<string, Result<T>>();
  #max: number;

  constructor(inner: Router<T>, max = 10_000) {
    this.#inner = inner;
    this.#max = max;
  }

  get name(): string {
    return `cached ${this.#inner.name}`;
  }

  add(method: string, path: string, handler: T): void {
    this.#inner.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    const key = `${method} ${path}`;
    let result = this.#cache.get(key);
    if (result === undefined) {
      result = this.#inner.match(method, path);
      if (this.#cache.size >= this.#max) this.#cache.clear();
      this.#cache.set(key, result);
    }
    return result;
  }
}
