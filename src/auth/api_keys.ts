import { conflict, notFound } from "../core/errors.ts";
import type { Sql } from "../db/client.ts";
import { type ApiKey, insertApiKey, listApiKeys, revokeApiKey } from "./api_key_queries.ts";
import type { Revocations } from "./revocations.ts";
import { hashSecret, randomSecret } from "../core/secrets.ts";

/** Prefix of personal API keys. */
export const apiKeyPrefix = "bpt_";
/** Characters of a key kept in clear to tell keys apart (`bpt_` and 8 random ones). */
const shownPrefixLength = 12;

/** What managing a rider's API keys uses. */
export type ApiKeyDeps = {
  sql: Sql;
  config: { apiKeysPerUserMax: number };
  revocations: Revocations;
};

/** Creates a personal API key; answers it with its secret (never stored, shown once). */
export async function createApiKey(
  deps: ApiKeyDeps,
  userId: string,
  name: string,
): Promise<{ key: ApiKey; secret: string }> {
  const secret = `${apiKeyPrefix}${randomSecret(32)}`;
  const result = await insertApiKey(deps.sql, {
    userId,
    name,
    prefix: secret.slice(0, shownPrefixLength),
    keyHash: await hashSecret(secret),
    max: deps.config.apiKeysPerUserMax,
  });
  if (!result.ok) {
    throw conflict(
      "too_many_api_keys",
      `You already have ${result.active} API keys (the most allowed); revoke one first`,
    );
  }
  return { key: result.key, secret };
}

/** The rider's active API keys, newest first. */
export async function listOwnApiKeys(deps: ApiKeyDeps, userId: string): Promise<ApiKey[]> {
  return await listApiKeys(deps.sql, userId);
}

/** Revokes one of the rider's keys and tells every instance; 404 when it is not theirs. */
export async function revokeOwnApiKey(
  deps: ApiKeyDeps,
  userId: string,
  keyId: string,
): Promise<void> {
  const revoked = await revokeApiKey(deps.sql, { userId, keyId });
  if (!revoked) throw notFound("API key");
  await deps.revocations.publish({ kind: "api_key", id: keyId });
}
