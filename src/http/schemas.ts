import { z } from "@hono/zod-openapi";
import type { ErrorCode } from "../core/error_codes.ts";

/** A path parameter `id` holding a UUID; `message` is the 400's text when it is not one. */
export function uuidParam(message = "must be a UUID") {
  return z.uuid(message).openapi({ param: { name: "id", in: "path" } });
}

/** Path parameters `{ id }` for routes on one record. */
export function idParams(message?: string) {
  return z.object({ id: uuidParam(message) });
}

/** What a route behind `requireUser` can answer before its handler runs (bad or no credential). */
export const signedInErrors = [
  "unauthorized",
  "invalid_token",
  "invalid_api_key",
  "rider_not_registered",
  "rate_limited",
] as const satisfies readonly ErrorCode[];

/** What a route with a JSON body can answer before its handler runs (the body itself). */
export const jsonBodyErrors = [
  "bad_request",
  "validation_failed",
  "payload_too_large",
  "unsupported_media_type",
] as const satisfies readonly ErrorCode[];

/** A live stream's name (COMPAT: 1–64 letters, digits, _ and -); the 400 texts old clients match. */
export const streamNameSchema = z
  .string({ error: "streamName is required" })
  .min(1, "streamName is required")
  .max(64, "streamName must be at most 64 characters")
  .regex(/^[a-zA-Z0-9_-]+$/, "streamName must be alphanumeric (letters, digits, _ and -)");
