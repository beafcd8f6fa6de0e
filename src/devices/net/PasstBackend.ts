// User-mode networking through passt (https://passt.top, Debian package `passt`): the guest's
// Ethernet frames go to a passt process, which gives the guest DHCP, DNS and ARP answers and carries
// its TCP/UDP/ICMP traffic over ordinary host sockets: no root, no TAP, and no network stack inside
// the VMM (a bug in one runs in passt's own sandboxed process). The host's loopback is reachable at
// the gateway address (passt maps connections to the gateway to 127.0.0.1 unless --no-map-gw).
//
// passt runs in the foreground (-f) with its UNIX socket in a private 0700 directory, serves exactly
// one client (-1, so it exits when we close the socket) and speaks QEMU's stream format on it
// (FrameStream.ts). Port forwards are passt's -t/-u options.
import { spawn, type ChildProcess } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NetBackend, NetEndpoint } from "./NetBackend.js";
import { connectUnix, FrameStream, type FrameStreamStats } from "./FrameStream.js";

export interface PasstForward {
  proto: "tcp" | "udp";
  hostAddr: string;
  hostPort: number;
  guestPort: number;
}

export interface PasstOptions {
  hostfwd?: readonly PasstForward[];
  /** The passt binary (default "passt" on PATH). */
  passt?: string;
  /** Where the private socket directory is made (default the OS temporary directory). */
  runtimeDir?: string;
  /** How long to wait for passt's socket (default 10 s). */
  timeoutMs?: number;
}

/** passt's -t/-u spec for one forward: ADDR/HOSTPORT:GUESTPORT (passt(1), "-t, --tcp-ports"). */
export function passtForwardSpec(f: PasstForward): string {
  return `${f.hostAddr}/${f.hostPort}:${f.guestPort}`;
}

export class PasstMissingError extends Error {}

/** The unprivileged user passt runs as when started by root (Debian's nobody/nogroup). */
const NOBODY = 65534;

export class PasstBackend implements NetBackend {
  private endpoint: NetEndpoint | null = null;
  private closed = false;
  /** Why the link went down (passt exited or the socket failed), once it has. */
  failure: string | undefined;

  private stream: FrameStream | null = null;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly log: () => string,
  ) {}

  /** Frames to and from passt, and how many were dropped because a queue was full. */
  get stats(): FrameStreamStats {
    return this.stream?.stats ?? { txFrames: 0, rxFrames: 0, txDropped: 0, rxDropped: 0 };
  }

  /** Starts passt and connects to it; rejects with a message saying what to do if it cannot. */
  static async start(opts: PasstOptions = {}): Promise<PasstBackend> {
    const bin = opts.passt ?? "passt";
    const dir = mkdtempSync(join(opts.runtimeDir ?? tmpdir(), "typevisor-passt-")); // mode 0700
    const sock = join(dir, "passt.socket");
    // -f foreground, -e log to stderr (not only syslog), -1 one client then exit, -m 1500: the MTU
    // the virtio-net device offers (no offloads), so DHCP does not hand out passt's default 65520.
    const args = ["-f", "-e", "-q", "-1", "-s", sock, "-m", "1500"];
    if (process.getuid?.() === 0) {
      // passt refuses to keep root: it becomes nobody *before* binding its socket, so the private
      // directory must belong to that user (root still connects; other users still cannot).
      args.push("--runas", `${NOBODY}:${NOBODY}`);
      chownSync(dir, NOBODY, NOBODY);
    }
    for (const f of opts.hostfwd ?? []) args.push(f.proto === "tcp" ? "-t" : "-u", passtForwardSpec(f));
    const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      // passt also tries syslog; in containers without /dev/log it says so on every line.
      const kept = d
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.startsWith("Failed to send"))
        .join("\n");
      if (kept) log = (log + kept + "\n").slice(-4000);
    });
    const exited = new Promise<string>((resolve) => {
      child.once("error", (e: NodeJS.ErrnoException) => {
        resolve(e.code === "ENOENT" ? "MISSING" : e.message);
      });
      child.once("exit", (code, signal) =>
        // passt 2023 reports a failed bind only by exiting 0 as soon as its (never-bound) socket "closes".
        resolve(
          signal
            ? `passt was ended by ${signal}`
            : code === 0
              ? `passt exited before accepting a connection on ${sock} (can the user passt runs as reach that directory?)`
              : `passt exited with status ${code}`,
        ),
      );
    });
    const fail = async (why: string): Promise<never> => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      if (why === "MISSING") {
        throw new PasstMissingError(
          `user-mode networking needs passt, which is not installed (Debian/Ubuntu: apt-get install passt), or use --net none`,
        );
      }
      throw new Error(
        `passt did not start: ${why}${log.trim() ? `: ${log.trim().split("\n").slice(-3).join(" / ")}` : ""}`,
      );
    };
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    let done: string | undefined;
    void exited.then((r) => (done = r));
    for (;;) {
      if (done !== undefined) return fail(done);
      const { socket } = await connectUnix(sock);
      if (socket) {
        const backend = new PasstBackend(child, dir, () => log);
        backend.stream = new FrameStream(
          socket,
          (frame) => backend.endpoint?.receive(frame) ?? false,
          (reason) => {
            if (!backend.closed)
              backend.failure ??= `${reason}${log.trim() ? ` (passt: ${log.trim().split("\n").slice(-1)[0]})` : ""}`;
          },
        );
        void exited.then((r) => {
          if (!backend.closed) backend.failure ??= r;
        });
        return backend;
      }
      if (Date.now() > deadline) return fail(`its socket ${sock} did not appear within ${opts.timeoutMs ?? 10_000} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** passt's recent log lines (diagnosis). */
  get passtLog(): string {
    return this.log();
  }

  attach(endpoint: NetEndpoint): void {
    this.endpoint = endpoint;
  }

  send(frame: Uint8Array): void {
    this.stream?.send(frame);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Closing the socket ends a one-off passt by itself; the signal covers a passt that hangs.
    const gone =
      this.child.exitCode !== null || this.child.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((r) => this.child.once("exit", () => r()));
    this.stream?.close();
    const t = setTimeout(() => this.child.kill("SIGKILL"), 1000);
    this.child.kill("SIGTERM");
    await gone;
    clearTimeout(t);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
