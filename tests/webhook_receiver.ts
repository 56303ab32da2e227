/** A webhook receiver for tests (Deno.serve on loopback) and the docs' verification snippet. */

/** One request the receiver got. */
export type Received = { id: string | null; signature: string | null; body: string };

/** A running receiver: what it got, and how it answers (a status per request, or a hang). */
export type Receiver = {
  url: string;
  port: number;
  received: Received[];
  /** The status for the next request (default 200); "hang" never answers. */
  answer: (received: Received) => number | "hang";
  close: () => Promise<void>;
};

/** Starts a receiver on 127.0.0.1 (a given port, or a free one). */
export function startReceiver(port = 0): Receiver {
  const hanging: (() => void)[] = [];
  const receiver: Receiver = {
    url: "",
    port: 0,
    received: [],
    answer: () => 200,
    close: async () => {
      for (const release of hanging) release();
      await server.shutdown();
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const got = {
      id: req.headers.get("webhook-id"),
      signature: req.headers.get("webhook-signature"),
      body: await req.text(),
    };
    receiver.received.push(got);
    const status = receiver.answer(got);
    if (status === "hang") {
      await new Promise<void>((resolve) => hanging.push(resolve));
      return new Response("late", { status: 200 });
    }
    const body = status === 204 ? null : status >= 300 ? "receiver failed on purpose" : "ok";
    return new Response(body, { status });
  });
  receiver.port = server.addr.port;
  receiver.url = `http://127.0.0.1:${server.addr.port}/hook`;
  return receiver;
}

type Verify = (secret: string, header: string | null, body: string) => Promise<boolean>;

/** The `verifyWebhook` of docs/webhooks.md, imported from the document's TypeScript block. */
export async function documentedVerifier(): Promise<Verify> {
  const doc = await Deno.readTextFile(new URL("../docs/webhooks.md", import.meta.url));
  const block = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
    .find((code) => code.includes("export async function verifyWebhook"));
  if (!block) throw new Error("docs/webhooks.md has no verifyWebhook snippet");
  const bytes = new TextEncoder().encode(block);
  const module = await import(
    `data:application/typescript;base64,${btoa(String.fromCharCode(...bytes))}`
  );
  return module.verifyWebhook as Verify;
}
