import { randomBytes } from "node:crypto";

/** A random URL-safe secret of `bytes` bytes of entropy. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** SHA-256 of a high-entropy secret, for storage and lookup (slow hashing is for passwords). */
export async function hashSecret(secret: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)),
  );
}

/**
 * Compares two strings in constant time (for equal lengths): every code unit is looked at
 * whatever differs. (Node's timingSafeEqual needs two encoded copies first, and cost about 5% of
 * a legacy message POST checked against the shared key.)
 */
export function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
