// A virtual switch shared by VMs in different processes (`typevisor run --net switch:NAME` in two
// terminals): the first VM on switch NAME hosts it, a VirtualSwitch (learning bridge) in its process
// listening on a UNIX socket; later VMs connect and exchange frames with it in QEMU's stream format
// (FrameStream.ts). When the hosting VM exits, its socket goes away and the remaining VMs elect a
// new host the same way (the first to bind the socket wins, the others connect to it), so the
// segment lives as long as any VM is on it.
import { createServer, type Server, type Socket } from "node:net";
import { rmSync } from "node:fs";
import type { NetBackend, NetEndpoint } from "./NetBackend.js";
import { VirtualSwitch, type SwitchPort } from "./VirtualSwitch.js";
import { connectUnix, FrameStream } from "./FrameStream.js";

type Link =
  | { kind: "host"; sw: VirtualSwitch; local: SwitchPort; server: Server; peers: Set<FrameStream> }
  | { kind: "peer"; stream: FrameStream };

/** At most this many VMs connect to one hosted switch (bounds the memory a local user can make us hold). */
const MAX_PEERS = 64;

export class SocketSwitchPort implements NetBackend {
  private endpoint: NetEndpoint | null = null;
  private link: Link | undefined;
  private closed = false;

  private constructor(readonly socketPath: string) {}

  /** Joins the switch whose socket is `socketPath` (hosting it if nobody does yet). */
  static async open(socketPath: string): Promise<SocketSwitchPort> {
    const p = new SocketSwitchPort(socketPath);
    await p.establish();
    return p;
  }

  /** True while this process hosts the switch (for tests). */
  get hosting(): boolean {
    return this.link?.kind === "host";
  }

  private deliver = (frame: Uint8Array): boolean => this.endpoint?.receive(frame) ?? false;

  private async establish(): Promise<void> {
    for (let attempt = 0; attempt < 20 && !this.closed; attempt++) {
      const s = await connectUnix(this.socketPath);
      if (s.socket) {
        this.link = { kind: "peer", stream: new FrameStream(s.socket, this.deliver, () => this.lost()) };
        return;
      }
      // Nobody listens: a socket file left by a killed host is stale (ECONNREFUSED) and removed.
      if (s.code === "ECONNREFUSED") rmSync(this.socketPath, { force: true });
      const server = await tryListen(this.socketPath);
      if (server) {
        this.host(server);
        return;
      }
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 50));
    }
    if (!this.closed) throw new Error(`cannot join or host the switch at ${this.socketPath}`);
  }

  private host(server: Server): void {
    const sw = new VirtualSwitch();
    const local = sw.connect();
    local.attach({ mac: new Uint8Array(6), receive: this.deliver });
    const peers = new Set<FrameStream>();
    server.on("connection", (sock: Socket) => {
      if (peers.size >= MAX_PEERS) {
        sock.destroy();
        return;
      }
      const port = sw.connect();
      const stream = new FrameStream(
        sock,
        (frame) => {
          port.send(frame);
          return true;
        },
        () => {
          peers.delete(stream);
          void port.close();
        },
      );
      port.attach({ mac: new Uint8Array(6), receive: (frame) => stream.send(frame) });
      peers.add(stream);
    });
    this.link = { kind: "host", sw, local, server, peers };
  }

  /** The host went away: elect a new one (maybe us) after a random delay that spreads the peers. */
  private lost(): void {
    if (this.closed) return;
    this.link = undefined;
    setTimeout(
      () => {
        if (!this.closed) this.establish().catch(() => {});
      },
      20 + Math.random() * 100,
    );
  }

  attach(endpoint: NetEndpoint): void {
    this.endpoint = endpoint;
  }

  send(frame: Uint8Array): void {
    const l = this.link;
    if (!l) return;
    if (l.kind === "host") l.local.send(frame);
    else l.stream.send(frame);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const l = this.link;
    this.link = undefined;
    if (!l) return;
    if (l.kind === "peer") {
      l.stream.close();
      return;
    }
    // Remove the socket first, so the peers that lose us find no stale file and elect a new host.
    rmSync(this.socketPath, { force: true });
    for (const p of l.peers) p.close();
    await new Promise<void>((r) => l.server.close(() => r()));
  }
}

function tryListen(path: string): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen(path, () => {
      server.removeAllListeners("error");
      server.on("error", () => {});
      resolve(server);
    });
  });
}
