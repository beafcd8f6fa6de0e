// The control plane's REST API over Node's http server: routing, bearer-token checks, schema
// validation (ajv, with the schemas the OpenAPI document publishes), the console WebSocket,
// server-sent events and Prometheus metrics.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { timingSafeEqual } from "node:crypto";
import { WebSocketServer, type WebSocket } from "ws";
import * as AjvModule from "ajv";
import { ApiError } from "./ApiError.js";
import type { IncomingMigration, VmEvent, VmManager } from "./VmManager.js";
import type { DiskSpec, NicSpec } from "../vmm/MachineSpec.js";
import { openApiDocument } from "./OpenApi.js";
import { vmSpecSchema, type VmSpec } from "./VmSpec.js";
import type { VmRecord } from "./Store.js";
import type { VmProcessStats } from "./VmProtocol.js";
import { resolveUnder, sendFile } from "./StaticFiles.js";

/** The dashboard loads only its own scripts and talks only to this server (xterm.js sets inline styles). */
const UI_CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

// ajv is CommonJS: under NodeNext its default export is the module object.
const Ajv = AjvModule.Ajv;
const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false });
const validateSpec = ajv.compile(vmSpecSchema);

const MAX_BODY = 64 * 1024;
/** The largest console width or height a client may give (POST /v1/vms/{id}/resize). */
const MAX_CONSOLE_SIDE = 1000;

/** Most console bytes queued for one WebSocket client, and how long it may stay stalled. */
export const CLIENT_BUFFER = 1024 * 1024;
export const CLIENT_STALL_MS = 10_000;
/** Most bytes queued for one server-sent-events client before it is disconnected. */
const EVENTS_BUFFER = 1024 * 1024;

function describeAjvError(): string {
  const e = validateSpec.errors?.[0];
  if (!e) return "invalid request body";
  const field = e.instancePath.replace(/^\//, "") || "(body)";
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "additionalProperties")
    return `${field === "(body)" ? "" : field + ": "}unknown field '${String(params["additionalProperty"])}'`;
  if (e.keyword === "required")
    return `${field === "(body)" ? "" : field + ": "}missing required field '${String(params["missingProperty"])}'`;
  // ajv's enum message ("must be equal to one of the allowed values") does not say which they are.
  if (e.keyword === "enum" && Array.isArray(params["allowedValues"]))
    return `${field}: must be one of ${(params["allowedValues"] as unknown[]).join(", ")}`;
  return `${field}: ${e.message ?? "is invalid"}`;
}

export interface ApiOptions {
  /** Bearer token required on every request (TCP listeners); undefined = none (Unix socket). */
  token?: string;
  /**
   * The dashboard's static files (dist/web/ui), served at /ui/ without the token: they hold no VM
   * data, and the dashboard then calls the API with the token like any client (docs/WEB.md).
   */
  uiDir?: string;
}

/**
 * A browser cannot set headers on a WebSocket, so the dashboard offers the token as a subprotocol,
 * base64url-encoded after this prefix, beside CONSOLE_PROTOCOL, which the server selects (RFC 6455
 * §4.1, Sec-WebSocket-Protocol). The token then travels in a header as with Authorization, never
 * in the URL.
 */
export const BEARER_PROTOCOL_PREFIX = "typevisor.bearer.";
export const CONSOLE_PROTOCOL = "typevisor.console";

/**
 * The request target as a URL. Only origin-form targets (RFC 9112 §3.2.1: "/path?query") are
 * served; the fixed base keeps a target such as "//[x" from being read as an authority (which
 * makes the URL parser throw).
 */
export function parseTarget(raw: string | undefined): URL {
  const t = raw ?? "/";
  if (!t.startsWith("/"))
    throw new ApiError(400, `the request target must be a path starting with '/', not '${t.slice(0, 100)}'`);
  try {
    return new URL(`http://typevisor${t}`);
  } catch {
    throw new ApiError(400, `the request target '${t.slice(0, 100)}' is not a valid URL path`);
  }
}

/** A percent-decoded path segment; a malformed escape (RFC 3986 §2.1) is the client's error. */
export function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ApiError(400, `'${s.slice(0, 100)}' has a malformed percent-escape (RFC 3986 §2.1)`);
  }
}

/** What a handler answers for an exception: ApiErrors are the client's, everything else ours. */
function classify(e: unknown): { status: number; message: string; internal: boolean } {
  if (e instanceof ApiError) return { status: e.status, message: e.message, internal: false };
  return { status: 500, message: `internal error: ${e instanceof Error ? e.message : String(e)}`, internal: true };
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  500: "Internal Server Error",
};

function vmJson(rec: VmRecord, stats: VmProcessStats | undefined) {
  return {
    id: rec.id,
    name: rec.spec.name,
    status: rec.status,
    spec: rec.spec,
    lastExit: rec.lastExit,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    stats: stats ?? null,
  };
}

export class ControlApi {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    // Select the console protocol, never echo the bearer one (ws would pick the first offered).
    handleProtocols: (offered) => (offered.has(CONSOLE_PROTOCOL) ? CONSOLE_PROTOCOL : false),
  });
  private readonly writers = new Map<string, WebSocket>();
  /** Console bytes dropped for WebSocket clients that read too slowly, by VM id. */
  private readonly clientDropped = new Map<string, number>();

  /** log: one line per failed request (a stack only for the daemon's own errors). */
  /** consoleStallMs: how long a console client may stay stalled (CLIENT_STALL_MS by default). */
  constructor(
    private readonly vms: VmManager,
    private readonly log: (line: string) => void = (l) => process.stderr.write(l + "\n"),
    private readonly consoleStallMs = CLIENT_STALL_MS,
  ) {}

  private logFailure(
    method: string | undefined,
    url: string | undefined,
    e: unknown,
  ): { status: number; message: string } {
    const c = classify(e);
    const what = `${method ?? "?"} ${JSON.stringify((url ?? "").slice(0, 200))}`;
    if (c.internal)
      this.log(
        `typevisor serve: internal error on ${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
    else this.log(`typevisor serve: ${c.status} ${what}: ${c.message}`);
    return c;
  }

  private authorized(req: IncomingMessage, token: string | undefined, websocket = false): boolean {
    if (token === undefined) return true;
    const h = req.headers.authorization ?? "";
    let given = /^Bearer (.+)$/.exec(h)?.[1];
    if (given === undefined && websocket) {
      const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
      const p = offered.find((o) => o.startsWith(BEARER_PROTOCOL_PREFIX));
      if (p) given = Buffer.from(p.slice(BEARER_PROTOCOL_PREFIX.length), "base64url").toString();
    }
    if (given === undefined) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** A request handler for one listener. No exception leaves it: every failure is a JSON answer. */
  handler(opts: ApiOptions): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      req.on("error", () => {});
      res.on("error", () => {});
      const fail = (e: unknown) => {
        const c = this.logFailure(req.method, req.url, e);
        if (!res.headersSent) send(res, c.status, { error: c.message });
        else res.end();
      };
      try {
        if (opts.uiDir !== undefined && /^\/ui(\/|$)/.test(req.url ?? "")) {
          const rel = (req.url ?? "").replace(/^\/ui\/?/, "").replace(/[?#].*$/, "");
          if (req.url === "/ui") res.writeHead(301, { location: "/ui/" }).end();
          else {
            const file = resolveUnder(opts.uiDir, rel);
            if (file) sendFile(req, res, file, { "content-security-policy": UI_CSP });
            else send(res, 404, { error: "no such file in the dashboard" });
          }
          return;
        }
        if (!this.authorized(req, opts.token)) {
          // Nothing about any VM leaks to an unauthenticated client: one fixed answer.
          send(
            res,
            401,
            { error: "missing or wrong bearer token (Authorization: Bearer <token from --token-file>)" },
            { "www-authenticate": "Bearer" },
          );
          return;
        }
        this.route(req, res).catch(fail);
      } catch (e) {
        fail(e);
      }
    };
  }

  /** The 'upgrade' handler for one listener (console WebSockets). No exception leaves it. */
  upgradeHandler(opts: ApiOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
    return (req, socket, head) => {
      socket.on("error", () => {});
      const refuse = (status: number, msg: string) => {
        const body = JSON.stringify({ error: msg });
        socket.end(
          `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
        );
      };
      try {
        if (!this.authorized(req, opts.token, true)) return refuse(401, "missing or wrong bearer token");
        const url = parseTarget(req.url);
        const m = /^\/v1\/vms\/([^/]+)\/console$/.exec(url.pathname);
        if (!m) throw new ApiError(404, `no WebSocket endpoint at ${url.pathname}`);
        const rec = this.vms.get(decodeSegment(m[1]!));
        const mode = url.searchParams.get("mode") ?? "read";
        if (mode !== "read" && mode !== "write") throw new ApiError(400, `mode: must be read or write, not '${mode}'`);
        if (mode === "write" && this.writers.has(rec.id))
          throw new ApiError(
            409,
            `VM '${rec.spec.name}' has a console writer already (one writer at a time; attach with mode=read)`,
          );
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          try {
            this.attachConsole(rec, ws, mode === "write");
          } catch (e) {
            this.logFailure(req.method, req.url, e);
            ws.terminate();
          }
        });
      } catch (e) {
        const c = this.logFailure(req.method, req.url, e);
        refuse(c.status, c.message);
      }
    };
  }

  private attachConsole(rec: VmRecord, ws: WebSocket, writer: boolean): void {
    if (writer) this.writers.set(rec.id, ws);
    const backlog = this.vms.ring(rec.id).contents();
    if (backlog.length) ws.send(backlog);
    // A client that stops reading must not grow the daemon (issue 12, item 5): past
    // CLIENT_BUFFER bytes queued for it, new output is dropped for this client and counted, and a
    // client that stays stalled for CLIENT_STALL_MS is disconnected (it can reattach and read the
    // scrollback). Output already queued cannot be taken back, hence newest-dropped here.
    let stalledSince = 0;
    let dropped = 0;
    const off = this.vms.onConsole(rec.id, (d) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount + d.length > CLIENT_BUFFER) {
        dropped += d.length;
        this.clientDropped.set(rec.id, (this.clientDropped.get(rec.id) ?? 0) + d.length);
        const now = Date.now();
        if (stalledSince === 0) stalledSince = now;
        else if (now - stalledSince > this.consoleStallMs) {
          this.log(
            `typevisor serve: console client of VM '${rec.spec.name}' stalled for ${this.consoleStallMs / 1000} s (${dropped} bytes dropped): disconnected`,
          );
          ws.terminate();
        }
        return;
      }
      stalledSince = 0;
      ws.send(d);
    });
    ws.on("error", () => {});
    ws.on("message", (data, isBinary) => {
      if (!writer) return; // readers' input is ignored: one writer at a time
      const bytes = isBinary ? new Uint8Array(data as Buffer) : new TextEncoder().encode(data.toString());
      try {
        this.vms.sendInput(rec.id, bytes);
      } catch {
        // not running: drop the input
      }
    });
    ws.on("close", () => {
      off();
      if (this.writers.get(rec.id) === ws) this.writers.delete(rec.id);
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseTarget(req.url);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    const q = url.searchParams;
    const notAllowed = (allowed: string) => {
      throw new ApiError(405, `${method} is not allowed on ${path} (allowed: ${allowed})`);
    };

    if (path === "/openapi.json") {
      if (method !== "GET") notAllowed("GET");
      return send(res, 200, openApiDocument);
    }
    if (path === "/metrics") {
      if (method !== "GET") notAllowed("GET");
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(this.metrics());
      return;
    }
    if (path === "/v1/events") {
      if (method !== "GET") notAllowed("GET");
      return this.events(req, res, q.get("vm"));
    }
    if (path === "/v1/vms") {
      if (method === "GET")
        return send(
          res,
          200,
          this.vms.list().map((r) => vmJson(r, this.vms.stats(r.id))),
        );
      if (method === "POST") {
        const body = await readJson(req);
        if (body === null || typeof body !== "object" || Array.isArray(body))
          throw new ApiError(400, "the body must be a JSON object (a VM spec, see /openapi.json)");
        const spec = { ...(body as Record<string, unknown>) };
        if (spec["name"] === undefined) spec["name"] = `vm-${Math.random().toString(36).slice(2, 8)}`;
        if (!validateSpec(spec)) throw new ApiError(400, describeAjvError());
        let rec = this.vms.create(spec as unknown as VmSpec);
        if (boolParam(q, "start")) rec = await this.vms.start(rec.id);
        return send(res, 201, vmJson(rec, undefined));
      }
      notAllowed("GET, POST");
    }
    const m = /^\/v1\/vms\/([^/]+)(?:\/([a-z]+))?$/.exec(path);
    if (m) {
      const ref = decodeSegment(m[1]!);
      const sub = m[2];
      if (sub === undefined) {
        if (method === "GET") {
          const rec = this.vms.get(ref);
          return send(res, 200, vmJson(rec, this.vms.stats(rec.id)));
        }
        if (method === "DELETE") {
          await this.vms.delete(ref, boolParam(q, "force"));
          res.writeHead(204).end();
          return;
        }
        notAllowed("GET, DELETE");
      }
      if (sub === "stats" || sub === "console") {
        if (method !== "GET") notAllowed("GET");
        const rec = this.vms.get(ref);
        if (sub === "stats") return send(res, 200, this.vms.stats(rec.id) ?? null);
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        res.end(Buffer.from(this.vms.ring(rec.id).contents()));
        return;
      }
      if (method !== "POST") notAllowed("POST");
      if (sub === "migrate") {
        const body = await readOptionalObject(req);
        const to = optionalString(body, "to");
        const token = optionalString(body, "token");
        if (to === undefined || token === undefined)
          throw new ApiError(
            400,
            "give 'to' (http://HOST:PORT of the destination daemon) and 'token' (its bearer token)",
          );
        const md = body["maxDowntimeMs"] ?? 300;
        if (typeof md !== "number" || !(md >= 1 && md <= 60_000))
          throw new ApiError(400, "maxDowntimeMs: must be a number of milliseconds from 1 to 60000");
        const copy = body["copyDisks"] ?? false;
        if (typeof copy !== "boolean") throw new ApiError(400, "copyDisks: must be true or false");
        return send(res, 200, await this.vms.migrate(ref, { url: to, token }, md, optionalString(body, "name"), copy));
      }
      if (sub === "resize") {
        const body = await readOptionalObject(req);
        const size = (k: "cols" | "rows"): number => {
          const v = body[k];
          if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_CONSOLE_SIDE)
            throw new ApiError(400, `${k}: give the terminal's ${k} as an integer from 1 to ${MAX_CONSOLE_SIDE}`);
          return v;
        };
        const rec = this.vms.resizeConsole(ref, size("cols"), size("rows"));
        return send(res, 200, vmJson(rec, this.vms.stats(rec.id)));
      }
      if (sub === "snapshot") {
        const body = await readOptionalObject(req);
        const name = optionalString(body, "name");
        const snap = await this.vms.snapshot(ref, name, body["compress"] === true);
        return send(res, 201, snap);
      }
      let rec: VmRecord;
      switch (sub) {
        case "start":
          rec = await this.vms.start(ref);
          break;
        case "pause":
          rec = this.vms.pause(ref);
          break;
        case "resume":
          rec = this.vms.resume(ref);
          break;
        case "shutdown": {
          const t = q.get("timeoutSeconds");
          let ms: number | undefined;
          if (t !== null) {
            const n = Number(t);
            if (!Number.isInteger(n) || n < 1 || n > 3600)
              throw new ApiError(400, `timeoutSeconds: must be an integer from 1 to 3600, not '${t}'`);
            ms = n * 1000;
          }
          rec = this.vms.shutdown(ref, ms);
          break;
        }
        case "kill":
          rec = await this.vms.kill(ref);
          break;
        default:
          throw new ApiError(
            404,
            `no action '${sub}' (actions: start, pause, resume, shutdown, kill, resize, snapshot, migrate)`,
          );
      }
      return send(res, 200, vmJson(rec, this.vms.stats(rec.id)));
    }
    if (path === "/v1/migrations") {
      if (method !== "POST") notAllowed("POST");
      const body = await readOptionalObject(req);
      const m = checkIncoming(body);
      // The VM process listens where this request arrived: the address the source reached us on.
      const host = req.socket.localAddress?.replace(/^::ffff:/, "") || "127.0.0.1";
      const r = await this.vms.incoming(m, host);
      return send(res, 201, { vm: vmJson(r.vm, undefined), port: r.port, ticket: r.ticket });
    }
    if (path === "/v1/snapshots") {
      if (method !== "GET") notAllowed("GET");
      return send(res, 200, this.vms.snapshots());
    }
    const sm = /^\/v1\/snapshots\/([^/]+)(?:\/(restore))?$/.exec(path);
    if (sm) {
      const name = decodeSegment(sm[1]!);
      if (sm[2] === "restore") {
        if (method !== "POST") notAllowed("POST");
        const body = await readOptionalObject(req);
        const vmName = optionalString(body, "name") ?? `${name.slice(0, 50)}-${Math.random().toString(36).slice(2, 8)}`;
        const rec = await this.vms.restore(name, vmName);
        return send(res, 201, vmJson(rec, undefined));
      }
      if (method === "GET") return send(res, 200, this.vms.getSnapshot(name));
      if (method === "DELETE") {
        await this.vms.deleteSnapshot(name, boolParam(q, "force"));
        res.writeHead(204).end();
        return;
      }
      notAllowed("GET, DELETE");
    }
    throw new ApiError(404, `no endpoint ${path} (see /openapi.json)`);
  }

  private events(req: IncomingMessage, res: ServerResponse, vmFilter: string | null): void {
    let filterId: string | undefined;
    if (vmFilter) filterId = this.vms.get(vmFilter).id;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    res.write(": typevisor events\n\n");
    const on = (e: VmEvent) => {
      if (filterId && e.vm !== filterId) return;
      if (!res.writable) return;
      // A client that does not read its events is disconnected rather than buffered without bound.
      if (res.writableLength > EVENTS_BUFFER) {
        res.destroy();
        return;
      }
      res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    };
    this.vms.on("event", on);
    const ping = setInterval(() => res.write(": ping\n\n"), 15000);
    req.on("close", () => {
      clearInterval(ping);
      this.vms.off("event", on);
    });
  }

  /** Prometheus text exposition format 0.0.4. */
  metrics(): string {
    const out: string[] = [];
    const fam = new Map<string, { help: string; type: string; lines: string[] }>();
    const put = (name: string, help: string, type: "counter" | "gauge", labels: Record<string, string>, v: number) => {
      let f = fam.get(name);
      if (!f) fam.set(name, (f = { help, type, lines: [] }));
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${x.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
        .join(",");
      f.lines.push(`${name}{${l}} ${v}`);
    };
    for (const r of this.vms.list()) {
      const base = { vm: r.id, name: r.spec.name };
      const running = r.status === "running" || r.status === "paused" || r.status === "stopping";
      put("typevisor_vm_up", "1 if the VM's process runs", "gauge", base, running ? 1 : 0);
      put("typevisor_vm_memory_bytes", "guest RAM configured", "gauge", base, r.spec.memoryMiB * 2 ** 20);
      put("typevisor_vm_vcpus", "vCPUs configured", "gauge", base, r.spec.cpus);
      put(
        "typevisor_console_client_dropped_bytes_total",
        "console output dropped for WebSocket clients that read too slowly",
        "counter",
        base,
        this.clientDropped.get(r.id) ?? 0,
      );
      const s = this.vms.stats(r.id);
      if (!s) continue;
      put("typevisor_vm_instructions_total", "guest instructions retired", "counter", base, s.instructions);
      put("typevisor_vm_rss_bytes", "resident memory of the VM's process", "gauge", base, s.rssBytes);
      for (const [cause, n] of Object.entries(s.exceptions))
        put("typevisor_vm_exceptions_total", "exceptions (traps) taken, by cause", "counter", { ...base, cause }, n);
      for (const [cause, n] of Object.entries(s.interrupts))
        put("typevisor_vm_interrupts_total", "interrupts taken, by cause", "counter", { ...base, cause }, n);
      for (const [call, n] of Object.entries(s.sbiCalls))
        put(
          "typevisor_vm_sbi_calls_total",
          "SBI hypercalls served, by extension.function",
          "counter",
          { ...base, call },
          n,
        );
      for (const [kind, n] of Object.entries(s.exits))
        put("typevisor_vm_exits_total", "exits from guest execution to the VMM", "counter", { ...base, kind }, n);
      for (const [cls, ops] of Object.entries(s.emulated)) {
        for (const [op, n] of Object.entries(ops))
          put(
            "typevisor_vm_emulated_total",
            "privileged operations emulated, by lecture class",
            "counter",
            { ...base, class: cls, op },
            n,
          );
      }
      put(
        "typevisor_vm_console_tx_bytes_total",
        "bytes the guest wrote to its console",
        "counter",
        base,
        s.console.txBytes,
      );
      put(
        "typevisor_vm_console_dropped_bytes_total",
        "console output the VM process dropped (oldest first) because the channel to the daemon was full",
        "counter",
        base,
        s.console.droppedBytes,
      );
      if (s.net) {
        put("typevisor_vm_net_frames_total", "virtio-net frames", "counter", { ...base, dir: "tx" }, s.net.txFrames);
        put("typevisor_vm_net_frames_total", "virtio-net frames", "counter", { ...base, dir: "rx" }, s.net.rxFrames);
      }
    }
    for (const [name, f] of fam) out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.lines);
    return out.join("\n") + "\n";
  }
}

function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === "false" || v === "0") return false;
  if (v === "" || v === "true" || v === "1") return true;
  throw new ApiError(400, `${name}: must be true or false, not '${v}'`);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2) + "\n";
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** The body of POST /v1/migrations (sent by a source daemon), checked field by field. */
function checkIncoming(b: Record<string, unknown>): IncomingMigration {
  const name = optionalString(b, "name");
  if (name === undefined) throw new ApiError(400, "name: missing");
  const spec = { ...(b["spec"] as Record<string, unknown>), name };
  if (!validateSpec(spec)) throw new ApiError(400, `spec: ${describeAjvError()}`);
  const disks = b["disks"];
  const nics = b["nics"];
  if (!Array.isArray(disks) || !Array.isArray(nics)) throw new ApiError(400, "disks and nics: must be arrays");
  for (const [i, d] of (disks as unknown[]).entries()) {
    const o = d as Record<string, unknown> | null;
    if (
      typeof o !== "object" ||
      o === null ||
      typeof o["path"] !== "string" ||
      typeof o["readOnly"] !== "boolean" ||
      (o["overlay"] !== undefined && typeof o["overlay"] !== "string")
    )
      throw new ApiError(400, `disks/${i}: must be {path, readOnly, overlay?}`);
  }
  for (const [i, n] of (nics as unknown[]).entries()) {
    const o = n as Record<string, unknown> | null;
    if (typeof o !== "object" || o === null || typeof o["mac"] !== "string" || typeof o["kind"] !== "string")
      throw new ApiError(400, `nics/${i}: must be a NIC with kind and mac`);
  }
  const copyDisks = b["copyDisks"] ?? false;
  if (typeof copyDisks !== "boolean") throw new ApiError(400, "copyDisks: must be true or false");
  return { name, spec: spec as unknown as VmSpec, disks: disks as DiskSpec[], nics: nics as NicSpec[], copyDisks };
}

/** A JSON object body, or {} for an empty body (actions whose fields are all optional). */
async function readOptionalObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (
    !req.headers["content-type"] &&
    (req.headers["content-length"] ?? "0") === "0" &&
    !req.headers["transfer-encoding"]
  )
    return {};
  const body = await readJson(req);
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) throw new ApiError(400, "the body must be a JSON object");
  return body as Record<string, unknown>;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new ApiError(400, `${field}: must be a string`);
  return v;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const ct = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/.test(ct))
    throw new ApiError(400, `the body must be JSON (Content-Type: application/json), not '${ct || "none"}'`);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) throw new ApiError(400, `the body is larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (e) {
    throw new ApiError(400, `the body is not valid JSON: ${(e as Error).message}`);
  }
}
