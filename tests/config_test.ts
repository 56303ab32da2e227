import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../src/core/config.ts";

Deno.test("loadConfig defaults point at the local services from deno task services", () => {
  const config = loadConfig({});
  assert.equal(config.port, 3000);
  assert.equal(config.databaseUrl, "postgres://postgres@127.0.0.1:55432/bpt");
  assert.equal(config.redisRestUrl, "http://127.0.0.1:58079");
  assert.equal(config.redisRestToken, "bpt-local-token");
  assert.equal(config.redisKeyPrefix, "bpt:");
  assert.deepEqual(config.corsOrigins, ["*"]);
  assert.equal(config.apiKey, undefined);
  assert.equal(config.migrateOnStart, true);
});

Deno.test("loadConfig reads a comma list of CORS origins and ignores empty variables", () => {
  const config = loadConfig({
    CORS_ORIGIN: "https://a.example, https://b.example",
    API_KEY: "",
    PORT: "8080",
    MIGRATE_ON_START: "false",
  });
  assert.deepEqual(config.corsOrigins, ["https://a.example", "https://b.example"]);
  assert.equal(config.apiKey, undefined);
  assert.equal(config.port, 8080);
  assert.equal(config.migrateOnStart, false);
});

Deno.test("loadConfig names every bad variable in one error", () => {
  assert.throws(
    () =>
      loadConfig({
        PORT: "eighty",
        DATABASE_URL: "mysql://nope",
        LOG_LEVEL: "loud",
        MIGRATE_ON_START: "maybe",
      }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      for (const name of ["PORT", "DATABASE_URL", "LOG_LEVEL", "MIGRATE_ON_START"]) {
        assert.match(err.message, new RegExp(`^  ${name}: `, "m"));
      }
      return true;
    },
  );
});

Deno.test("loadConfig requires JWT_PRIVATE_KEY in production", () => {
  assert.throws(() => loadConfig({ APP_ENV: "production" }), /JWT_PRIVATE_KEY: is required/);
});

Deno.test("loadConfig refuses the removed INSTANCES and reads REUSE_PORT", () => {
  assert.throws(
    () => loadConfig({ INSTANCES: "2" }),
    /^ {2}INSTANCES: is no longer read: .*REUSE_PORT/m,
  );
  assert.equal(loadConfig({}).reusePort, false);
  assert.equal(loadConfig({ REUSE_PORT: "true" }).reusePort, true);
});

Deno.test("loadConfig reads the pages' map tile server, none by default", () => {
  assert.deepEqual(loadConfig({}).mapTiles, { url: undefined, attribution: "" });
  const config = loadConfig({
    MAP_TILE_URL: "https://tile.example.org/{z}/{x}/{y}.png",
    MAP_TILE_ATTRIBUTION: "© Example contributors",
  });
  assert.deepEqual(config.mapTiles, {
    url: "https://tile.example.org/{z}/{x}/{y}.png",
    attribution: "© Example contributors",
  });
  assert.throws(
    () => loadConfig({ MAP_TILE_URL: "https://tile.example.org/tiles.png" }),
    /MAP_TILE_URL: must contain \{z\}, \{x\} and \{y\}/,
  );
});
