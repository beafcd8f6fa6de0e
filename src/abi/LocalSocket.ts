// AF_UNIX sockets (unix(7)) between guest processes, kept inside the kernel: a connected stream
// pair is two pipe buffers (one per direction, the same Pipe as pipe(2)); a datagram socket has
// an inbox of whole messages. socketpair() makes a pair directly. bind() to a path creates a real
// socket file at the guest's (GuestFs-resolved, so --root-confined) path and records it in the
// UnixNamespace; connect() to a path finds the listener there (checked by inode, so a file the
// guest replaced is not confused with it). A path that no guest socket owns is a host socket:
// a stream connect goes to it through Node's net (HostStreamSocket); host clients that connect to
// a guest listener's file are accepted as HostStreamSockets too. Abstract names (sun_path[0] == 0)
// exist only among the guest's processes: the host's abstract sockets are out of reach.
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as nodePath from "node:path";
import { Errno, errnoOf } from "./Errno.js";
import { HostStreamSocket } from "./HostStreamSocket.js";
import { OpenFile_drop, Pipe, WaitQueue, type OpenFile } from "./OpenFile.js";
import { AF_UNIX, type SockAddr } from "./SockAddr.js";
import {
  MSG_PEEK,
  SHUT_RD,
  SHUT_WR,
  SOCK_DGRAM,
  SOCK_STREAM,
  Socket,
  WOULD_BLOCK,
  type Received,
  type SockResult,
} from "./Socket.js";

/** Datagrams queued per socket before senders wait (net.unix.max_dgram_qlen's default). */
const MAX_DGRAMS = 512;
/** Descriptors queued with SCM_RIGHTS per socket before more are refused (ETOOMANYREFS). */
const MAX_RIGHTS = 253;

/** The names bound by guest AF_UNIX sockets: "p:" + host path, or "a:" + abstract name. */
export class UnixNamespace {
  readonly names = new Map<string, { sock: LocalSocket; ino: bigint }>();
  private tmpDir: string | undefined;
  private seq = 0;

  /**
   * Creates a socket file at hostPath whose host-side listener is `server`. libuv binds a short
   * private path, which is then hard-linked to hostPath: the guest's path has no length limit
   * beyond Linux's, and when the server closes libuv removes only its private name, never a file
   * the guest may have put at hostPath since.
   */
  createSocketFile(hostPath: string, server: net.Server, mode: number): bigint {
    if (fs.lstatSync(hostPath, { throwIfNoEntry: false })) throw Object.assign(new Error(), { code: "EADDRINUSE" });
    this.tmpDir ??= fs.mkdtempSync(nodePath.join(os.tmpdir(), "typevisor-unix-"));
    const priv = nodePath.join(this.tmpDir, String(this.seq++));
    server.listen({ path: priv });
    try {
      fs.linkSync(priv, hostPath);
    } finally {
      fs.rmSync(priv, { force: true });
    }
    fs.chmodSync(hostPath, mode);
    return fs.lstatSync(hostPath, { bigint: true }).ino;
  }

  /** The guest socket bound at a key, if its file is still the one it created. */
  lookup(key: string, hostPath: string | undefined): LocalSocket | undefined {
    const e = this.names.get(key);
    if (!e) return undefined;
    if (hostPath !== undefined) {
      const st = fs.lstatSync(hostPath, { bigint: true, throwIfNoEntry: false });
      if (!st || st.ino !== e.ino) return undefined;
    }
    return e.sock;
  }

  /** Removes the private directory (the kernel is done). */
  dispose(): void {
    if (this.tmpDir) fs.rmSync(this.tmpDir, { recursive: true, force: true });
    this.tmpDir = undefined;
  }
}

interface Dgram {
  data: Uint8Array;
  from: SockAddr;
  rights?: OpenFile[];
}

export class LocalSocket extends Socket {
  /** Stream: bytes coming in (we are its reader) and going out (we are its writer). */
  private rxPipe: Pipe | undefined;
  private txPipe: Pipe | undefined;
  /** Descriptions passed with SCM_RIGHTS, waiting for the reader. */
  rights: OpenFile[][] = [];
  private peer: LocalSocket | undefined;
  private name: SockAddr = { family: AF_UNIX };
  private key: string | undefined;
  private ns: UnixNamespace | undefined;
  private server: net.Server | undefined;
  private readonly backlog: Socket[] = [];
  private maxBacklog = 16;
  private readonly inbox: Dgram[] = [];
  /** Dgram: woken when our inbox has room again (senders to us wait on it). */
  readonly spaceWait = new WaitQueue();
  private blockedOn: LocalSocket | undefined;
  /** The peer's credentials (SO_PEERCRED): pid, uid, gid. */
  peerCred: [number, number, number] = [0, 0, 0];
  private wrShut = false;
  private rdShut = false;
  private connected = false;

  constructor(flags: number, type: number) {
    super(flags, AF_UNIX, type, 0);
  }

  /** socketpair(2), or the two ends of a connection to a listener. */
  static pair(type: number, flagsA: number, flagsB: number): [LocalSocket, LocalSocket] {
    const a = new LocalSocket(flagsA, type);
    const b = new LocalSocket(flagsB, type);
    a.peer = b;
    b.peer = a;
    a.connected = b.connected = true;
    if (type !== SOCK_DGRAM) {
      const ab = new Pipe();
      const ba = new Pipe();
      ab.writers = ab.readers = ba.writers = ba.readers = 1;
      a.txPipe = b.rxPipe = ab;
      a.rxPipe = b.txPipe = ba;
    }
    return [a, b];
  }

  /** Registers the waiter on everything that can change this socket's readiness. */
  override watch(wake: () => void): void {
    this.rxWait.add(wake);
    this.txWait.add(wake);
    this.rxPipe?.readWait.add(wake);
    this.txPipe?.writeWait.add(wake);
    this.blockedOn?.spaceWait.add(wake);
  }

  readiness(): [boolean, boolean, boolean] {
    if (this.listening) return [this.backlog.length > 0, false, false];
    if (this.type === SOCK_DGRAM) {
      const p = this.peer;
      return [this.inbox.length > 0, !p || p.inbox.length < MAX_DGRAMS, false];
    }
    const rx = this.rxPipe;
    const tx = this.txPipe;
    if (!rx || !tx) return [false, false, true];
    const eof = rx.writers === 0 || this.rdShut;
    return [
      rx.length > 0 || eof,
      tx.readers === 0 || tx.length < Pipe.CAPACITY,
      eof && (tx.readers === 0 || this.wrShut),
    ];
  }

  bind(): SockResult {
    return -Errno.EINVAL; // AF_UNIX binds go through bindName (they need the namespace)
  }

  /** bind(2) to a path (hostPath = its resolved host path) or abstract name. */
  bindName(ns: UnixNamespace, addr: SockAddr, hostPath: string | undefined, mode: number): SockResult {
    if (this.key !== undefined || addr.family !== AF_UNIX) return -Errno.EINVAL;
    let key: string;
    let ino = 0n;
    if (addr.abstract !== undefined) {
      key = "a:" + addr.abstract;
      if (ns.names.has(key)) return -Errno.EADDRINUSE;
    } else if (hostPath !== undefined) {
      key = "p:" + hostPath;
      const server = net.createServer({ allowHalfOpen: true });
      server.on("error", () => {});
      server.on("connection", (c) => {
        // A host client: for a listening stream socket it joins the accept queue.
        if (this.type !== SOCK_STREAM || !this.listening || this.backlog.length >= this.maxBacklog) {
          c.destroy();
          return;
        }
        this.backlog.push(HostStreamSocket.accepted(AF_UNIX, c, this.name));
        this.rxWait.wakeAll();
      });
      try {
        ino = ns.createSocketFile(hostPath, server, mode);
      } catch (e) {
        server.close();
        return -errnoOf(e);
      }
      this.server = server;
    } else return -Errno.EINVAL; // autobind (an unnamed bind) is not offered
    this.key = key;
    this.ns = ns;
    this.name = addr;
    ns.names.set(key, { sock: this, ino });
    return 0;
  }

  listen(backlog: number): SockResult {
    if (this.type === SOCK_DGRAM) return -Errno.EOPNOTSUPP;
    if (this.connected) return -Errno.EINVAL;
    if (this.key === undefined) return -Errno.EINVAL; // Linux would autobind; programs bind first
    this.listening = true;
    this.maxBacklog = Math.max(16, Math.min(backlog, 4096));
    return 0;
  }

  accept(): Socket | SockResult {
    if (!this.listening) return -Errno.EINVAL;
    const s = this.backlog.shift();
    if (s) this.txWait.wakeAll(); // room for a waiting connect
    return s ?? WOULD_BLOCK;
  }

  connect(): SockResult {
    return -Errno.EINVAL; // AF_UNIX connects go through connectTo
  }

  /** connect(2) to a guest socket found in the namespace; pid/uid/gid are the caller's (SO_PEERCRED). */
  connectTo(target: LocalSocket, addr: SockAddr, cred: [number, number, number]): SockResult {
    if (this.connected && this.type !== SOCK_DGRAM) return -Errno.EISCONN;
    if (target.type !== this.type) return -Errno.EPROTOTYPE;
    if (this.type === SOCK_DGRAM) {
      this.peer = target;
      this.connected = true;
      return 0;
    }
    if (!target.listening) return -Errno.ECONNREFUSED;
    if (target.backlog.length >= target.maxBacklog) {
      this.blockedOn = undefined;
      target.txWait.add(() => this.txWait.wakeAll());
      return WOULD_BLOCK;
    }
    const [mine, theirs] = LocalSocket.pair(this.type, 0, 0);
    this.rxPipe = mine.rxPipe;
    this.txPipe = mine.txPipe;
    this.peer = theirs;
    theirs.peer = this;
    theirs.name = target.name;
    this.connected = true;
    this.peerCred = target.peerCred;
    theirs.peerCred = cred;
    this.peerName = addr;
    target.backlog.push(theirs);
    target.rxWait.wakeAll();
    return 0;
  }

  private peerName: SockAddr | undefined;

  send(data: Uint8Array, to: SockAddr | undefined, rights?: OpenFile[], target?: LocalSocket): SockResult {
    if (this.type === SOCK_DGRAM) {
      const dest = target ?? this.peer;
      if (!dest) return to ? -Errno.ECONNREFUSED : -Errno.ENOTCONN;
      if (dest.refs === 0 || (dest.peer && dest.peer !== this && dest.connected)) return -Errno.EPERM;
      if (dest.inbox.length >= MAX_DGRAMS) {
        this.blockedOn = dest;
        return WOULD_BLOCK;
      }
      this.blockedOn = undefined;
      dest.inbox.push({ data: data.slice(), from: this.name, rights });
      dest.rxWait.wakeAll();
      return data.length;
    }
    const tx = this.txPipe;
    if (!tx) return -Errno.ENOTCONN;
    if (this.wrShut || tx.readers === 0) return -Errno.EPIPE;
    if (tx.length === Pipe.CAPACITY) return WOULD_BLOCK;
    if (rights && this.peer) {
      if (this.peer.rights.length >= MAX_RIGHTS) return -Errno.ETOOMANYREFS;
      this.peer.rights.push(rights);
    }
    return tx.put(data, 0, data.length);
  }

  recv(max: number, flags: number): Received | SockResult {
    if (this.type === SOCK_DGRAM) {
      const m = this.inbox[0];
      if (!m) return WOULD_BLOCK;
      if (!(flags & MSG_PEEK)) {
        this.inbox.shift();
        this.spaceWait.wakeAll();
      }
      return { data: m.data.subarray(0, max), from: m.from, fullLength: m.data.length, rights: m.rights };
    }
    const rx = this.rxPipe;
    if (!rx) return -Errno.EINVAL;
    if (rx.length === 0) return rx.writers === 0 || this.rdShut ? 0 : WOULD_BLOCK;
    const n = Math.min(max, rx.length);
    const out = new Uint8Array(n);
    if (flags & MSG_PEEK) {
      const saveHead = rx.head;
      const saveLen = rx.length;
      rx.take(out, 0, n);
      rx.head = saveHead;
      rx.length = saveLen;
      return { data: out, fullLength: n };
    }
    rx.take(out, 0, n);
    const rights = this.rights.shift();
    return { data: out, fullLength: n, rights };
  }

  shutdown(how: number): SockResult {
    if (!this.connected) return -Errno.ENOTCONN;
    if (how !== SHUT_RD && !this.wrShut && this.txPipe) {
      this.wrShut = true;
      this.txPipe.writers--;
      this.txPipe.readWait.wakeAll();
    }
    if (how !== SHUT_WR && !this.rdShut && this.rxPipe) {
      this.rdShut = true;
      this.rxPipe.readWait.wakeAll();
    }
    this.rxWait.wakeAll();
    return 0;
  }

  localAddr(): SockAddr {
    return this.name;
  }

  peerAddr(): SockAddr | undefined {
    if (!this.connected) return undefined;
    return this.peerName ?? this.peer?.name ?? { family: AF_UNIX };
  }

  available(): number {
    return this.type === SOCK_DGRAM ? (this.inbox[0]?.data.length ?? 0) : (this.rxPipe?.length ?? 0);
  }

  release(): void {
    if (this.txPipe && !this.wrShut) {
      this.txPipe.writers--;
      this.txPipe.readWait.wakeAll();
    }
    if (this.rxPipe) {
      this.rxPipe.readers--;
      this.rxPipe.writeWait.wakeAll();
    }
    this.wrShut = true;
    for (const r of this.rights) for (const f of r) OpenFile_drop(f);
    for (const m of this.inbox) for (const f of m.rights ?? []) OpenFile_drop(f);
    this.rights = [];
    this.inbox.length = 0;
    for (const s of this.backlog) OpenFile_drop(s);
    this.backlog.length = 0;
    if (this.key !== undefined) this.ns?.names.delete(this.key);
    this.server?.close();
    this.listening = false;
    this.rxWait.wakeAll();
    this.txWait.wakeAll();
  }
}
