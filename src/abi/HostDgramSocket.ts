// A UDP socket carried by a host one (Node's dgram). Node binds asynchronously, so bind(), and the
// implicit bind of the first sendto() or connect() of an unbound socket, park the caller until the
// host socket is bound (PENDING: even a non-blocking socket, as glibc's resolver uses, waits, since
// Linux binds at once). connect() only records the peer: replies from elsewhere are dropped and
// send() goes there, as udp(7) describes. Received datagrams wait in a queue of at most
// MAX_QUEUED; beyond it they are dropped, as a full socket buffer drops them.
import * as dgram from "node:dgram";
import { Errno, errnoOf } from "./Errno.js";
import { AF_INET6, AF_UNSPEC, inetAddr, type SockAddr } from "./SockAddr.js";
import { MSG_PEEK, PENDING, SOCK_DGRAM, Socket, WOULD_BLOCK, type Received, type SockResult } from "./Socket.js";

const MAX_QUEUED = 256;
/** The largest UDP payload (65535 - 8-byte UDP header - 20-byte IPv4 header). */
const MAX_UDP = 65507;

const enum State {
  Unbound,
  Binding,
  Bound,
  Closed,
}

export class HostDgramSocket extends Socket {
  private state = State.Unbound;
  private sock: dgram.Socket | undefined;
  private readonly queue: { data: Buffer; from: SockAddr }[] = [];
  private peer: (SockAddr & { host: string; port: number }) | undefined;
  private bound: SockAddr | undefined;
  /** The result of an explicit bind() the caller is waiting for. */
  private bindResult: number | undefined;
  private explicitBind = false;

  constructor(flags: number, domain: number, protocol = 0) {
    super(flags, domain, SOCK_DGRAM, protocol);
  }

  readiness(): [boolean, boolean, boolean] {
    return [this.queue.length > 0 || this.pendingError !== 0, this.state !== State.Closed, false];
  }

  /** Starts binding to addr; PENDING until the host socket is bound. */
  private startBind(host: string, port: number): void {
    const v6only = this.options.get((41 << 16) | 26);
    const s = dgram.createSocket({
      type: this.domain === AF_INET6 ? "udp6" : "udp4",
      ipv6Only: this.domain === AF_INET6 && v6only !== undefined && v6only[0] !== 0,
    });
    this.sock = s;
    this.state = State.Binding;
    s.on("message", (msg, rinfo) => {
      const from = inetAddr(this.domain, rinfo.address, rinfo.port);
      const p = this.peer;
      if (p && ("port" in from ? from.port !== p.port || !sameHost(from.host, p.host) : true)) return;
      if (this.queue.length >= MAX_QUEUED) return;
      this.queue.push({ data: msg, from });
      this.rxWait.wakeAll();
    });
    s.once("listening", () => {
      const a = s.address();
      this.bound = inetAddr(this.domain, a.address, a.port);
      this.state = State.Bound;
      if (this.explicitBind) this.bindResult = 0;
      this.rxWait.wakeAll();
      this.txWait.wakeAll();
    });
    s.on("error", (e) => {
      const errno = errnoOf(e);
      if (this.state === State.Binding) {
        this.state = State.Unbound;
        this.sock = undefined;
        s.close();
        this.bindResult = -errno;
      } else this.pendingError = errno;
      this.rxWait.wakeAll();
      this.txWait.wakeAll();
    });
    s.bind({ address: host, port, exclusive: true });
  }

  /** Bound now (true), or binding started/in progress (false: the caller returns PENDING). */
  private ensureBound(): boolean {
    if (this.state === State.Bound) return true;
    if (this.state === State.Unbound) this.startBind(this.domain === AF_INET6 ? "::" : "0.0.0.0", 0);
    return false;
  }

  bind(addr: SockAddr): SockResult {
    if (this.bindResult !== undefined) {
      const r = this.bindResult;
      this.bindResult = undefined;
      this.explicitBind = false;
      return r;
    }
    if (this.state === State.Binding) return PENDING;
    if (this.state !== State.Unbound) return -Errno.EINVAL;
    if (addr.family !== this.domain || !("port" in addr)) return -Errno.EINVAL;
    this.explicitBind = true;
    this.startBind(addr.host, addr.port);
    return PENDING;
  }

  listen(): SockResult {
    return -Errno.EOPNOTSUPP;
  }

  accept(): SockResult {
    return -Errno.EOPNOTSUPP;
  }

  connect(addr: SockAddr): SockResult {
    if (addr.family === AF_UNSPEC) {
      this.peer = undefined; // dissolve the association (connect(2))
      return 0;
    }
    if (addr.family !== this.domain || !("port" in addr)) return -Errno.EAFNOSUPPORT;
    if (!this.ensureBound()) return PENDING;
    this.peer = addr;
    // Datagrams from others that arrived before the association are no longer for us.
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const f = this.queue[i]!.from;
      if (!("port" in f) || f.port !== addr.port || !sameHost(f.host, addr.host)) this.queue.splice(i, 1);
    }
    return 0;
  }

  send(data: Uint8Array, to: SockAddr | undefined): SockResult {
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = 0;
      return -e;
    }
    const dest = to ?? this.peer;
    if (!dest) return -Errno.EDESTADDRREQ;
    if (dest.family !== this.domain || !("port" in dest)) return -Errno.EAFNOSUPPORT;
    if (data.length > MAX_UDP) return -Errno.EMSGSIZE;
    if (!this.ensureBound()) return PENDING;
    // The host send is asynchronous; like a datagram lost on the way, a failure is not reported.
    this.sock!.send(Buffer.from(data), dest.port, dest.host, () => {});
    return data.length;
  }

  recv(max: number, flags: number): Received | SockResult {
    const m = this.queue[0];
    if (!m) {
      if (this.pendingError) {
        const e = this.pendingError;
        this.pendingError = 0;
        return -e;
      }
      return WOULD_BLOCK;
    }
    if (!(flags & MSG_PEEK)) this.queue.shift();
    return { data: m.data.subarray(0, max), from: m.from, fullLength: m.data.length };
  }

  shutdown(): SockResult {
    return this.peer ? 0 : -Errno.ENOTCONN;
  }

  localAddr(): SockAddr {
    return this.bound ?? inetAddr(this.domain, undefined, 0);
  }

  peerAddr(): SockAddr | undefined {
    return this.peer;
  }

  available(): number {
    return this.queue[0]?.data.length ?? 0;
  }

  override applyOption(level: number, name: number, value: number): void {
    if (level === 1 && name === 6 && this.sock && this.state === State.Bound) this.sock.setBroadcast(value !== 0);
  }

  release(): void {
    if (this.sock && this.state !== State.Closed) {
      try {
        this.sock.close();
      } catch {
        // already closed by an error
      }
    }
    this.state = State.Closed;
    this.queue.length = 0;
  }
}

function sameHost(a: string, b: string): boolean {
  const norm = (h: string) => (h.startsWith("::ffff:") ? h.slice(7) : h);
  return norm(a) === norm(b) || (norm(b) === "0.0.0.0" && norm(a) === "127.0.0.1");
}
