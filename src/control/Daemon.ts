// `typevisor serve`: the control-plane daemon. Listens on a Unix socket (owner-only, mode 0600) and,
// optionally, on TCP where every request must carry the bearer token.
import { createServer, type Server } from "node:http";
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { ControlApi, type ApiOptions } from "./Api.js";
import { VmManager, type ImageResolver } from "./VmManager.js";
import { HostPaths } from "./HostPaths.js";

export interface DaemonOptions {
  stateDir: string;
  socket: string;
  /** host:port for TCP, with token. */
  listen?: { host: string; port: number; token: string };
  resolveImage: ImageResolver;
  /** Directories (besides the state directory) whose files VM specs may name: 'serve --allow-dir'. */
  allowDirs?: string[];
  /** How long a console WebSocket client may stay stalled before it is disconnected (ms). */
  consoleStallMs?: number;
  /** false: VM processes end with the daemon's process instead of waiting to be re-adopted. */
  vmsOutliveDaemon?: boolean;
  /** Keep a warm spare VM process for restores (default true; SpareVmProcess.ts). */
  warmSpare?: boolean;
  /** The image cache: specs may name its files read-only (a disk there needs readOnly or overlay). */
  imageDir?: string;
  shutdownTimeoutMs?: number;
  /** The dashboard's files (dist/web/ui), served at /ui/ on the TCP listener (docs/WEB.md). */
  uiDir?: string;
  log?: (line: string) => void;
}

export class Daemon {
  readonly vms: VmManager;
  readonly api: ControlApi;
  private servers: Server[] = [];
  tcpPort: number | undefined;

  constructor(private readonly opts: DaemonOptions) {
    const paths = new HostPaths([
      { dir: opts.stateDir, writable: true },
      ...(opts.imageDir ? [{ dir: opts.imageDir, writable: false }] : []),
      ...(opts.allowDirs ?? []).map((dir) => ({ dir, writable: true, shareable: true })),
    ]);
    this.vms = new VmManager(
      opts.stateDir,
      opts.resolveImage,
      opts.shutdownTimeoutMs,
      paths,
      opts.vmsOutliveDaemon ?? true,
      opts.warmSpare ?? true,
    );
    this.api = new ControlApi(this.vms, opts.log, opts.consoleStallMs);
  }

  async start(): Promise<void> {
    const { socket } = this.opts;
    mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
    await clearStaleSocket(socket);
    // VMs a previous daemon left running (it died, even with kill -9) are re-adopted.
    await this.vms.adopt();
    const unixServer = this.server({});
    // Owner-only from the first moment: create the socket under a restrictive umask, then chmod.
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        unixServer.once("error", reject);
        unixServer.listen(socket, () => resolve());
      });
    } finally {
      process.umask(oldMask);
    }
    chmodSync(socket, 0o600);
    this.servers.push(unixServer);
    this.opts.log?.(`typevisor serve: listening on ${socket}`);
    const l = this.opts.listen;
    if (l) {
      const opts = { token: l.token, uiDir: this.opts.uiDir };
      const tcp = this.server(opts);
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(l.port, l.host, () => resolve());
      });
      const addr = tcp.address();
      this.tcpPort = typeof addr === "object" && addr ? addr.port : l.port;
      this.servers.push(tcp);
      this.opts.log?.(`typevisor serve: listening on http://${l.host}:${this.tcpPort} (bearer token required)`);
      if (this.opts.uiDir !== undefined)
        this.opts.log?.(`typevisor serve: dashboard at http://${l.host}:${this.tcpPort}/ui/ (enter the token there)`);
    }
  }

  /** An HTTP server for one listener; requests Node's parser rejects get a JSON 400 too. */
  private server(opts: ApiOptions): Server {
    const s = createServer(this.api.handler(opts));
    s.on("upgrade", this.api.upgradeHandler(opts));
    s.on("clientError", (_e, socket) => {
      const body = JSON.stringify({ error: "malformed HTTP request" });
      if (socket.writable)
        socket.end(
          `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
        );
      else socket.destroy();
    });
    return s;
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
    await this.vms.closeAll();
    try {
      unlinkSync(this.opts.socket);
    } catch {
      // already gone
    }
  }
}

/**
 * Removes a stale socket left by a daemon that died, and nothing else: a regular file, a directory
 * or a live socket (another daemon answering) at the path is refused, never deleted.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket())
    throw new Error(
      `${path} exists and is not a socket (${st.isDirectory() ? "a directory" : st.isSymbolicLink() ? "a symbolic link" : "a regular file"}): refusing to replace it; remove it yourself or give another --socket PATH`,
    );
  if (await socketAlive(path))
    throw new Error(`another daemon is listening on ${path} (stop it, or give another --socket PATH)`);
  unlinkSync(path);
}

function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}
