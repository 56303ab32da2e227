import { Buffer } from "node:buffer";
import {
  type CryptoKey,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importJWK,
  importPKCS8,
  jwtVerify,
  SignJWT,
} from "jose";

/** The only algorithm access tokens are signed and accepted with. */
export const accessTokenAlgorithm = "ES256";
const accessTokenType = "at+jwt";
/** How many verified access tokens are remembered (oldest forgotten first). */
const verifiedCacheSize = 10_000;
/** Clock difference between instances tolerated for a token's issue time, in seconds. */
const issuedAtSkewS = 5;

/** Signs and verifies the service's access tokens. */
export type TokenIssuer = {
  sign: (claims: { userId: string; sessionId: string }) => Promise<string>;
  verify: (token: string) => Promise<{ userId: string; sessionId: string }>;
  ttlS: number;
  publicJwk: Record<string, unknown>;
  /**
   * The CSRF token of a browser session: HMAC-SHA-256 of the session id under a key derived from
   * the signing key, so every instance computes the same one without storing anything.
   */
  csrfToken: (sessionId: string) => Promise<string>;
};

/** Makes a new ES256 private key as PKCS#8 PEM (for JWT_PRIVATE_KEY). */
export async function generatePrivateKeyPem(): Promise<string> {
  const { privateKey } = await generateKeyPair(accessTokenAlgorithm, { extractable: true });
  return exportPKCS8(privateKey);
}

/** Builds the token issuer from a PKCS#8 PEM private key and the expected issuer and audience. */
export async function createTokenIssuer(
  options: { privateKeyPem: string; issuer: string; audience: string; ttlS: number },
): Promise<TokenIssuer> {
  const privateKey = await importPKCS8(options.privateKeyPem, accessTokenAlgorithm, {
    extractable: true,
  });
  const { d: _d, ...publicJwk } = await exportJWK(privateKey);
  const publicKey = await importJWK(publicJwk, accessTokenAlgorithm) as CryptoKey;
  // A key of its own for CSRF tokens, derived from the private key (never the signing key itself).
  const csrfKey = await crypto.subtle.importKey(
    "raw",
    await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(`bpt csrf\n${options.privateKeyPem}`),
    ),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const verified = new Map<
    string,
    { claims: { userId: string; sessionId: string }; exp: number }
  >();
  return {
    ttlS: options.ttlS,
    publicJwk,
    csrfToken: async (sessionId) => {
      const mac = await crypto.subtle.sign("HMAC", csrfKey, new TextEncoder().encode(sessionId));
      return Buffer.from(mac).toString("base64url");
    },
    sign: ({ userId, sessionId }) =>
      new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: accessTokenAlgorithm, typ: accessTokenType })
        .setSubject(userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt()
        .setExpirationTime(`${options.ttlS}s`)
        .sign(privateKey),
    verify: async (token) => {
      // A signature check costs ~0.8 ms here; a token already verified is only re-checked for
      // expiry. (Revocation is checked per request elsewhere, against the session.)
      const cached = verified.get(token);
      if (cached && cached.exp * 1000 > Date.now()) return cached.claims;
      const { payload } = await jwtVerify(token, publicKey, {
        algorithms: [accessTokenAlgorithm],
        issuer: options.issuer,
        audience: options.audience,
        typ: accessTokenType,
        requiredClaims: ["sub", "sid", "exp", "iat"],
      });
      if (typeof payload.sub !== "string" || typeof payload.sid !== "string") {
        throw new Error("Token subject or session is not a string");
      }
      // jose checks iat only with maxTokenAge; a token "issued" in the future is not valid yet.
      if (payload.iat! > Date.now() / 1000 + issuedAtSkewS) {
        throw new Error("Token is issued in the future");
      }
      const claims = { userId: payload.sub, sessionId: payload.sid };
      if (verified.size >= verifiedCacheSize) verified.delete(verified.keys().next().value!);
      verified.set(token, { claims, exp: payload.exp! });
      return claims;
    },
  };
}
