import { createHash } from "node:crypto";
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import leafletJs from "leaflet/dist/leaflet.js" with { type: "text" };
import leafletCss from "leaflet/dist/leaflet.css" with { type: "text" };
import appCss from "./static/app.css" with { type: "text" };
import commonJs from "./static/common.js" with { type: "text" };
import historyJs from "./static/history.js" with { type: "text" };
import rideJs from "./static/ride.js" with { type: "text" };
import curveJs from "./static/curve.js" with { type: "text" };
import fitnessJs from "./static/fitness.js" with { type: "text" };
import calendarJs from "./static/calendar.js" with { type: "text" };
import uploadJs from "./static/upload.js" with { type: "text" };
import liveJs from "./static/live.js" with { type: "text" };
import profileJs from "./static/profile.js" with { type: "text" };

// uPlot and Leaflet come from their npm packages (deno.json "imports", read as text: the module
// graph holds them, so `deno install`/`deno cache` fetch them with the app and nothing loads from a
// CDN); the pages' own scripts and stylesheet live beside this file.
const sources = {
  "uplot.js": uplotJs,
  "uplot.css": uplotCss,
  "leaflet.js": leafletJs,
  "leaflet.css": leafletCss,
  "app.css": appCss,
  "common.js": commonJs,
  "history.js": historyJs,
  "ride.js": rideJs,
  "curve.js": curveJs,
  "fitness.js": fitnessJs,
  "calendar.js": calendarJs,
  "upload.js": uploadJs,
  "live.js": liveJs,
  "profile.js": profileJs,
} as const;

/** The name of one of the pages' assets. */
export type AssetName = keyof typeof sources;

/** One asset as served: its bytes, type and content-hashed URL. */
export type Asset = { body: Uint8Array<ArrayBuffer>; type: string; url: string };

/** Every asset by name and by URL. */
export type Assets = { byName: Record<AssetName, Asset>; byUrl: Map<string, Asset> };

function build(name: string, text: string): Asset {
  const body = new TextEncoder().encode(text);
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
  const [base, ext] = name.split(".");
  return {
    body,
    type: ext === "css" ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8",
    url: `/assets/${base}.${hash}.${ext}`,
  };
}

let loaded: Assets | undefined;

/** The assets, hashed once: their URLs change with their content, so they are cached a year. */
export function loadAssets(): Assets {
  if (loaded) return loaded;
  const entries = Object.entries(sources).map(([name, text]) => [name, build(name, text)] as const);
  const byName = Object.fromEntries(entries) as Record<AssetName, Asset>;
  return loaded = { byName, byUrl: new Map(entries.map(([, asset]) => [asset.url, asset])) };
}
