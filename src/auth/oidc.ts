import {
  createRemoteJWKSet,
  errors as jose,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import type { OidcProvider } from "../core/config.ts";
import { ApiError } from "../core/errors.ts";
import { safeEqual } from "../core/secrets.ts";

/** The only signature algorithms ID tokens are accepted with (asymmetric; never HMAC or none). */
const algorithms = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];
/** Clock skew allowed between the provider and this service. */
const clockToleranceS = 30;

/** What a verified ID token says about the rider. */
export type OidcIdentity = {
  provider: string;
  subject: string;
  email: string | undefined;
  /** True only when the provider says `email_verified: true` (a JSON boolean). */
  emailVerified: boolean;
  name: string | undefined;
};

/** Verifies ID tokens from the configured providers. */
export type OidcVerifier = {
  /** The configured provider names. */
  providers: string[];
  /** Checks signature, issuer, audience, expiry and nonce; throws ApiError 400/401/503. */
  verify: (provider: string, options: { idToken: string; nonce?: string }) => Promise<OidcIdentity>;
};

function invalid(message: string): ApiError {
  return new ApiError("invalid_id_token", message);
}

function unavailable(provider: string): ApiError {
  return new ApiError(
    "provider_unavailable",
    `The sign-in provider '${provider}' could not be reached; try again shortly`,
    { headers: { "Retry-After": "5" } },
  );
}

const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]"]);

async function discoverJwksUri(provider: OidcProvider, timeoutMs: number): Promise<URL> {
  const url = `${provider.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  const res = await fetch(url, {
    headers: { accept: "application/json" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`discovery answered ${res.status}`);
  }
  const doc = await res.json() as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== provider.issuer) {
    throw new Error(`discovery names issuer ${String(doc.issuer)}, not ${provider.issuer}`);
  }
  if (typeof doc.jwks_uri !== "string") throw new Error("discovery has no jwks_uri");
  const jwksUri = new URL(doc.jwks_uri);
  if (jwksUri.protocol !== "https:" && !loopbackHosts.has(jwksUri.hostname)) {
    throw new Error("jwks_uri is not https");
  }
  return jwksUri;
}

/** Which jose error means what to the client (anything else from jose: a malformed token). */
function describe(err: unknown): string {
  if (err instanceof jose.JWTExpired) {
    return err.claim === "exp" ? "ID token has expired" : "ID token was issued too long ago";
  }
  if (err instanceof jose.JWTClaimValidationFailed) {
    if (err.reason === "missing") return `ID token lacks the "${err.claim}" claim`;
    const byClaim: Record<string, string> = {
      iss: "ID token issuer does not match the provider",
      aud: "ID token audience is not this service's client id",
      nbf: "ID token is not valid yet",
      iat: "ID token is not valid yet",
    };
    return byClaim[err.claim] ?? `ID token claim "${err.claim}" is invalid`;
  }
  if (err instanceof jose.JWSSignatureVerificationFailed) return "ID token signature is invalid";
  if (err instanceof jose.JWKSNoMatchingKey || err instanceof jose.JWKSMultipleMatchingKeys) {
    return "ID token is signed with a key the provider does not publish";
  }
  if (err instanceof jose.JOSEAlgNotAllowed || err instanceof jose.JOSENotSupported) {
    return "ID token is signed with an algorithm that is not accepted";
  }
  return "ID token is malformed";
}

/**
 * Builds the verifier. Each provider's discovery document is fetched once (on first use; a failed
 * fetch is retried on the next sign-in) and its JWKS is one jose remote key set, reused by every
 * request: jose caches the keys and refetches them when a token names a key it has not seen.
 */
export function createOidcVerifier(
  options: {
    providers: OidcProvider[];
    httpTimeoutMs: number;
    jwksCooldownS: number;
    /** Told why a provider could not be used (for the log). */
    onUnavailable?: (provider: string, err: unknown) => void;
  },
): OidcVerifier {
  const byName = new Map(options.providers.map((provider) => [provider.name, provider]));
  const keySets = new Map<string, Promise<JWTVerifyGetKey>>();

  function keySet(provider: OidcProvider): Promise<JWTVerifyGetKey> {
    let pending = keySets.get(provider.name);
    if (!pending) {
      pending = discoverJwksUri(provider, options.httpTimeoutMs).then((uri) =>
        createRemoteJWKSet(uri, {
          timeoutDuration: options.httpTimeoutMs,
          cooldownDuration: options.jwksCooldownS * 1000,
        })
      );
      keySets.set(provider.name, pending);
      pending.catch(() => keySets.delete(provider.name));
    }
    return pending;
  }

  return {
    providers: [...byName.keys()],
    verify: async (name, { idToken, nonce }) => {
      const provider = byName.get(name);
      if (!provider) {
        const known = [...byName.keys()];
        throw new ApiError(
          "unknown_provider",
          known.length > 0
            ? `Unknown sign-in provider '${name}'; this service accepts: ${known.join(", ")}`
            : "No OpenID Connect providers are configured on this service",
        );
      }
      const getKey: JWTVerifyGetKey = async (header, token) => {
        const keys = await keySet(provider).catch((err) => {
          options.onUnavailable?.(provider.name, err);
          throw unavailable(provider.name);
        });
        try {
          return await keys(header, token);
        } catch (err) {
          // A key set that cannot be fetched or read is the provider's outage, not the client's.
          if (
            err instanceof jose.JWKSNoMatchingKey || err instanceof jose.JWKSMultipleMatchingKeys ||
            err instanceof jose.JOSENotSupported
          ) throw err;
          options.onUnavailable?.(provider.name, err);
          throw unavailable(provider.name);
        }
      };
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(idToken, getKey, {
          algorithms,
          issuer: provider.issuer,
          audience: provider.clientIds,
          requiredClaims: ["sub", "iat", "exp"],
          clockTolerance: clockToleranceS,
        }));
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw invalid(describe(err));
      }
      return checkClaims(provider, payload, nonce);
    },
  };
}

function checkClaims(
  provider: OidcProvider,
  payload: JWTPayload,
  nonce: string | undefined,
): OidcIdentity {
  if (nonce !== undefined) {
    if (typeof payload.nonce !== "string" || !safeEqual(payload.nonce, nonce)) {
      throw invalid("ID token nonce does not match the nonce sent");
    }
  } else if (payload.nonce !== undefined) {
    throw invalid("ID token carries a nonce; send the nonce your sign-in request used");
  }
  // Several audiences: the party the token was issued to (azp) must be this service.
  if (Array.isArray(payload.aud) && payload.aud.length > 1) {
    if (typeof payload.azp !== "string" || !provider.clientIds.includes(payload.azp)) {
      throw invalid("ID token was issued to another client (azp)");
    }
  }
  const subject = payload.sub;
  if (typeof subject !== "string" || subject.length === 0 || subject.length > 255) {
    throw invalid('ID token "sub" claim is invalid');
  }
  const email = typeof payload.email === "string" && payload.email.length <= 254 &&
      payload.email.includes("@")
    ? payload.email
    : undefined;
  const name = typeof payload.name === "string" && payload.name.trim().length > 0
    ? payload.name.trim().slice(0, 100)
    : undefined;
  return {
    provider: provider.name,
    subject,
    email,
    emailVerified: email !== undefined && payload.email_verified === true,
    name,
  };
}
