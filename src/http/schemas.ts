import { z } from "@hono/zod-openapi";

/** A path parameter `id` holding a UUID; `message` is the 400's text when it is not one. */
export function uuidParam(message = "must be a UUID") {
  return z.uuid(message).openapi({ param: { name: "id", in: "path" } });
}

/** Path parameters `{ id }` for routes on one record. */
export function idParams(message?: string) {
  return z.object({ id: uuidParam(message) });
}
