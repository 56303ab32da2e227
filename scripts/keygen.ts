/** Prints a new ES256 private key for JWT_PRIVATE_KEY: `deno task keygen`. */
import { generatePrivateKeyPem } from "../src/auth/tokens.ts";

const pem = await generatePrivateKeyPem();
console.log(`JWT_PRIVATE_KEY="${pem.trim().replaceAll("\n", "\\n")}"`);
