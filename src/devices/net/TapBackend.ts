// A Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI) as a NIC backend: frames the guest sends
// appear on a host interface, and frames the host routes there reach the guest. Attaching a TAP needs
// the TUNSETIFF ioctl, which Node cannot issue, so a tiny helper process (python3, standard library
// only) opens the device and relays frames over its stdin/stdout as [u16 big-endian length | frame].
// Needs root or CAP_NET_ADMIN; the interface disappears when the helper exits (not persistent).

import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import type { NetBackend, NetEndpoint } from "./NetBackend.js";

const HELPER = String.raw`
import os, sys, fcntl, struct, threading
TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
out, inp = sys.stdout.buffer, sys.stdin.buffer
try:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", sys.argv[1].encode(), IFF_TAP | IFF_NO_PI))
except OSError as e:
    out.write(("ERR " + str(e) + "\n").encode()); out.flush(); sys.exit(1)
out.write(b"OK " + ifr[:16].rstrip(b"\0") + b"\n"); out.flush()
lock = threading.Lock()
def pump():
    while True:
        try:
            f = os.read(fd, 65536)
        except OSError:
            os._exit(0)
        with lock:
            out.write(struct.pack(">H", len(f)) + f); out.flush()
threading.Thread(target=pump, daemon=True).start()
while True:
    h = inp.read(2)
    if len(h) < 2: break
    n = struct.unpack(">H", h)[0]
    f = inp.read(n)
    if len(f) < n: break
    try: os.write(fd, f)
    except OSError: pass
`;

export class TapBackend implements NetBackend {
  private endpoint: NetEndpoint | null = null;
  private pending = Buffer.alloc(0);
  private closed = false;

  private constructor(
    private readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
    readonly ifname: string,
    rest: Buffer,
  ) {
    child.stdout.on("data", (d: Buffer) => this.onData(d));
    child.stdin.on("error", () => {});
    if (rest.length > 0) this.onData(rest);
  }

  /** Creates (or attaches to) TAP interface `name` (≤ 15 characters). The caller configures it (ip link/addr). */
  static open(name: string, python = "python3"): Promise<TapBackend> {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name))
      return Promise.reject(new Error(`"${name}" is not a valid interface name (1-15 letters, digits, _ . -)`));
    return new Promise((resolve, reject) => {
      const child = spawn(python, ["-c", HELPER, name], { stdio: ["pipe", "pipe", "pipe"] });
      let buf = Buffer.alloc(0);
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.once("error", (e) =>
        reject(
          new Error(
            `TAP backend needs ${python} to attach /dev/net/tun: ${e.message} (install python3, or use the virtual switch)`,
          ),
        ),
      );
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const nl = buf.indexOf(10);
        if (nl < 0) return;
        child.stdout.off("data", onData);
        const line = buf.subarray(0, nl).toString();
        const rest = buf.subarray(nl + 1);
        if (line.startsWith("OK ")) resolve(new TapBackend(child, line.slice(3), rest));
        else {
          child.kill();
          reject(
            new Error(
              `cannot create TAP interface ${name}: ${line.replace(/^ERR /, "")} (TAP needs root or CAP_NET_ADMIN and /dev/net/tun; otherwise use the virtual switch)`,
            ),
          );
        }
      };
      child.stdout.on("data", onData);
      child.once("exit", (code) =>
        reject(new Error(`TAP helper exited (${code}) before attaching ${name}: ${stderr.trim()}`)),
      );
    });
  }

  private onData(d: Buffer): void {
    let b = this.pending.length > 0 ? Buffer.concat([this.pending, d]) : d;
    while (b.length >= 2) {
      const n = b.readUInt16BE(0);
      if (b.length < 2 + n) break;
      this.endpoint?.receive(b.subarray(2, 2 + n));
      b = b.subarray(2 + n);
    }
    this.pending = b.length > 0 ? Buffer.from(b) : Buffer.alloc(0);
  }

  attach(endpoint: NetEndpoint): void {
    this.endpoint = endpoint;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    const m = Buffer.allocUnsafe(2 + frame.length);
    m.writeUInt16BE(frame.length, 0);
    m.set(frame, 2);
    this.child.stdin.write(m);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.stdin.end();
    this.child.kill();
    await exited;
  }
}
