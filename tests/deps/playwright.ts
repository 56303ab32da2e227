/**
 * Playwright's browser driver, for the pages' browser tests and bench (with Debian's chromium, no
 * browser download). Test- and bench-only, so it is imported here with its full npm: specifier
 * rather than from deno.json "imports", which the image installs.
 */
export { chromium } from "npm:playwright-core@^1.57.0";
export type { Browser, BrowserContext, Page } from "npm:playwright-core@^1.57.0";
