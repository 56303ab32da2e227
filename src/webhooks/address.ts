/**
 * Which webhook URLs the service may call: http(s) only, no credentials in the URL, and (unless
 * WEBHOOK_ALLOW_PRIVATE) no host that is or resolves to a loopback, private, link-local, shared,
 * multicast or reserved address, so that a rider cannot make the service call inside its own
 * network (SSRF). Checked when a hook is saved and again before every delivery (a name may resolve
 * elsewhere later). The platform classifies no addresses, so the ranges are listed here (IANA
 * special-purpose registries, RFC 6890).
 * @module
 */

/** IPv4 ranges never called: [first address as a number, prefix length]. */
const blockedV4: [string, number][] = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
];

function v4Number(address: string): number | undefined {
  const parts = address.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    return undefined;
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function blockedV4Address(n: number): boolean {
  return blockedV4.some(([first, bits]) => {
    const size = 2 ** (32 - bits);
    const start = v4Number(first)!;
    return n >= start && n < start + size;
  });
}

/** The 8 groups of an IPv6 address (with an embedded IPv4 tail), or undefined. */
function v6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const tail = text.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (tail) {
    const n = v4Number(tail[2]);
    if (n === undefined) return undefined;
    text = `${tail[1]}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === "" ? [] : s.split(":"));
  const head = parse(halves[0]), rest = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const groups = [...head, ...Array(halves.length === 2 ? fill : 0).fill("0"), ...rest];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16));
}

function blockedV6Address(g: number[]): boolean {
  const zeroTo = (i: number) => g.slice(0, i).every((x) => x === 0);
  if (zeroTo(7) && (g[7] === 0 || g[7] === 1)) return true; // :: and ::1
  if (zeroTo(5) && g[5] === 0xffff) return blockedV4Address(g[6] * 65536 + g[7]); // ::ffff:a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b) return blockedV4Address(g[6] * 65536 + g[7]); // NAT64
  if ((g[0] & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
  if ((g[0] & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
  if ((g[0] & 0xff00) === 0xff00) return true; // multicast
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation
  return false;
}

/** True when an IP address literal (v4 or v6, without brackets) may not be called. */
export function isBlockedAddress(address: string): boolean {
  const v4 = v4Number(address);
  if (v4 !== undefined) return blockedV4Address(v4);
  const v6 = v6Groups(address);
  return v6 === undefined ? true : blockedV6Address(v6);
}

/** Why a webhook URL is refused (a sentence for the rider), or undefined when it may be called. */
export async function refuseWebhookUrl(
  text: string,
  options: { allowPrivate: boolean; resolve?: (host: string) => Promise<string[]> },
): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "The webhook URL is not a valid URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return "The webhook URL must be http or https";
  }
  if (url.username || url.password) return "The webhook URL must not hold a user name or password";
  if (options.allowPrivate) return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (v4Number(host) !== undefined || host.includes(":")) {
    return isBlockedAddress(host) ? privateRefusal : undefined;
  }
  if (host === "localhost" || host.endsWith(".localhost")) return privateRefusal;
  const addresses = await (options.resolve ?? resolveHost)(host);
  if (addresses.length === 0) return "The webhook URL's host name does not resolve";
  return addresses.some(isBlockedAddress) ? privateRefusal : undefined;
}

const privateRefusal = "The webhook URL names a loopback, private or reserved address " +
  "(WEBHOOK_ALLOW_PRIVATE allows them)";

/** The A and AAAA addresses of a host name (none when it does not resolve). */
async function resolveHost(host: string): Promise<string[]> {
  const lookups = await Promise.allSettled([
    Deno.resolveDns(host, "A", { signal: AbortSignal.timeout(5000) }),
    Deno.resolveDns(host, "AAAA", { signal: AbortSignal.timeout(5000) }),
  ]);
  return lookups.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
}
