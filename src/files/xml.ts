import { XMLParser, XMLValidator } from "fast-xml-parser";
import { corruptFile } from "./ride_file.ts";

/** A parsed XML element as fast-xml-parser gives it (attributes prefixed with `@_`). */
export type XmlNode = Record<string, unknown>;

const repeated = new Set(["trk", "trkseg", "trkpt", "Activity", "Lap", "Track", "Trackpoint"]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  // No entity expansion: ride data never needs it, and DOCTYPE entities are an attack surface.
  processEntities: false,
  isArray: (name) => repeated.has(name),
});

/** Parses XML text after validating it; malformed XML is a 400 naming the line. */
export function parseXml(text: string, format: "GPX" | "TCX"): XmlNode {
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw corruptFile(
      "invalid_xml",
      `${format} file is not well-formed XML (line ${valid.err.line}): ${
        valid.err.msg.replace(/\.+$/, "")
      }`,
    );
  }
  return parser.parse(text) as XmlNode;
}

/** The child element `name` of a node, as a node (or undefined). */
export function child(node: unknown, name: string): XmlNode | undefined {
  if (!node || typeof node !== "object") return undefined;
  const value = (node as XmlNode)[name];
  if (Array.isArray(value)) return value[0] as XmlNode | undefined;
  return value && typeof value === "object" ? value as XmlNode : undefined;
}

/** The child elements `name` of a node, as an array. */
export function children(node: unknown, name: string): XmlNode[] {
  if (!node || typeof node !== "object") return [];
  const value = (node as XmlNode)[name];
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]) as XmlNode[];
}

/** The text of child element `name` (or of the node itself when name is omitted), trimmed. */
export function text(node: unknown, name?: string): string | null {
  const value = name === undefined ? node : (node as XmlNode | undefined)?.[name];
  if (value === undefined || value === null) return null;
  if (typeof value === "string" || typeof value === "number") return String(value).trim();
  if (typeof value === "object" && "#text" in (value as XmlNode)) {
    return String((value as XmlNode)["#text"]).trim();
  }
  return null;
}

const entities: Record<string, string> = {
  "&lt;": "<",
  "&gt;": ">",
  "&amp;": "&",
  "&quot;": '"',
  "&apos;": "'",
};

/** Decodes the five predefined XML entities (entity expansion is off in the parser). */
export function unescapeXml(value: string): string {
  return value.replace(/&(lt|gt|amp|quot|apos);/g, (m) => entities[m]);
}
