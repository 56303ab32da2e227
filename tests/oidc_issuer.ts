/** A real OpenID Connect issuer on loopback for tests: discovery, a JWKS, and token signing. */
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";

type Key = { kid: string; privateKey: CryptoKey; publicKey: CryptoKey };

/** A running test issuer. */
export type TestIssuer = {
  /** The issuer URL (`http://127.0.0.1:<port>`), as in its discovery document and tokens. */
  url: string;
  /** Requests served so far, by path. */
  requests: { discovery: number; jwks: number };
  /** Signs an ID token with the current key; `claims` override or (as undefined) remove claims. */
  sign: (
    claims: Record<string, unknown>,
    options?: { key?: Key; alg?: string },
  ) => Promise<string>;
  /** Makes a key that is not published (yet). */
  newKey: () => Promise<Key>;
  /** Publishes a new key, makes it the signing key and (optionally) drops the old ones. */
  rotate: (options?: { dropOld?: boolean }) => Promise<Key>;
  close: () => Promise<void>;
};

async function makeKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid: crypto.randomUUID(), privateKey, publicKey };
}

/** Starts an issuer on 127.0.0.1, port 0, with one published RS256 key. */
export async function startIssuer(options: { clientId: string }): Promise<TestIssuer> {
  let published: Key[] = [await makeKey()];
  let current = published[0];
  const requests = { discovery: 0, jwks: 0 };
  let url = "";
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/.well-known/openid-configuration") {
      requests.discovery++;
      return Response.json({
        issuer: url,
        jwks_uri: `${url}/jwks`,
        authorization_endpoint: `${url}/authorize`,
        response_types_supported: ["id_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
      });
    }
    if (path === "/jwks") {
      requests.jwks++;
      const keys = await Promise.all(published.map(async (key) => ({
        ...(await exportJWK(key.publicKey)),
        kid: key.kid,
        alg: "RS256",
        use: "sig",
      })));
      return Response.json({ keys });
    }
    return new Response("not found", { status: 404 });
  });
  url = `http://127.0.0.1:${server.addr.port}`;

  return {
    url,
    requests,
    newKey: makeKey,
    sign: (claims, signOptions = {}) => {
      const key = signOptions.key ?? current;
      const now = Math.floor(Date.now() / 1000);
      const payload: JWTPayload = {
        iss: url,
        aud: options.clientId,
        sub: crypto.randomUUID(),
        iat: now,
        exp: now + 300,
        ...claims,
      };
      for (const [name, value] of Object.entries(payload)) {
        if (value === undefined) delete payload[name];
      }
      return new SignJWT(payload)
        .setProtectedHeader({ alg: signOptions.alg ?? "RS256", kid: key.kid, typ: "JWT" })
        .sign(key.privateKey);
    },
    rotate: async ({ dropOld = false } = {}) => {
      current = await makeKey();
      published = dropOld ? [current] : [...published, current];
      return current;
    },
    close: () => server.shutdown(),
  };
}

/** A loopback URL on which nothing listens (a port just released). */
export async function closedLoopbackUrl(): Promise<string> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(),
  );
  const port = server.addr.port;
  await server.shutdown();
  return `http://127.0.0.1:${port}`;
}
