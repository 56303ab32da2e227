/**
 * A RESP Redis client, for the benches and the Redis REST bridge checks. Test- and bench-only, so
 * it is imported here with its full npm: specifier rather than from deno.json "imports".
 */
export { Redis } from "npm:ioredis@^5.11.1";
