/**
 * The OpenAPI 3.1 document validator http_test uses. Test-only, so it is imported here with its
 * full npm: specifier rather than from deno.json "imports", which the image installs.
 */
export { Validator } from "npm:@seriousme/openapi-schema-validator@^2.11.0";
