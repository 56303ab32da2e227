/**
 * docker-compose.prod.yml against the code: every variable it reads is in .env.prod.example, and
 * the API's environment, filled from the example as Compose fills it, is a valid production
 * configuration with no misspelt (silently ignored) names. `.ci/run` adds `config -q`.
 */
import assert from "node:assert/strict";
import { generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { configSchema, loadConfig } from "../src/core/config.ts";

const compose = await Deno.readTextFile(new URL("../docker-compose.prod.yml", import.meta.url));
const example = await Deno.readTextFile(new URL("../.env.prod.example", import.meta.url));

/** The example's NAME=value lines (Compose's env-file syntax: no quotes, no expansion). */
const exampleValues = new Map(
  example.split("\n")
    .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
);

/** Compose's interpolation of ${NAME}, ${NAME:-default} and ${NAME:?message} from `values`. */
function interpolate(text: string, values: Map<string, string>): string {
  return text.replace(
    /\$\{([A-Z][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g,
    (_, name: string, kind: string | undefined, rest: string | undefined) => {
      const value = values.get(name);
      if (value !== undefined && value !== "") return value;
      if (kind === ":-") return rest ?? "";
      throw new Error(`${name} is required by docker-compose.prod.yml: ${rest ?? "unset"}`);
    },
  );
}

/** The `environment:` map of one service, as written (two-space YAML, `KEY: value` lines). */
function serviceEnvironment(service: string): Record<string, string> {
  const lines = compose.split("\n");
  const start = lines.indexOf(`  ${service}:`);
  assert.ok(start >= 0, `no service ${service}`);
  const env: Record<string, string> = {};
  let inEnvironment = false;
  for (const line of lines.slice(start + 1)) {
    if (/^ {2}\S/.test(line) || /^\S/.test(line)) break; // the next service or section
    if (/^ {4}\S/.test(line)) inEnvironment = line.trim() === "environment:";
    const entry = inEnvironment && line.match(/^ {6}([A-Z][A-Z0-9_]*): (.*)$/);
    if (entry) env[entry[1]] = entry[2].replace(/^"(.*)"$/, "$1");
  }
  return env;
}

Deno.test(".env.prod.example sets every variable docker-compose.prod.yml reads", () => {
  const read = new Set([...compose.matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
  const missing = [...read].filter((name) => !exampleValues.has(name));
  assert.deepEqual(missing, []);
});

Deno.test("the API's environment in docker-compose.prod.yml names only variables the service reads", () => {
  const known = new Set(Object.keys(configSchema.shape));
  const unknown = Object.keys(serviceEnvironment("api")).filter((name) => !known.has(name));
  assert.deepEqual(unknown, []);
});

Deno.test("the API's environment, filled from .env.prod.example, is a valid production configuration", async () => {
  const values = new Map(exampleValues);
  // The example's key is a placeholder: a real one, in the one-line form `deno task keygen` prints.
  values.set("JWT_PRIVATE_KEY", (await generatePrivateKeyPem()).trim().replaceAll("\n", "\\n"));
  const env = Object.fromEntries(
    Object.entries(serviceEnvironment("api")).map(([name, value]) => [
      name,
      interpolate(value, values),
    ]),
  );
  const config = loadConfig(env);
  assert.equal(config.appEnv, "production");
  assert.ok(config.jwt.privateKeyPem?.includes("\n-----END PRIVATE KEY-----"));
  const db = new URL(config.databaseUrl);
  assert.equal(db.hostname, "timescaledb");
  assert.equal(db.username, values.get("POSTGRES_USER"));
  assert.equal(db.password, values.get("POSTGRES_PASSWORD"));
  assert.equal(config.redisRestUrl, "http://srh:80");
  assert.equal(config.redisRestToken, values.get("REDIS_REST_TOKEN"));
  assert.equal(config.trustedProxyHops, 1);
  assert.equal(config.allowAnonymousStreams, false);
  assert.equal(config.apiKey, undefined);
});

Deno.test("docker-compose.prod.yml pins every image to an exact version and checks every service", () => {
  const images = [...compose.matchAll(/^ {4}image: (.+)$/gm)].map((m) => m[1]);
  assert.ok(images.length >= 5, images.join(", "));
  for (const image of images) {
    assert.match(image, /:(\d+\.\d+\.\d+[\w.-]*|\$\{API_IMAGE_TAG[^}]*\})$/, image);
  }
  const section = compose.slice(compose.indexOf("\nservices:\n"), compose.indexOf("\nnetworks:\n"));
  const services = [...section.matchAll(/^ {2}([a-z][a-z0-9-]*):$/gm)].map((m) => m[1]);
  assert.deepEqual(services, ["timescaledb", "redis", "srh", "api", "proxy"]);
  for (const service of services) {
    const block = section.slice(section.indexOf(`  ${service}:\n`)).split(/\n {2}(?=[a-z])/)[0];
    assert.match(block, /\n {4}healthcheck:/, `${service} has no healthcheck`);
    assert.match(block, /\n {4}restart: unless-stopped/, `${service} has no restart policy`);
  }
});
