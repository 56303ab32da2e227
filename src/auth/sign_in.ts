import { ApiError, conflict } from "../core/errors.ts";
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/log.ts";
import type { Sql } from "../db/client.ts";
import { findLogin, getUser, insertUser, touchLogin, type User } from "../users/queries.ts";
import { signInWithIdentity } from "./identity_queries.ts";
import { createOidcVerifier, type OidcVerifier } from "./oidc.ts";
import type { PasswordHasher } from "./password_pool.ts";
import type { Revocations } from "./revocations.ts";
import { hashSecret, randomSecret } from "../core/secrets.ts";
import {
  findSessionByRefreshToken,
  insertSession,
  revokeSession,
  rotateRefreshToken,
} from "./session_queries.ts";
import type { TokenIssuer } from "./tokens.ts";

/** What signing in, refreshing and signing out use. */
export type SignInDeps = {
  sql: Sql;
  config: Pick<Config, "passwordCost" | "refreshTokenTtlDays" | "oidc">;
  tokens: TokenIssuer;
  revocations: Revocations;
  log: Logger;
  passwords: Pick<PasswordHasher, "hash" | "verify">;
};

/** Counts password attempts per account (src/http/login_limits.ts, bound to its Redis). */
export type AccountAttempts = {
  /** Counts one attempt; throws 429 once the account's failures exceed the limit. */
  limit(email: string): Promise<void>;
  /** Forgets the account's failures after a success. */
  reset(email: string): Promise<void>;
};

/** The tokens of a session, as the API returns them. */
export type Tokens = {
  tokenType: "Bearer";
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
};

/** A signed-in rider and the tokens of their new session. */
export type SignedIn = { user: User; tokens: Tokens };

/** A hash that no password matches; verified against for unknown emails to equalise timing. */
let decoyHash: Promise<string> | undefined;

/** One verifier per app's dependencies: it caches each provider's discovery and keys. */
const verifiers = new WeakMap<SignInDeps, OidcVerifier>();

async function issueTokens(deps: SignInDeps, userId: string): Promise<Tokens> {
  const refresh = randomSecret();
  const session = await insertSession(deps.sql, {
    userId,
    tokenHash: await hashSecret(refresh),
    ttlDays: deps.config.refreshTokenTtlDays,
  });
  return {
    tokenType: "Bearer",
    accessToken: await deps.tokens.sign({ userId, sessionId: session }),
    expiresIn: deps.tokens.ttlS,
    refreshToken: refresh,
  };
}

function badCredentials(): ApiError {
  return new ApiError("invalid_credentials", "Invalid email or password");
}

/** Creates a password account and signs it in; 409 when the email is taken. */
export async function register(
  deps: SignInDeps,
  input: { email: string; password: string; displayName?: string },
): Promise<SignedIn> {
  const passwordHash = await deps.passwords.hash(input.password, deps.config.passwordCost);
  const user = await insertUser(deps.sql, {
    email: input.email,
    passwordHash,
    displayName: input.displayName ?? null,
  }).catch((err) => {
    if (err?.code === "23505") {
      throw conflict("email_taken", "An account with this email already exists");
    }
    throw err;
  });
  return { user, tokens: await issueTokens(deps, user.id) };
}

/**
 * Signs in with email and password. An unknown email costs one password check too, so the time
 * taken tells nothing about whether the account exists.
 */
export async function signIn(
  deps: SignInDeps,
  attempts: AccountAttempts,
  input: { email: string; password: string },
): Promise<SignedIn> {
  await attempts.limit(input.email);
  const account = await findLogin(deps.sql, input.email);
  if (!account?.passwordHash) {
    // A failed hash (a full queue) is not kept: the next unknown email tries again.
    decoyHash ??= deps.passwords.hash(randomSecret(), deps.config.passwordCost).catch((err) => {
      decoyHash = undefined;
      throw err;
    });
    await deps.passwords.verify(input.password, await decoyHash);
    throw badCredentials();
  }
  if (!(await deps.passwords.verify(input.password, account.passwordHash))) throw badCredentials();
  await attempts.reset(input.email);
  await touchLogin(deps.sql, account.id);
  const user = await getUser(deps.sql, account.id);
  if (!user) throw badCredentials();
  return { user, tokens: await issueTokens(deps, account.id) };
}

/** Signs in with an OpenID Connect ID token, creating or linking the account as needed. */
export async function signInWithOidc(
  deps: SignInDeps,
  input: { provider: string; idToken: string; nonce?: string },
): Promise<SignedIn> {
  let verifier = verifiers.get(deps);
  if (!verifier) {
    verifier = createOidcVerifier({
      ...deps.config.oidc,
      onUnavailable: (provider, err) =>
        deps.log.warn("sign-in provider unavailable", { provider, err: String(err) }),
    });
    verifiers.set(deps, verifier);
  }
  const identity = await verifier.verify(input.provider, input);
  const result = await signInWithIdentity(deps.sql, identity);
  if (!result.ok) {
    throw conflict(
      "email_not_verified",
      "An account with this email already exists and the provider has not verified the " +
        "email, so it is not linked; sign in with your password",
    );
  }
  const user = await getUser(deps.sql, result.userId);
  if (!user) throw new ApiError("invalid_id_token", "The account no longer exists");
  return { user, tokens: await issueTokens(deps, user.id) };
}

const refreshFailures = {
  unknown: "Refresh token is not valid",
  expired: "Refresh token has expired; sign in again",
  revoked: "Session has ended; sign in again",
  reused: "Refresh token was already used; the session has been revoked, sign in again",
};

/**
 * Exchanges a refresh token for new tokens (the old one stops working). A reused token revokes
 * its whole session on every instance (except within `reuseGraceS` of its first use, for browser
 * sessions, where the session's tokens are confirmed without rotating).
 */
export async function refreshSession(
  deps: SignInDeps,
  refreshToken: string,
  options: { reuseGraceS?: number } = {},
): Promise<Tokens & { rotated: boolean }> {
  const next = randomSecret();
  const result = await rotateRefreshToken(deps.sql, {
    tokenHash: await hashSecret(refreshToken),
    newTokenHash: await hashSecret(next),
    ttlDays: deps.config.refreshTokenTtlDays,
    reuseGraceS: options.reuseGraceS,
  });
  if (!result.ok && result.reason === "reused") {
    // Every instance must refuse the family's access tokens now, not when they expire.
    await deps.revocations.publish({ kind: "session", id: result.sessionId });
  }
  if (!result.ok) throw new ApiError("invalid_refresh_token", refreshFailures[result.reason]);
  return {
    tokenType: "Bearer",
    accessToken: await deps.tokens.sign(result),
    expiresIn: deps.tokens.ttlS,
    // Within the grace the presented token stays the session's (the new one was never stored).
    refreshToken: result.rotated ? next : refreshToken,
    rotated: result.rotated,
  };
}

/**
 * Ends a session: the one of `refreshToken` when given, else the caller's Bearer session
 * (`bearer`); 401 when neither names one.
 */
export async function signOut(
  deps: SignInDeps,
  input: { refreshToken?: string; bearer?: { sessionId: string; userId: string } },
): Promise<void> {
  const session = input.refreshToken
    ? await findSessionByRefreshToken(deps.sql, await hashSecret(input.refreshToken))
    : input.bearer;
  if (!session) {
    throw new ApiError("invalid_refresh_token", "Give a valid refresh token or Bearer token");
  }
  await revokeSession(deps.sql, { ...session, reason: "logout" });
  // After the commit: the feed tells every instance (a retry publishes again).
  await deps.revocations.publish({ kind: "session", id: session.sessionId });
}
