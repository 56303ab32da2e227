/**
 * The delivery signature (docs/webhooks.md): HMAC-SHA256 with the hook's secret over
 * `${timestamp}.${body}`, sent as `Webhook-Signature: t=<unix seconds>,v1=<hex>`.
 * @module
 */

const encoder = new TextEncoder();

/** The hex HMAC-SHA256 of `${timestamp}.${body}` under `secret`. */
export async function signature(secret: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${body}`));
  return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The `Webhook-Signature` header value for a body sent at `timestamp` (unix seconds). */
export async function signatureHeader(
  secret: string,
  timestamp: number,
  body: string,
): Promise<string> {
  return `t=${timestamp},v1=${await signature(secret, timestamp, body)}`;
}
