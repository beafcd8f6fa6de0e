// A stream socket carried by a host socket (Node's net): TCP over IPv4/IPv6, and AF_UNIX
// connections that reach a host listener (a socket file the guest did not bind itself) or come
// from a host client to a guest listener (LocalSocket). Received bytes are queued here and the
// host socket is paused beyond SOCK_BUFFER; writes go to net.Socket.write and the guest blocks
// while more than SOCK_BUFFER is unsent. bind() starts the host listener (Node cannot bind a TCP
// socket without listening), so a bound socket accepts connections into its queue before the
// guest calls listen(); connect() after bind() closes it and connects from that local port.
import * as net from "node:net";
import { Errno, errnoOf } from "./Errno.js";
import { AF_INET6, AF_UNIX, inetAddr, type SockAddr } from "./SockAddr.js";
import {
  MSG_PEEK,
  PENDING,
  SHUT_RD,
  SHUT_WR,
  SOCK_BUFFER,
  SOCK_STREAM,
  Socket,
  WOULD_BLOCK,
  type Received,
  type SockResult,
} from "./Socket.js";

const enum State {
  Idle,
  Binding,
  Bound,
  Connecting,
  Connected,
  Closed,
}

export class HostStreamSocket extends Socket {
  private state = State.Idle;
  private server: net.Server | undefined;
  private conn: net.Socket | undefined;
  private readonly rx: Buffer[] = [];
  private rxBytes = 0;
  private rxEof = false;
  private rdShut = false;
  private wrShut = false;
  private readonly backlog: Socket[] = [];
  private maxBacklog = 16;
  /** A blocking bind/connect is waiting for its host result (returned once on retry). */
  private callResult: number | undefined;
  private bound: SockAddr | undefined;
  /** For an AF_UNIX connection: the guest's names for the two ends. */
  private unixPeer: SockAddr | undefined;

  constructor(flags: number, domain: number, protocol = 0) {
    super(flags, domain, SOCK_STREAM, protocol);
  }

  /** A socket for a connection the host accepted (a TCP listener's, or a host client of a guest AF_UNIX listener). */
  static accepted(domain: number, conn: net.Socket, unixName?: SockAddr): HostStreamSocket {
    const s = new HostStreamSocket(0, domain);
    s.unixPeer = unixName && { family: AF_UNIX };
    s.bound = unixName;
    s.attach(conn);
    s.state = State.Connected;
    return s;
  }

  private attach(conn: net.Socket): void {
    this.conn = conn;
    conn.on("data", (b: Buffer) => {
      if (this.rdShut) return;
      this.rx.push(b);
      this.rxBytes += b.length;
      if (this.rxBytes >= SOCK_BUFFER) conn.pause();
      this.rxWait.wakeAll();
    });
    conn.on("end", () => {
      this.rxEof = true;
      this.rxWait.wakeAll();
    });
    conn.on("drain", () => this.txWait.wakeAll());
    conn.on("error", (e) => {
      this.pendingError = errnoOf(e);
      this.wakeBoth();
    });
    conn.on("close", () => {
      this.rxEof = true;
      if (this.state === State.Connected) this.state = State.Closed;
      this.wakeBoth();
    });
  }

  private wakeBoth(): void {
    this.rxWait.wakeAll();
    this.txWait.wakeAll();
  }

  private takeResult(): number {
    const r = this.callResult ?? 0;
    this.callResult = undefined;
    return r;
  }

  readiness(): [boolean, boolean, boolean] {
    if (this.listening) return [this.backlog.length > 0, false, false];
    const err = this.pendingError !== 0;
    const c = this.conn;
    const connected = this.state === State.Connected && c !== undefined;
    const readable = this.rxBytes > 0 || this.rxEof || err || this.rdShut;
    const writable = err || this.state === State.Closed || (connected && c.writableLength < SOCK_BUFFER);
    return [readable, writable, this.state === State.Closed || (this.rxEof && this.wrShut) || err];
  }

  bind(addr: SockAddr): SockResult {
    if (this.state === State.Binding) return PENDING;
    if (this.callResult !== undefined && this.state !== State.Connecting) return this.takeResult();
    if (this.state !== State.Idle) return -Errno.EINVAL;
    if (addr.family !== this.domain || addr.family === AF_UNIX || !("port" in addr)) return -Errno.EINVAL;
    const server = net.createServer({ allowHalfOpen: true });
    this.server = server;
    this.state = State.Binding;
    const v6only = this.options.get((41 << 16) | 26);
    server.on("connection", (c) => {
      if (this.backlog.length >= this.maxBacklog) {
        c.destroy();
        return;
      }
      this.backlog.push(HostStreamSocket.accepted(this.domain, c));
      this.rxWait.wakeAll();
    });
    server.once("error", (e) => {
      this.state = State.Idle;
      this.server = undefined;
      this.callResult = -errnoOf(e);
      this.wakeBoth();
    });
    server.once("listening", () => {
      const a = server.address() as net.AddressInfo;
      this.bound = inetAddr(this.domain, a.address, a.port);
      this.state = State.Bound;
      this.callResult = 0;
      this.wakeBoth();
    });
    server.listen({
      host: addr.host,
      port: addr.port,
      exclusive: true,
      ipv6Only: this.domain === AF_INET6 && v6only !== undefined && v6only[0] !== 0,
      backlog: 511,
    });
    return PENDING;
  }

  listen(backlog: number): SockResult {
    if (this.state === State.Idle) {
      // listen() on an unbound socket binds it to an ephemeral port on every address (ip(7)).
      const r = this.bind(inetAddr(this.domain, undefined, 0));
      if (r !== PENDING) return r;
      return PENDING;
    }
    if (this.state === State.Binding) return PENDING;
    if (this.state !== State.Bound) return -Errno.EINVAL;
    this.callResult = undefined;
    this.listening = true;
    this.maxBacklog = Math.max(16, Math.min(backlog, 4096));
    return 0;
  }

  accept(): Socket | SockResult {
    if (!this.listening) return -Errno.EINVAL;
    const s = this.backlog.shift();
    return s ?? WOULD_BLOCK;
  }

  /** Connects to a host path (AF_UNIX) or address. */
  connect(addr: SockAddr, nonBlocking: boolean, unixHostPath?: string): SockResult {
    switch (this.state) {
      case State.Connecting:
        return nonBlocking && this.callResult === undefined ? -Errno.EALREADY : WOULD_BLOCK;
      case State.Connected:
      case State.Closed:
        if (this.callResult !== undefined) return this.takeResult();
        return -Errno.EISCONN;
      case State.Binding:
        return PENDING;
      default:
    }
    if (this.callResult !== undefined && this.callResult < 0) {
      // A background connect failed: report it once (the retry of a blocking connect).
      this.pendingError = 0;
      return this.takeResult();
    }
    if (this.listening) return -Errno.EINVAL;
    let opts: net.NetConnectOpts;
    if (unixHostPath !== undefined) {
      opts = { path: unixHostPath, allowHalfOpen: true };
      this.unixPeer = addr;
    } else {
      if (!("port" in addr) || addr.family !== this.domain) return -Errno.EAFNOSUPPORT;
      if (addr.port === 0) return -Errno.ECONNREFUSED;
      opts = { host: addr.host, port: addr.port, allowHalfOpen: true, family: this.domain === AF_INET6 ? 6 : 4 };
      if (this.server && this.bound && "port" in this.bound) {
        // A client that bound its local address first: give the port back to connect from it.
        opts.localAddress = this.bound.host;
        opts.localPort = this.bound.port;
        this.server.close();
        this.server = undefined;
      }
    }
    const conn = net.connect(opts);
    this.state = State.Connecting;
    this.attach(conn);
    conn.once("connect", () => {
      this.state = State.Connected;
      this.callResult = nonBlocking ? undefined : 0;
      this.wakeBoth();
    });
    conn.once("error", (e) => {
      if (this.state !== State.Connecting) return;
      this.state = State.Idle;
      this.conn = undefined;
      this.callResult = -errnoOf(e);
      this.wakeBoth();
    });
    if (!nonBlocking) this.callResult = undefined;
    return nonBlocking ? -Errno.EINPROGRESS : WOULD_BLOCK;
  }

  send(data: Uint8Array): SockResult {
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = 0;
      return -e;
    }
    if (this.wrShut || this.state === State.Closed) return -Errno.EPIPE;
    const c = this.conn;
    if (this.state !== State.Connected || !c) return -Errno.ENOTCONN;
    if (c.destroyed || !c.writable) return -Errno.EPIPE;
    if (c.writableLength >= SOCK_BUFFER) return WOULD_BLOCK;
    c.write(Buffer.from(data));
    return data.length;
  }

  recv(max: number, flags: number): Received | SockResult {
    if (this.rxBytes === 0) {
      if (this.pendingError) {
        const e = this.pendingError;
        this.pendingError = 0;
        return -e;
      }
      if (this.rxEof || this.rdShut) return 0;
      if (this.state !== State.Connected) return this.state === State.Closed ? 0 : -Errno.ENOTCONN;
      return WOULD_BLOCK;
    }
    const n = Math.min(max, this.rxBytes);
    const out = new Uint8Array(n);
    let done = 0;
    let i = 0;
    while (done < n) {
      const b = this.rx[i]!;
      const k = Math.min(b.length, n - done);
      out.set(b.subarray(0, k), done);
      done += k;
      if (flags & MSG_PEEK) i++;
      else if (k === b.length) this.rx.shift();
      else this.rx[0] = b.subarray(k);
    }
    if (!(flags & MSG_PEEK)) {
      this.rxBytes -= n;
      if (this.rxBytes < SOCK_BUFFER && this.conn?.isPaused()) this.conn.resume();
    }
    return { data: out, fullLength: n };
  }

  shutdown(how: number): SockResult {
    if (this.state !== State.Connected && this.state !== State.Closed) return -Errno.ENOTCONN;
    if (how !== SHUT_WR) {
      this.rdShut = true;
      this.rx.length = 0;
      this.rxBytes = 0;
    }
    if (how !== SHUT_RD && !this.wrShut) {
      this.wrShut = true;
      this.conn?.end();
    }
    this.wakeBoth();
    return 0;
  }

  localAddr(): SockAddr {
    if (this.domain === AF_UNIX) return this.bound ?? { family: AF_UNIX };
    const c = this.conn;
    if (c && c.localAddress) return inetAddr(this.domain, c.localAddress, c.localPort);
    return this.bound ?? inetAddr(this.domain, undefined, 0);
  }

  peerAddr(): SockAddr | undefined {
    if (this.state !== State.Connected) return undefined;
    if (this.domain === AF_UNIX) return this.unixPeer ?? { family: AF_UNIX };
    const c = this.conn;
    return c?.remoteAddress ? inetAddr(this.domain, c.remoteAddress, c.remotePort) : undefined;
  }

  available(): number {
    return this.rxBytes;
  }

  override applyOption(level: number, name: number, value: number): void {
    const c = this.conn;
    if (!c) return;
    if (level === 6 && name === 1) c.setNoDelay(value !== 0); // IPPROTO_TCP, TCP_NODELAY
    if (level === 1 && name === 9) c.setKeepAlive(value !== 0); // SOL_SOCKET, SO_KEEPALIVE
  }

  release(): void {
    this.conn?.destroy();
    this.server?.close();
    for (const s of this.backlog) s.release();
    this.backlog.length = 0;
    this.state = State.Closed;
    this.wakeBoth();
  }
}
