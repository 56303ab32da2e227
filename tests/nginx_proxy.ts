/**
 * nginx from PATH in front of API instances on loopback, configured from docs/nginx.conf (the
 * reverse-proxy example of docs/operations.md) with its ${BPT_…} placeholders filled in.
 */
import { delay, freePort } from "./local_servers.ts";

/** The reverse-proxy example, read from the docs so the tests run exactly what they document. */
export const nginxTemplatePath = new URL("../docs/nginx.conf", import.meta.url);

/** nginx from PATH, or Debian's /usr/sbin/nginx when /usr/sbin is not on PATH (non-root). */
const nginxBinary = (() => {
  try {
    return Deno.statSync("/usr/sbin/nginx").isFile ? "/usr/sbin/nginx" : "nginx";
  } catch {
    return "nginx";
  }
})();

/** The values of the template's placeholders. */
export type NginxValues = {
  upstreams: { hostname: string; port: number }[];
  httpListen: string;
  httpsListen: string;
  redirectHttp: boolean;
  serverName: string;
  tlsCert: string;
  tlsKey: string;
};

/** docs/nginx.conf with its placeholders replaced; throws when one is left unfilled. */
export async function fillNginxTemplate(values: NginxValues): Promise<string> {
  const filled: Record<string, string> = {
    BPT_UPSTREAM_SERVERS: values.upstreams
      .map(({ hostname, port }) => `server ${hostname}:${port};`).join(" "),
    BPT_RESOLVER: "127.0.0.1",
    BPT_HTTP_LISTEN: values.httpListen,
    BPT_HTTPS_LISTEN: values.httpsListen,
    BPT_REDIRECT_HTTP: values.redirectHttp ? "on" : "off",
    BPT_SERVER_NAME: values.serverName,
    BPT_TLS_CERT: values.tlsCert,
    BPT_TLS_KEY: values.tlsKey,
  };
  const text = await Deno.readTextFile(nginxTemplatePath);
  return text.replace(/\$\{(BPT_[A-Z_]+)\}/g, (whole, name: string) => {
    const value = filled[name];
    if (value === undefined) throw new Error(`docs/nginx.conf has an unknown placeholder ${whole}`);
    return value;
  });
}

/** A main nginx.conf around the filled template: foreground, one worker, files under `dir`. */
function mainConfig(dir: string, workerConnections: number): string {
  return [
    "daemon off;",
    "worker_processes 1;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    `events { worker_connections ${workerConnections}; }`,
    "http {",
    "  access_log off;",
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) =>
      `  ${kind}_temp_path ${dir}/temp/${kind};`
    ),
    `  include ${dir}/bpt.conf;`,
    "}",
    "",
  ].join("\n");
}

async function run(command: string, args: string[]) {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, text };
}

/**
 * A P-256 certificate for localhost and 127.0.0.1 signed by a throwaway CA (openssl from PATH);
 * `ca` is what a client trusts (rustls refuses a self-signed end-entity certificate).
 */
export async function testCertificate(
  dir: string,
): Promise<{ cert: string; key: string; ca: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const steps = [
    [
      "req",
      "-x509",
      ...ec,
      "-days",
      "2",
      "-subj",
      "/CN=bpt test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.pem`,
    ],
    [
      "req",
      ...ec,
      "-subj",
      "/CN=localhost",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/leaf.csr`,
    ],
    [
      "x509",
      "-req",
      "-in",
      `${dir}/leaf.csr`,
      "-CA",
      `${dir}/ca.pem`,
      "-CAkey",
      `${dir}/ca.key`,
      "-set_serial",
      "1",
      "-days",
      "2",
      "-extfile",
      `${dir}/leaf.ext`,
      "-out",
      `${dir}/cert.pem`,
    ],
  ]; // deno-fmt-ignore
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" +
      "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  for (const args of steps) {
    const made = await run("openssl", args);
    if (!made.ok) throw new Error(`openssl could not make a certificate:\n${made.text}`);
  }
  return { cert: `${dir}/cert.pem`, key: `${dir}/key.pem`, ca: `${dir}/ca.pem` };
}

/** A configuration written to disk, ready for `nginx -t` or to run. */
export type NginxSetup = {
  dir: string;
  /** The main configuration file (pass to `nginx -c`). */
  config: string;
  httpPort: number;
  httpsPort: number;
  /** The CA of the certificate nginx serves, PEM (for a client's `caCerts`). */
  certPem: string;
  /** `nginx -t` on this configuration: whether it passed and what nginx printed. */
  check: () => Promise<{ ok: boolean; text: string }>;
  /** Starts nginx in the foreground and waits until both ports accept connections. */
  start: () => Promise<RunningNginx>;
  /** Removes the folder. */
  remove: () => Promise<void>;
};

/** A running nginx. */
export type RunningNginx = {
  httpUrl: string;
  httpsUrl: string;
  /** Stops nginx (SIGQUIT: finish open requests, then exit; SIGKILL after 5 s). */
  stop: () => Promise<void>;
};

/** Writes docs/nginx.conf, filled for `upstreams`, under a fresh temporary folder. */
export async function setUpNginx(
  options: {
    upstreams: { hostname: string; port: number }[];
    redirectHttp?: boolean;
    /** Connections nginx's one worker may hold, two per proxied request (default 1024). */
    workerConnections?: number;
  },
): Promise<NginxSetup> {
  const dir = await Deno.makeTempDir({ prefix: "bpt-nginx-" });
  // nginx's workers drop root for `nobody`: they must reach the folder and its temp files.
  await Deno.chmod(dir, 0o755);
  await Deno.mkdir(`${dir}/temp`, { mode: 0o777 });
  await Deno.chmod(`${dir}/temp`, 0o777);
  const { cert, key, ca } = await testCertificate(dir);
  const httpPort = freePort();
  const httpsPort = freePort();
  await Deno.writeTextFile(
    `${dir}/bpt.conf`,
    await fillNginxTemplate({
      upstreams: options.upstreams,
      httpListen: `127.0.0.1:${httpPort}`,
      httpsListen: `127.0.0.1:${httpsPort}`,
      redirectHttp: options.redirectHttp ?? false,
      serverName: "localhost",
      tlsCert: cert,
      tlsKey: key,
    }),
  );
  const config = `${dir}/nginx.conf`;
  await Deno.writeTextFile(config, mainConfig(dir, options.workerConnections ?? 1024));
  const args = ["-p", `${dir}/`, "-e", `${dir}/error.log`, "-c", config];
  return {
    dir,
    config,
    httpPort,
    httpsPort,
    certPem: await Deno.readTextFile(ca),
    check: () => run(nginxBinary, [...args, "-t"]),
    start: async () => {
      const child = new Deno.Command(nginxBinary, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      let exited = false;
      const status = child.status.finally(() => exited = true);
      const stop = async () => {
        if (exited) return;
        child.kill("SIGQUIT");
        const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 5000);
        await status;
        clearTimeout(timer);
      };
      for (const port of [httpPort, httpsPort]) {
        const deadline = Date.now() + 10_000;
        while (!(await accepts(port))) {
          if (exited || Date.now() > deadline) {
            await stop();
            throw new Error(`nginx did not listen on ${port}:\n${await stderr}`);
          }
          await delay(25);
        }
      }
      return {
        httpUrl: `http://127.0.0.1:${httpPort}`,
        httpsUrl: `https://127.0.0.1:${httpsPort}`,
        stop: async () => {
          await stop();
          await stderr;
        },
      };
    },
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
