// deno-lint-ignore-file no-unused-vars -- these are the globals the page scripts after this one use
// The pages' shared helpers: the page's data, /api calls with the session's CSRF token, formats.
"use strict";
const page = JSON.parse(document.getElementById("page-data").textContent);

/** Calls /api with the session cookie; state-changing calls carry the CSRF token. */
async function api(path, options = {}) {
  const headers = { ...options.headers };
  if (options.method && options.method !== "GET") headers["X-CSRF-Token"] = page.csrf;
  let body = options.body;
  if (body !== undefined && !(body instanceof Blob) && typeof body !== "string") {
    body = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, { ...options, headers, body, credentials: "same-origin" });
  if (res.status === 401 && page.csrf) location.href = "/signin";
  const answer = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) throw new Error(answer?.error ?? `${res.status} ${res.statusText}`);
  return answer;
}

/** Seconds as h:mm:ss. */
function duration(s) {
  if (s == null) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
}

/** A number rounded to `digits`, or a dash. */
function num(value, digits = 0) {
  return value == null ? "–" : Number(value).toFixed(digits);
}

/** An element with attributes and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** Shows a message in the page's status line. */
function setStatus(text) {
  const status = document.getElementById("status");
  if (status) status.textContent = text;
}

/** A curve's duration label: 5 s, 1 min, 1 h. */
function durationLabel(s) {
  return s < 60
    ? `${s} s`
    : s < 3600
    ? `${Math.round(s / 60)} min`
    : `${Math.round(s / 360) / 10} h`;
}

/** A chart's width: its container's. */
function chartWidth(node) {
  return Math.max(280, node.clientWidth - 2);
}

const niceDurations = [1, 5, 10, 30, 60, 300, 600, 1200, 3600, 7200, 18000];

/** A log duration axis: ticks at the usual durations, named 5 s, 1 min, 1 h. */
const curveAxis = {
  splits: (_u, _axis, min, max) => niceDurations.filter((d) => d >= min && d <= max),
  values: (_, ticks) => ticks.map(durationLabel),
};
