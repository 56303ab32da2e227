import { argon2id } from "hash-wasm";
import { Buffer } from "node:buffer";
import { randomBytes, timingSafeEqual } from "node:crypto";

/** Argon2id cost: memory in KiB and passes (OWASP's baseline is 19 MiB, 2 passes). */
export type PasswordCost = { memoryKib: number; iterations: number };

const hashLength = 32;
const encoded = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function derive(password: string, salt: Uint8Array, cost: PasswordCost & { parallelism: number }) {
  return argon2id({
    password: password.normalize("NFKC"),
    salt,
    parallelism: cost.parallelism,
    iterations: cost.iterations,
    memorySize: cost.memoryKib,
    hashLength,
    outputType: "binary",
  });
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}

/** Hashes a password with Argon2id and a random 16-byte salt, as a PHC string. */
export async function hashPassword(password: string, cost: PasswordCost): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, { ...cost, parallelism: 1 });
  return `$argon2id$v=19$m=${cost.memoryKib},t=${cost.iterations},p=1$${b64(salt)}$${b64(hash)}`;
}

/** Checks a password against a stored PHC hash, comparing in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = encoded.exec(stored);
  if (!match) return false;
  const expected = Buffer.from(match[5], "base64");
  const actual = await derive(password, Buffer.from(match[4], "base64"), {
    memoryKib: Number(match[1]),
    iterations: Number(match[2]),
    parallelism: Number(match[3]),
  });
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
