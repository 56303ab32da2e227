import { SaxesParser } from "saxes";
import { corruptFile } from "./ride_file.ts";

/** One point element (`trkpt`, `Trackpoint`): its attributes and the text of its descendants. */
export type XmlPoint = {
  attributes: Record<string, string>;
  /** Text by the local name (namespace prefix dropped) of the innermost element holding it. */
  values: Map<string, string>;
};

/** What a scan found: the root element, the points, and the first text and attributes by path. */
export type XmlScan = {
  root: string | null;
  points: XmlPoint[];
  /** First text of each element path outside points, e.g. `gpx/trk/name`. */
  text: Map<string, string>;
  /** First attributes of each element path outside points, e.g. `…/Activity`. */
  attributes: Map<string, Record<string, string>>;
};

function local(name: string): string {
  const colon = name.indexOf(":");
  return colon < 0 ? name : name.slice(colon + 1);
}

/**
 * Scans XML in one strict streaming pass (saxes): malformed XML, an undefined entity or a
 * truncated document is a 400 naming the line. Every `point` element (by local name) is
 * collected (only those inside the first `within` element, when given); namespaces are ignored,
 * and no DTD or external entity is ever read.
 */
export function scanXml(
  body: string,
  format: "GPX" | "TCX",
  options: { point: string; within?: string },
): XmlScan {
  const scan: XmlScan = { root: null, points: [], text: new Map(), attributes: new Map() };
  const stack: string[] = [];
  let point: XmlPoint | null = null;
  let pointDepth = -1;
  let buffer = "";
  // 0: before the first `within` element, 1: inside it, 2: after it.
  let within = options.within ? 0 : 1;
  let withinDepth = -1;
  const parser = new SaxesParser({ xmlns: false });
  parser.on("opentag", (tag) => {
    const name = local(tag.name);
    if (scan.root === null) scan.root = name;
    stack.push(name);
    buffer = "";
    const attributes = tag.attributes as Record<string, string>;
    if (point) return;
    if (within === 0 && name === options.within) {
      within = 1;
      withinDepth = stack.length;
    }
    if (name === options.point && within === 1) {
      point = { attributes, values: new Map() };
      pointDepth = stack.length;
      return;
    }
    const path = stack.join("/");
    if (!scan.attributes.has(path)) scan.attributes.set(path, attributes);
  });
  parser.on("text", (text) => {
    buffer += text;
  });
  parser.on("cdata", (text) => {
    buffer += text;
  });
  parser.on("closetag", () => {
    const text = buffer.trim();
    buffer = "";
    if (point) {
      if (stack.length === pointDepth) {
        scan.points.push(point);
        point = null;
      } else if (text) {
        point.values.set(stack[stack.length - 1], text);
      }
    } else if (text) {
      const path = stack.join("/");
      if (!scan.text.has(path)) scan.text.set(path, text);
    }
    if (stack.length === withinDepth) within = 2;
    stack.pop();
  });
  try {
    parser.write(body).close();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // saxes reports "line:column: message."
    const [, line, what] = /^(\d+):\d+: (.*?)\.?$/s.exec(message) ?? [, "?", message];
    throw corruptFile(
      "invalid_xml",
      `${format} file is not well-formed XML (line ${line}): ${what}`,
    );
  }
  if (scan.root === null) {
    throw corruptFile("invalid_xml", `${format} file is not well-formed XML: no root element`);
  }
  return scan;
}
