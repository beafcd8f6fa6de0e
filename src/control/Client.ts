// The CLI's side of the API: HTTP over the daemon's Unix socket, or over TCP with a bearer token.
import { request } from "node:http";
import { readFileSync } from "node:fs";
import { defaultSocket } from "./Paths.js";

export interface Endpoint {
  socket?: string;
  /** http://host:port */
  url?: string;
  token?: string;
}

export class ClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ClientError";
  }
}

export function endpointFrom(opts: { socket?: string; host?: string; tokenFile?: string }): Endpoint {
  if (opts.host) {
    const url = /^https?:\/\//.test(opts.host) ? opts.host : `http://${opts.host}`;
    const tf = opts.tokenFile ?? process.env["TYPEVISOR_TOKEN_FILE"];
    return { url, ...(tf ? { token: readFileSync(tf, "utf8").trim() } : {}) };
  }
  return { socket: opts.socket ?? defaultSocket() };
}

export async function call(
  ep: Endpoint,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown; text: string }> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {};
  if (data) headers["content-type"] = "application/json";
  if (ep.token) headers["authorization"] = `Bearer ${ep.token}`;
  return new Promise((resolve, reject) => {
    const target = ep.url ? new URL(path, ep.url) : undefined;
    const req = request(
      target
        ? { method, hostname: target.hostname, port: target.port, path: target.pathname + target.search, headers }
        : { method, socketPath: ep.socket, path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          if ((res.headers["content-type"] ?? "").startsWith("application/json")) {
            try {
              parsed = JSON.parse(text);
            } catch {
              /* keep text */
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (ep.socket && (e.code === "ENOENT" || e.code === "ECONNREFUSED")) {
        reject(
          new ClientError(0, `no daemon at ${ep.socket}: start one with 'typevisor serve' (or give --socket PATH)`),
        );
      } else reject(new ClientError(0, `cannot reach the daemon at ${ep.url ?? ep.socket}: ${e.message}`));
    });
    if (data) req.write(data);
    req.end();
  });
}

/** Calls and throws ClientError with the daemon's error message on a non-2xx answer. */
export async function callOk(ep: Endpoint, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await call(ep, method, path, body);
  if (r.status < 200 || r.status > 299) {
    const msg =
      typeof r.body === "object" && r.body && "error" in r.body
        ? String((r.body as { error: unknown }).error)
        : r.text.trim();
    throw new ClientError(r.status, msg || `HTTP ${r.status}`);
  }
  return r.body;
}
