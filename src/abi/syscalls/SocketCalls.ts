// Socket system calls (socket(2), bind(2), ... recvmmsg(2); socket(7), ip(7), udp(7), tcp(7),
// unix(7)). AF_INET/AF_INET6 streams and datagrams map onto host sockets (HostStreamSocket,
// HostDgramSocket); AF_UNIX sockets between guest processes stay in the kernel (LocalSocket),
// their names confined by GuestFs like every other path. A call that must wait parks only the
// calling thread (BLOCK) on the socket's wait queues; host events wake it and it is retried.
import * as fs from "node:fs";
import { Errno, fail } from "../Errno.js";
import { BLOCK, type SyscallResult } from "../Kernel.js";
import { HostDgramSocket } from "../HostDgramSocket.js";
import { HostStreamSocket } from "../HostStreamSocket.js";
import { LocalSocket } from "../LocalSocket.js";
import { O_CLOEXEC, O_NONBLOCK, type OpenFile } from "../OpenFile.js";
import { SIGPIPE } from "../Signals.js";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  SOCKADDR_UN_SIZE,
  decodeSockAddr,
  encodeSockAddr,
  type SockAddr,
} from "../SockAddr.js";
import {
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSG_PEEK,
  MSG_TRUNC,
  MSG_WAITALL,
  PENDING,
  SOCK_DGRAM,
  SOCK_SEQPACKET,
  SOCK_STREAM,
  Socket,
  WOULD_BLOCK,
  type SockResult,
} from "../Socket.js";
import { iovecs } from "./FileCalls.js";
import { sleepFor } from "./TimeCalls.js";
import type { SyscallContext, SyscallHandlers } from "./SyscallContext.js";

const SOCK_TYPE_MASK = 0xf;
const SOCK_NONBLOCK = O_NONBLOCK;
const SOCK_CLOEXEC = O_CLOEXEC;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const SOL_SOCKET = 1;
const SO_TYPE = 3,
  SO_ERROR = 4,
  SO_SNDBUF = 7,
  SO_RCVBUF = 8,
  SO_LINGER = 13,
  SO_PEERCRED = 17,
  SO_RCVTIMEO = 20,
  SO_SNDTIMEO = 21,
  SO_ACCEPTCONN = 30,
  SO_PROTOCOL = 38,
  SO_DOMAIN = 39;
const SCM_RIGHTS = 1;
const MSG_CTRUNC = 8;
const MSG_CMSG_CLOEXEC = 0x40000000;
/** Bytes one send moves at most (a short count is allowed; callers loop). */
const MAX_SEND = 1 << 20;
/** struct msghdr and struct mmsghdr on riscv64 (LP64). */
const MSGHDR_SIZE = 56;
const MMSGHDR_SIZE = 64;

/** The socket system calls by name (dispatched by Syscalls.ts). */
export const socketCalls: SyscallHandlers = {
  socket: (sys) => socket(sys, sys.int(0), sys.int(1), sys.int(2)),
  socketpair: (sys) => socketpair(sys, sys.int(0), sys.int(1), sys.int(2), sys.ulong(3)),
  bind: (sys) => bind(sys, sys.int(0), sys.ulong(1), sys.uint(2)),
  listen: (sys) => {
    const s = sock(sys, sys.int(0));
    return wait(sys, s, s.listen(sys.int(1)), 0);
  },
  accept: (sys) => accept(sys, sys.int(0), sys.ulong(1), sys.ulong(2), 0),
  accept4: (sys) => accept(sys, sys.int(0), sys.ulong(1), sys.ulong(2), sys.int(3)),
  connect: (sys) => connect(sys, sys.int(0), sys.ulong(1), sys.uint(2)),
  getsockname: (sys) => {
    const s = sock(sys, sys.int(0));
    writeAddr(sys, s.localAddr(), sys.ulong(1), sys.ulong(2));
    return 0;
  },
  getpeername: (sys) => {
    const s = sock(sys, sys.int(0));
    const a = s.peerAddr();
    if (!a) return -Errno.ENOTCONN;
    writeAddr(sys, a, sys.ulong(1), sys.ulong(2));
    return 0;
  },
  sendto: (sys) =>
    sendTo(sys, sys.int(0), [[sys.ulong(1), Math.min(sys.ulong(2), MAX_SEND)]], sys.int(3), sys.ulong(4), sys.uint(5)),
  recvfrom: (sys) => {
    const r = recvFrom(sys, sys.int(0), [[sys.ulong(1), sys.ulong(2)]], sys.int(3));
    if (typeof r !== "object") return r;
    if (sys.ulong(4) && r.from) writeAddr(sys, r.from, sys.ulong(4), sys.ulong(5));
    return r.n;
  },
  setsockopt: (sys) => setsockopt(sys, sys.int(0), sys.int(1), sys.int(2), sys.ulong(3), sys.uint(4)),
  getsockopt: (sys) => getsockopt(sys, sys.int(0), sys.int(1), sys.int(2), sys.ulong(3), sys.ulong(4)),
  shutdown: (sys) => {
    const s = sock(sys, sys.int(0));
    const how = sys.int(1);
    if (how < 0 || how > 2) return -Errno.EINVAL;
    return wait(sys, s, s.shutdown(how), 0);
  },
  sendmsg: (sys) => sendmsg(sys, sys.int(0), sys.ulong(1), sys.int(2)),
  recvmsg: (sys) => recvmsg(sys, sys.int(0), sys.ulong(1), sys.int(2)),
  sendmmsg: (sys) => mmsg(sys, true),
  recvmmsg: (sys) => mmsg(sys, false),
};

function sock(sys: SyscallContext, fd: number): Socket {
  const f = sys.file(fd);
  if (!(f instanceof Socket)) fail(Errno.ENOTSOCK);
  return f;
}

/**
 * The common ending of a socket call: a result, or sleep (BLOCK) until the socket changes, or
 * EAGAIN for a non-blocking socket (O_NONBLOCK or MSG_DONTWAIT). A timeout set with SO_RCVTIMEO /
 * SO_SNDTIMEO (`timeoutOpt`) ends the sleep with EAGAIN.
 */
function wait(sys: SyscallContext, s: Socket, r: SockResult, msgFlags: number, timeoutOpt = 0): SyscallResult {
  const p = sys.p;
  if (r === PENDING || (r === WOULD_BLOCK && !(s.flags & O_NONBLOCK) && !(msgFlags & MSG_DONTWAIT))) {
    const tv = timeoutOpt ? s.options.get((SOL_SOCKET << 16) | timeoutOpt) : undefined;
    const ms = tv && tv.length >= 16 ? timevalMs(tv) : 0;
    if (r === WOULD_BLOCK && ms > 0 && sleepFor(sys, p.sleepUntil >= 0 ? 0 : ms) !== BLOCK) return -Errno.EAGAIN;
    s.watch(p.wake);
    return BLOCK;
  }
  if (p.sleepUntil >= 0) {
    p.sleepUntil = -1;
    if (p.sleepTimer) clearTimeout(p.sleepTimer);
    p.sleepTimer = undefined;
  }
  if (r === WOULD_BLOCK) return -Errno.EAGAIN;
  return r;
}

function timevalMs(tv: Uint8Array): number {
  const d = new DataView(tv.buffer, tv.byteOffset, tv.byteLength);
  return Number(d.getBigInt64(0, true)) * 1000 + Math.ceil(Number(d.getBigInt64(8, true)) / 1000);
}

function install(sys: SyscallContext, f: OpenFile, cloexec: boolean): number {
  const fd = sys.p.fds.lowestFree();
  if (fd < 0) {
    f.release();
    return -Errno.EMFILE;
  }
  sys.p.fds.install(fd, f, cloexec);
  return fd;
}

export function socket(sys: SyscallContext, domain: number, typeFlags: number, protocol: number): SyscallResult {
  const type = typeFlags & SOCK_TYPE_MASK;
  if (typeFlags & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC)) return -Errno.EINVAL;
  const flags = typeFlags & SOCK_NONBLOCK;
  let s: Socket;
  if (domain === AF_INET || domain === AF_INET6) {
    if (type === SOCK_STREAM && (protocol === 0 || protocol === IPPROTO_TCP))
      s = new HostStreamSocket(flags, domain, IPPROTO_TCP);
    else if (type === SOCK_DGRAM && (protocol === 0 || protocol === IPPROTO_UDP))
      s = new HostDgramSocket(flags, domain, IPPROTO_UDP);
    else if (type === SOCK_STREAM || type === SOCK_DGRAM) return -Errno.EPROTONOSUPPORT;
    else return -Errno.ESOCKTNOSUPPORT; // raw sockets need privileges Typevisor does not lend
  } else if (domain === AF_UNIX) {
    if (protocol !== 0) return -Errno.EPROTONOSUPPORT;
    if (type !== SOCK_STREAM && type !== SOCK_DGRAM && type !== SOCK_SEQPACKET) return -Errno.ESOCKTNOSUPPORT;
    if (type === SOCK_SEQPACKET) return -Errno.ESOCKTNOSUPPORT;
    s = new LocalSocket(flags, type);
  } else return -Errno.EAFNOSUPPORT; // AF_NETLINK, AF_PACKET...: glibc falls back without them
  return install(sys, s, (typeFlags & SOCK_CLOEXEC) !== 0);
}

export function socketpair(
  sys: SyscallContext,
  domain: number,
  typeFlags: number,
  protocol: number,
  sv: number,
): SyscallResult {
  const type = typeFlags & SOCK_TYPE_MASK;
  if (domain !== AF_UNIX) return domain === AF_INET || domain === AF_INET6 ? -Errno.EOPNOTSUPP : -Errno.EAFNOSUPPORT;
  if (protocol !== 0) return -Errno.EPROTONOSUPPORT;
  if (type !== SOCK_STREAM && type !== SOCK_DGRAM) return -Errno.ESOCKTNOSUPPORT;
  sys.p.space.check(sv, 8, true);
  const flags = typeFlags & SOCK_NONBLOCK;
  const [a, b] = LocalSocket.pair(type, flags, flags);
  const cred: [number, number, number] = [sys.p.tgid, sys.k.uid, sys.k.gid];
  a.peerCred = b.peerCred = cred;
  const cloexec = (typeFlags & SOCK_CLOEXEC) !== 0;
  const fa = install(sys, a, cloexec);
  if (fa < 0) {
    b.release();
    return fa;
  }
  const fb = install(sys, b, cloexec);
  if (fb < 0) {
    sys.p.fds.close(fa);
    return fb;
  }
  sys.p.space.write(sv, new Uint8Array(new Int32Array([fa, fb]).buffer));
  return 0;
}

function readAddr(sys: SyscallContext, ptr: number, len: number): SockAddr {
  if (len > 128) fail(Errno.EINVAL);
  return decodeSockAddr(sys.p.space.read(ptr, len));
}

/** Writes an address to (ptr, *lenPtr) as Linux does: truncated to the buffer, *lenPtr = its full size. */
function writeAddr(sys: SyscallContext, a: SockAddr, ptr: number, lenPtr: number): void {
  if (!lenPtr) return;
  const cap = sys.p.space.readU32(lenPtr);
  if (cap > 0x7fff_ffff) fail(Errno.EINVAL);
  const raw = encodeSockAddr(a);
  if (cap > 0) sys.p.space.write(ptr, raw.subarray(0, Math.min(cap, raw.length)));
  sys.p.space.writeU32(lenPtr, raw.length);
}

/** The host path behind an AF_UNIX path name (resolved inside --root); follow: connect, not bind. */
function unixHostPath(sys: SyscallContext, a: SockAddr, follow: boolean): string | undefined {
  if (a.family !== AF_UNIX || a.path === undefined) return undefined;
  if (Buffer.byteLength(a.path) >= SOCKADDR_UN_SIZE - 2) fail(Errno.EINVAL);
  return sys.resolveAt(-100, a.path, follow).host;
}

function unixKey(a: SockAddr, host: string | undefined): string {
  return a.family === AF_UNIX && a.abstract !== undefined ? "a:" + a.abstract : "p:" + (host ?? "");
}

export function bind(sys: SyscallContext, fd: number, addrPtr: number, len: number): SyscallResult {
  const s = sock(sys, fd);
  const a = readAddr(sys, addrPtr, len);
  if (s instanceof LocalSocket) {
    if (a.family !== AF_UNIX) return -Errno.EINVAL;
    const host = unixHostPath(sys, a, false);
    return wait(sys, s, s.bindName(sys.k.unix, a, host, 0o777 & ~sys.p.umask), 0);
  }
  if (a.family !== s.domain) return -Errno.EAFNOSUPPORT;
  return wait(sys, s, s.bind(a), 0);
}

export function connect(sys: SyscallContext, fd: number, addrPtr: number, len: number): SyscallResult {
  const s = sock(sys, fd);
  const a = readAddr(sys, addrPtr, len);
  const nonBlocking = (s.flags & O_NONBLOCK) !== 0;
  if (s.domain === AF_UNIX) {
    if (a.family !== AF_UNIX) return -Errno.EINVAL;
    if (s instanceof HostStreamSocket) return wait(sys, s, s.connect(a, nonBlocking), 0);
    if (!(s instanceof LocalSocket)) return -Errno.EINVAL;
    const host = unixHostPath(sys, a, true);
    const target = sys.k.unix.lookup(unixKey(a, host), host);
    if (target) return wait(sys, s, s.connectTo(target, a, [sys.p.tgid, sys.k.uid, sys.k.gid]), 0);
    if (host === undefined) return -Errno.ECONNREFUSED;
    const st = sys.host(() => fs.lstatSync(host));
    if (!st.isSocket()) return -Errno.ECONNREFUSED;
    if (s.type !== SOCK_STREAM) return -Errno.ECONNREFUSED; // host datagram sockets: Node cannot reach them
    // A host listener: this descriptor becomes a host stream connection.
    const hs = new HostStreamSocket(s.flags, AF_UNIX);
    sys.p.fds.install(fd, hs, sys.p.fds.get(fd)!.cloexec);
    return wait(sys, hs, hs.connect(a, nonBlocking, host), 0);
  }
  if (a.family !== s.domain && !(s instanceof HostDgramSocket && a.family === 0)) return -Errno.EAFNOSUPPORT;
  return wait(sys, s, s.connect(a, nonBlocking), 0);
}

export function accept(sys: SyscallContext, fd: number, addrPtr: number, lenPtr: number, flags: number): SyscallResult {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return -Errno.EINVAL;
  const s = sock(sys, fd);
  if (s.type === SOCK_DGRAM) return -Errno.EOPNOTSUPP;
  if (addrPtr && lenPtr) sys.p.space.check(lenPtr, 4, true);
  const r = s.accept();
  if (!(r instanceof Socket)) return wait(sys, s, r, 0);
  wait(sys, s, 0, 0);
  r.flags = (r.flags & ~O_NONBLOCK) | (flags & SOCK_NONBLOCK);
  const nfd = install(sys, r, (flags & SOCK_CLOEXEC) !== 0);
  if (nfd >= 0 && addrPtr) writeAddr(sys, r.peerAddr() ?? ({ family: s.domain } as SockAddr), addrPtr, lenPtr);
  return nfd;
}

/** Gathers the guest's iovecs into one buffer (a datagram or stream write is one send). */
function gather(sys: SyscallContext, iov: [number, number][]): Uint8Array {
  let total = 0;
  for (const [, l] of iov) total += l;
  total = Math.min(total, MAX_SEND);
  const out = new Uint8Array(total);
  let at = 0;
  for (const [b, l] of iov) {
    const n = Math.min(l, total - at);
    if (n <= 0) break;
    out.set(sys.p.space.read(b, n), at);
    at += n;
  }
  return out;
}

function scatter(sys: SyscallContext, iov: [number, number][], data: Uint8Array): void {
  let at = 0;
  for (const [b, l] of iov) {
    if (at >= data.length) break;
    const n = Math.min(l, data.length - at);
    sys.p.space.write(b, data.subarray(at, at + n));
    at += n;
  }
}

function sendTo(
  sys: SyscallContext,
  fd: number,
  iov: [number, number][],
  flags: number,
  addrPtr: number,
  addrLen: number,
  rights?: OpenFile[],
): SyscallResult {
  const s = sock(sys, fd);
  const data = gather(sys, iov);
  let to: SockAddr | undefined;
  let target: LocalSocket | undefined;
  if (addrPtr && !(s.type === SOCK_STREAM)) {
    to = readAddr(sys, addrPtr, addrLen);
    if (s instanceof LocalSocket) {
      const host = unixHostPath(sys, to, true);
      target = sys.k.unix.lookup(unixKey(to, host), host);
      if (!target) return host !== undefined && !fs.existsSync(host) ? -Errno.ENOENT : -Errno.ECONNREFUSED;
    }
  }
  const r = s instanceof LocalSocket ? s.send(data, to, rights, target) : s.send(data, to);
  if (r === -Errno.EPIPE && !(flags & MSG_NOSIGNAL)) sys.k.sendSignal(sys.p, SIGPIPE);
  return wait(sys, s, r, flags, SO_SNDTIMEO);
}

interface Got {
  n: number;
  from?: SockAddr;
  flags: number;
  rights?: OpenFile[];
}

function recvFrom(sys: SyscallContext, fd: number, iov: [number, number][], flags: number): Got | SyscallResult {
  const s = sock(sys, fd);
  let want = 0;
  for (const [, l] of iov) want += l;
  if (want > MAX_SEND * 64) want = MAX_SEND * 64;
  for (const [b, l] of iov) sys.p.space.check(b, l, true);
  if (
    flags & MSG_WAITALL &&
    s.type === SOCK_STREAM &&
    !(flags & MSG_DONTWAIT) &&
    !(s.flags & O_NONBLOCK) &&
    want <= 65536 &&
    s.available() < want
  ) {
    // Wait for all of it unless the stream ends or fails first (recv(2) MSG_WAITALL).
    const [readable] = s.readiness();
    if (!readable || s.available() > 0) {
      const peek = s.recv(0, MSG_PEEK);
      if (typeof peek === "object" || peek === WOULD_BLOCK) return wait(sys, s, WOULD_BLOCK, flags, SO_RCVTIMEO);
    }
  }
  const r = s.recv(want, flags & MSG_PEEK);
  if (typeof r !== "object") return wait(sys, s, r, flags, SO_RCVTIMEO);
  wait(sys, s, 0, 0);
  scatter(sys, iov, r.data);
  let outFlags = 0;
  let n = r.data.length;
  if (r.fullLength > r.data.length) {
    outFlags |= MSG_TRUNC;
    if (flags & MSG_TRUNC) n = r.fullLength;
  }
  return { n, from: r.from, flags: outFlags, rights: r.rights };
}

/** read(2)/readv(2) on a socket: recv with no flags. */
export function readSocket(sys: SyscallContext, fd: number, iov: [number, number][]): SyscallResult {
  const r = recvFrom(sys, fd, iov, 0);
  return typeof r === "object" ? r.n : r;
}

/** write(2)/writev(2) on a socket: send with no flags (one gathered send: a datagram stays whole). */
export function writeSocket(sys: SyscallContext, fd: number, iov: [number, number][]): SyscallResult {
  return sendTo(sys, fd, iov, 0, 0, 0);
}

/** Sends host bytes (sendfile(2) to a socket): a stream write, blocking as send() does. */
export function sendBytes(sys: SyscallContext, fd: number, data: Uint8Array): SyscallResult {
  const s = sock(sys, fd);
  const r = s.send(data, undefined);
  if (r === -Errno.EPIPE) sys.k.sendSignal(sys.p, SIGPIPE);
  return wait(sys, s, r, 0, SO_SNDTIMEO);
}

// ---- sendmsg / recvmsg ---------------------------------------------------------------------

interface MsgHdr {
  name: number;
  nameLen: number;
  iov: [number, number][];
  control: number;
  controlLen: number;
}

function readMsgHdr(sys: SyscallContext, ptr: number): MsgHdr {
  const d = new DataView(sys.p.space.read(ptr, MSGHDR_SIZE).buffer);
  const iovLen = Number(d.getBigUint64(24, true));
  return {
    name: Number(d.getBigUint64(0, true)),
    nameLen: d.getUint32(8, true),
    iov: iovecs(sys, Number(d.getBigUint64(16, true)), iovLen > 1024 ? -1 : iovLen),
    control: Number(d.getBigUint64(32, true)),
    controlLen: Number(d.getBigUint64(40, true)),
  };
}

/** The descriptions named by SCM_RIGHTS messages in a sendmsg control buffer (one reference each taken). */
function readRights(sys: SyscallContext, h: MsgHdr): OpenFile[] | undefined {
  if (!h.control || h.controlLen < 16) return undefined;
  const raw = sys.p.space.read(h.control, Math.min(h.controlLen, 4096));
  const d = new DataView(raw.buffer);
  const out: OpenFile[] = [];
  let at = 0;
  while (at + 16 <= raw.length) {
    const len = Number(d.getBigUint64(at, true));
    if (len < 16 || at + len > raw.length) fail(Errno.EINVAL);
    if (d.getInt32(at + 8, true) === SOL_SOCKET && d.getInt32(at + 12, true) === SCM_RIGHTS) {
      for (let o = at + 16; o + 4 <= at + len; o += 4) out.push(sys.file(d.getInt32(o, true)));
    }
    at += (len + 7) & ~7;
  }
  if (out.length === 0) return undefined;
  for (const f of out) f.refs++;
  return out;
}

export function sendmsg(sys: SyscallContext, fd: number, msgPtr: number, flags: number): SyscallResult {
  const s = sock(sys, fd);
  const h = readMsgHdr(sys, msgPtr);
  const rights = s instanceof LocalSocket ? readRights(sys, h) : undefined;
  const r = sendTo(sys, fd, h.iov, flags, h.name, h.nameLen, rights);
  if (rights && (r === BLOCK || (typeof r === "number" && r < 0))) for (const f of rights) f.refs--;
  return r;
}

export function recvmsg(sys: SyscallContext, fd: number, msgPtr: number, flags: number): SyscallResult {
  const h = readMsgHdr(sys, msgPtr);
  const r = recvFrom(sys, fd, h.iov, flags);
  if (typeof r !== "object") return r;
  const space = sys.p.space;
  let outFlags = r.flags;
  if (h.name && r.from) {
    const raw = encodeSockAddr(r.from);
    space.write(h.name, raw.subarray(0, Math.min(h.nameLen, raw.length)));
    space.writeU32(msgPtr + 8, raw.length);
  } else space.writeU32(msgPtr + 8, 0);
  let controlUsed = 0;
  if (r.rights && r.rights.length > 0) {
    const fds: number[] = [];
    const room = h.control ? Math.max(0, Math.floor((h.controlLen - 16) / 4)) : 0;
    for (const f of r.rights) {
      const nfd = fds.length < room ? sys.p.fds.lowestFree() : -1;
      if (nfd < 0) {
        f.refs--;
        if (f.refs === 0) f.release();
        outFlags |= MSG_CTRUNC;
        continue;
      }
      sys.p.fds.install(nfd, f, (flags & MSG_CMSG_CLOEXEC) !== 0);
      fds.push(nfd);
    }
    if (fds.length > 0) {
      const len = 16 + fds.length * 4;
      const b = new Uint8Array((len + 7) & ~7);
      const d = new DataView(b.buffer);
      d.setBigUint64(0, BigInt(len), true);
      d.setInt32(8, SOL_SOCKET, true);
      d.setInt32(12, SCM_RIGHTS, true);
      fds.forEach((f, i) => d.setInt32(16 + i * 4, f, true));
      space.write(h.control, b.subarray(0, Math.min(b.length, h.controlLen)));
      controlUsed = Math.min(b.length, h.controlLen);
    }
  }
  space.writeU64(msgPtr + 40, BigInt(controlUsed));
  space.writeU32(msgPtr + 48, outFlags);
  return r.n;
}

/** sendmmsg(2)/recvmmsg(2): one message after another until one would block. */
function mmsg(sys: SyscallContext, send: boolean): SyscallResult {
  const fd = sys.int(0);
  const vec = sys.ulong(1);
  const vlen = Math.min(sys.uint(2), 1024);
  const flags = sys.int(3);
  let done = 0;
  for (let i = 0; i < vlen; i++) {
    const at = vec + i * MMSGHDR_SIZE;
    // After the first message, later ones must not sleep (recvmmsg(2): MSG_WAITFORONE semantics
    // for the blocking case; sendmmsg sends what it can).
    const f = i === 0 ? flags : flags | MSG_DONTWAIT;
    const r = send ? sendmsg(sys, fd, at, f) : recvmsg(sys, fd, at, f);
    if (r === BLOCK) return done > 0 ? done : BLOCK;
    if (typeof r === "number" && r < 0) return done > 0 ? done : r;
    sys.p.space.writeU32(at + MSGHDR_SIZE, Number(r));
    done++;
  }
  return done;
}

// ---- options -------------------------------------------------------------------------------

export function setsockopt(
  sys: SyscallContext,
  fd: number,
  level: number,
  name: number,
  val: number,
  len: number,
): SyscallResult {
  const s = sock(sys, fd);
  if (len > 1024) return -Errno.EINVAL;
  const raw = sys.p.space.read(val, len);
  s.options.set((level << 16) | name, raw);
  if (len >= 4) s.applyOption(level, name, new DataView(raw.buffer).getInt32(0, true));
  return 0;
}

export function getsockopt(
  sys: SyscallContext,
  fd: number,
  level: number,
  name: number,
  val: number,
  lenPtr: number,
): SyscallResult {
  const s = sock(sys, fd);
  const cap = sys.p.space.readU32(lenPtr);
  if (cap > 0x7fff_ffff) return -Errno.EINVAL;
  const int = (v: number) => new Uint8Array(new Int32Array([v]).buffer);
  let out: Uint8Array | undefined;
  if (level === SOL_SOCKET) {
    switch (name) {
      case SO_TYPE:
        out = int(s.type);
        break;
      case SO_ERROR:
        out = int(s.pendingError);
        s.pendingError = 0;
        break;
      case SO_DOMAIN:
        out = int(s.domain);
        break;
      case SO_PROTOCOL:
        out = int(s.protocol);
        break;
      case SO_ACCEPTCONN:
        out = int(s.listening ? 1 : 0);
        break;
      case SO_PEERCRED:
        if (!(s instanceof LocalSocket)) return -Errno.ENODATA;
        out = new Uint8Array(new Int32Array(s.peerCred).buffer);
        break;
      case SO_SNDBUF:
      case SO_RCVBUF:
        out = int(s.options.has((level << 16) | name) ? 2 * readInt(s.options.get((level << 16) | name)!) : 212992);
        break;
      case SO_LINGER:
        out = s.options.get((level << 16) | name) ?? new Uint8Array(8);
        break;
      case SO_RCVTIMEO:
      case SO_SNDTIMEO:
        out = s.options.get((level << 16) | name) ?? new Uint8Array(16);
        break;
      default:
    }
  }
  out ??= s.options.get((level << 16) | name) ?? int(0);
  sys.p.space.write(val, out.subarray(0, Math.min(cap, out.length)));
  sys.p.space.writeU32(lenPtr, Math.min(cap, out.length));
  return 0;
}

function readInt(b: Uint8Array): number {
  return b.length >= 4 ? new DataView(b.buffer, b.byteOffset).getInt32(0, true) : 0;
}
