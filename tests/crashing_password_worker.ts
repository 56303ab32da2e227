/** The password worker, except that the password "crash" ends it with an uncaught error. */
import "../src/auth/password_worker.ts";

const scope = self as unknown as { onmessage: ((event: MessageEvent) => void) | null };
const real = scope.onmessage!;
scope.onmessage = (event) => {
  if (event.data.password === "crash") throw new Error("the worker was told to crash");
  real(event);
};
