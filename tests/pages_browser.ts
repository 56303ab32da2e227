/** Shared by the pages' browser tests and bench: the served app, Debian's chromium, screenshots. */
import { chromium } from "./deps/playwright.ts";
import type { Browser, Page } from "./deps/playwright.ts";
import type { TestApp } from "./support.ts";

// The callbacks given to page.evaluate run in the browser: its `document`, typed loosely here (the
// DOM library would clash with Deno's types across the whole check).
// deno-lint-ignore no-explicit-any
declare const document: any;

/** Debian's chromium (scripts/test.sh and .ci/run install it); CHROMIUM_PATH overrides. */
export const chromiumPath = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Serves a test app on a free local port; its address and a stop function. */
export function serveApp(t: Pick<TestApp, "app">) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => t.app.fetch(req, { remoteAddr: info.remoteAddr }),
  );
  return { origin: `http://127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

/** Headless chromium without a download (playwright-core with the system browser). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
}

/** The two widths the pages are looked at: a phone and a desktop. */
export const viewports = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1366, height: 900 },
} as const;

const shots = new URL("../.services/screenshots/", import.meta.url);

/** Writes a full-page screenshot of `page` at both widths (.services/screenshots, git-ignored). */
export async function screenshots(page: Page, name: string) {
  await Deno.mkdir(shots, { recursive: true });
  for (const [label, size] of Object.entries(viewports)) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150);
    await page.screenshot({
      path: new URL(`${name}-${label}.png`, shots).pathname,
      fullPage: true,
    });
  }
  await page.setViewportSize(viewports.desktop);
}

/** How many pixels of a canvas under `selector` are not blank (the chart has data drawn). */
export function drawnPixels(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    let count = 0;
    for (const canvas of document.querySelectorAll(sel)) {
      const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) count++;
    }
    return count;
  }, selector);
}
