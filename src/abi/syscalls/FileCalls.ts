// File system calls: open/read/write and their vector and positioned forms, stat, directories,
// links, renames, permissions, times, truncation, statfs and the working directory. Paths go
// through GuestFs (the escape-proof --root); host work through Node's fs (open(2), read(2)...).
import * as fs from "node:fs";
import { posix } from "node:path";
import { Errno, SyscallError, errnoOf, fail } from "../Errno.js";
import { PAGE_SIZE } from "../FrameAllocator.js";
import { BLOCK, type SyscallResult } from "../Kernel.js";
import {
  HostFile,
  HostInputFile,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_PATH,
  O_TRUNC,
  O_WRONLY,
  O_RDWR,
  MemFile,
  Pipe,
  PipeEnd,
} from "../OpenFile.js";
import { SIGPIPE } from "../Signals.js";
import {
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFSOCK,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  packStat,
  packStatx,
  statInfoOf,
  syntheticStat,
  type StatInfo,
} from "../Stat.js";
import { procFile } from "../ProcFs.js";
import { Socket } from "../Socket.js";
import { EventFd } from "../EventFd.js";
import { SignalFd } from "../SignalFd.js";
import { TimerFd } from "../TimerFd.js";
import { eventfdIo, signalfdRead, timerfdRead } from "./FdEventCalls.js";
import { readSocket, sendBytes, writeSocket } from "./SocketCalls.js";
import { AT_FDCWD, type SyscallContext, type SyscallHandlers, enc } from "./SyscallContext.js";

const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const AT_SYMLINK_FOLLOW = 0x400;
const AT_EMPTY_PATH = 0x1000;
const DT_UNKNOWN = 0;
const DT_FIFO = 1;
const DT_CHR = 2;
const DT_DIR = 4;
const DT_BLK = 6;
const DT_REG = 8;
const DT_LNK = 10;
const DT_SOCK = 12;
const IOV_MAX = 1024;
/** Linux caps one read/write at 0x7ffff000 bytes (MAX_RW_COUNT). */
const MAX_RW = 0x7fff_f000;

/** The file system calls by name (dispatched by Syscalls.ts). */
export const fileCalls: SyscallHandlers = {
  openat: (sys) => openat(sys, sys.int(0), sys.path(1), sys.int(2), sys.uint(3)),
  close: (sys) => close(sys, sys.int(0)),
  read: (sys) => read(sys, sys.int(0), sys.ulong(1), sys.ulong(2), -1),
  write: (sys) => write(sys, sys.int(0), sys.ulong(1), sys.ulong(2), -1),
  pread64: (sys) => read(sys, sys.int(0), sys.ulong(1), sys.ulong(2), sys.posArg(3)),
  pwrite64: (sys) => write(sys, sys.int(0), sys.ulong(1), sys.ulong(2), sys.posArg(3)),
  readv: (sys) => readv(sys, sys.int(0), sys.ulong(1), sys.int(2), -1),
  writev: (sys) => writev(sys, sys.int(0), sys.ulong(1), sys.int(2), -1),
  preadv: (sys) => readv(sys, sys.int(0), sys.ulong(1), sys.int(2), sys.posArg(3)),
  pwritev: (sys) => writev(sys, sys.int(0), sys.ulong(1), sys.int(2), sys.posArg(3)),
  sendfile: (sys) => sendfile(sys, sys.int(0), sys.int(1), sys.ulong(2), sys.ulong(3)),
  copy_file_range: (sys) =>
    copyFileRange(sys, sys.int(0), sys.ulong(1), sys.int(2), sys.ulong(3), sys.ulong(4), sys.uint(5)),
  lseek: (sys) => lseek(sys, sys.int(0), sys.long(1), sys.int(2)),
  newfstatat: (sys) => fstatat(sys, sys.int(0), sys.path(1), sys.ulong(2), sys.int(3)),
  fstat: (sys) => fstatat(sys, sys.int(0), "", sys.ulong(1), AT_EMPTY_PATH),
  statx: (sys) => statx(sys, sys.int(0), sys.path(1), sys.int(2), sys.ulong(4)),
  getdents64: (sys) => getdents64(sys, sys.int(0), sys.ulong(1), sys.ulong(2)),
  mkdirat: (sys) => mkdirat(sys, sys.int(0), sys.path(1), sys.uint(2)),
  mknodat: (sys) => mknodat(sys, sys.int(0), sys.path(1), sys.uint(2)),
  unlinkat: (sys) => unlinkat(sys, sys.int(0), sys.path(1), sys.int(2)),
  symlinkat: (sys) => symlinkat(sys, sys.path(0), sys.int(1), sys.path(2)),
  linkat: (sys) => linkat(sys, sys.int(0), sys.path(1), sys.int(2), sys.path(3), sys.int(4)),
  renameat2: (sys) => renameat(sys, sys.int(0), sys.path(1), sys.int(2), sys.path(3), sys.uint(4)),
  readlinkat: (sys) => readlinkat(sys, sys.int(0), sys.path(1), sys.ulong(2), sys.long(3)),
  faccessat: (sys) => faccessat(sys, sys.int(0), sys.path(1), sys.int(2), 0),
  faccessat2: (sys) => faccessat(sys, sys.int(0), sys.path(1), sys.int(2), sys.int(3)),
  fchmod: (sys) => fchmod(sys, sys.int(0), sys.uint(1)),
  fchmodat: (sys) => fchmodat(sys, sys.int(0), sys.path(1), sys.uint(2), 0),
  fchmodat2: (sys) => fchmodat(sys, sys.int(0), sys.path(1), sys.uint(2), sys.int(3)),
  fchownat: (sys) => fchownat(sys, sys.int(0), sys.path(1), sys.int(2), sys.int(3), sys.int(4)),
  fchown: (sys) => fchown(sys, sys.int(0), sys.int(1), sys.int(2)),
  utimensat: (sys) => utimensat(sys, sys.int(0), sys.ulong(1), sys.ulong(2), sys.int(3)),
  truncate: (sys) => truncate(sys, sys.path(0), sys.long(1)),
  ftruncate: (sys) => ftruncate(sys, sys.int(0), sys.long(1)),
  fsync: (sys) => fsync(sys, sys.int(0)),
  fdatasync: (sys) => fsync(sys, sys.int(0)),
  sync: () => 0,
  statfs: (sys) => statfs(sys, sys.path(0), sys.ulong(1)),
  fstatfs: (sys) => fstatfs(sys, sys.int(0), sys.ulong(1)),
  getcwd: (sys) => getcwd(sys, sys.ulong(0), sys.ulong(1)),
  chdir: (sys) => chdir(sys, sys.path(0)),
  fchdir: (sys) => fchdir(sys, sys.int(0)),
  umask: (sys) => {
    const old = sys.p.umask;
    sys.p.umask = sys.uint(0) & 0o777;
    return old;
  },
  fadvise64: () => 0, // advice only
  fallocate: () => -Errno.EOPNOTSUPP,
};

export function hostOpenFlags(sys: SyscallContext, flags: number): number {
  const c = fs.constants;
  let h = 0;
  const acc = flags & O_ACCMODE;
  h |= acc === O_WRONLY ? c.O_WRONLY : acc === O_RDWR ? c.O_RDWR : c.O_RDONLY;
  if (flags & O_CREAT) h |= c.O_CREAT;
  if (flags & O_EXCL) h |= c.O_EXCL;
  if (flags & O_TRUNC) h |= c.O_TRUNC;
  if (flags & O_APPEND) h |= c.O_APPEND;
  if (flags & O_DIRECTORY) h |= c.O_DIRECTORY;
  if (flags & O_NOFOLLOW) h |= c.O_NOFOLLOW;
  h |= c.O_NOCTTY;
  // O_NONBLOCK is kept guest-side: the host descriptor stays blocking (regular files never block).
  return h;
}

/** Whether the root lacks this path (so a host stand-in may serve it). */
function rootLacks(sys: SyscallContext, dirfd: number, path: string): boolean {
  try {
    fs.lstatSync(sys.resolveAt(dirfd, path, true).host);
    return false;
  } catch {
    return true;
  }
}

/** The host's /etc/resolv.conf when the root has none (undefined when the root has one). */
function hostResolvConf(sys: SyscallContext, dirfd: number, path: string): Uint8Array | undefined {
  if (!rootLacks(sys, dirfd, path)) return undefined;
  try {
    return fs.readFileSync("/etc/resolv.conf");
  } catch {
    return undefined;
  }
}

/**
 * The character devices every program expects (a chroot gets them from a bind-mounted /dev): a
 * root without them sees the host's. They hold no files, so they open no way out of the root.
 */
const STANDARD_DEVICES = new Set(["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]);

/** The host device standing in for a guest path under --root, or undefined. */
function standardDevice(sys: SyscallContext, dirfd: number, path: string): string | undefined {
  if (sys.k.gfs.root === undefined) return undefined;
  const guest = posix.resolve(sys.dirOf(dirfd, path), path);
  return STANDARD_DEVICES.has(guest) && rootLacks(sys, dirfd, path) ? guest : undefined;
}

export function openat(sys: SyscallContext, dirfd: number, path: string, flags: number, mode: number): SyscallResult {
  const p = sys.p;
  if (path === "/proc/self/exe" || path === `/proc/${p.pid}/exe`) path = p.exe;
  // O_CREAT|O_EXCL does not follow a final symlink either: it fails with EEXIST (open(2)).
  const follow = (flags & O_NOFOLLOW) === 0 && (flags & (O_CREAT | O_EXCL)) !== (O_CREAT | O_EXCL);
  const fd = p.fds.lowestFree();
  if (fd < 0) return -Errno.EMFILE;
  if (sys.k.gfs.root !== undefined) {
    // Under --root the host's /proc is out of reach: serve the few files programs read. The
    // name is only compared, never handed to the host, so its lexical form is enough.
    const guest = posix.resolve(sys.dirOf(dirfd, path), path);
    if (guest.startsWith("/proc/")) {
      const text = procFile(sys.k, p, guest);
      if (text === undefined) return -Errno.ENOENT;
      if ((flags & O_ACCMODE) !== 0) return -Errno.EACCES;
      p.fds.install(fd, new MemFile(flags & ~O_CLOEXEC, enc.encode(text), guest), (flags & O_CLOEXEC) !== 0);
      return fd;
    }
    if (guest === "/etc/resolv.conf" && (flags & (O_ACCMODE | O_CREAT)) === 0) {
      // A root without resolver settings gets the host's (their content only), so the guest
      // libc's own resolver can reach the host's name servers (issue 15).
      const host = hostResolvConf(sys, dirfd, path);
      if (host) {
        p.fds.install(fd, new MemFile(flags & ~O_CLOEXEC, host, guest), (flags & O_CLOEXEC) !== 0);
        return fd;
      }
    }
  }
  const dev = standardDevice(sys, dirfd, path);
  const r = dev !== undefined ? { host: dev, guest: dev } : sys.resolveAt(dirfd, path, follow);
  let hostFlags = hostOpenFlags(sys, flags) | sys.k.gfs.hostNoFollow;
  if (flags & O_PATH)
    hostFlags = fs.constants.O_RDONLY | (flags & O_NOFOLLOW ? fs.constants.O_NOFOLLOW : 0) | sys.k.gfs.hostNoFollow;
  const hfd = sys.host(() => fs.openSync(r.host, hostFlags, mode & ~p.umask & 0o7777));
  let st: fs.Stats;
  try {
    st = fs.fstatSync(hfd);
  } catch (e) {
    fs.closeSync(hfd);
    throw new SyscallError(errnoOf(e));
  }
  if (st.isDirectory() && (flags & O_ACCMODE) !== 0 && (flags & O_PATH) === 0) {
    fs.closeSync(hfd);
    return -Errno.EISDIR;
  }
  const file = new HostFile(flags & ~O_CLOEXEC, hfd, r.guest, st.isDirectory(), st.isFile() || st.isBlockDevice());
  if (st.isFile() && flags & O_APPEND) file.pos = st.size;
  p.fds.install(fd, file, (flags & O_CLOEXEC) !== 0);
  return fd;
}

export function close(sys: SyscallContext, fd: number): SyscallResult {
  return sys.p.fds.close(fd) ? 0 : -Errno.EBADF;
}

/**
 * read(2)/pread64(2) into guest memory, straight into the frame pool (no intermediate copy).
 * pos = -1: use (and advance) the file offset.
 */
export function read(sys: SyscallContext, fd: number, buf: number, len: number, pos: number): SyscallResult {
  const f = sys.file(fd);
  if (!f.readable) return -Errno.EBADF;
  if (len > MAX_RW) len = MAX_RW;
  if (f instanceof Socket) return pos >= 0 ? -Errno.ESPIPE : readSocket(sys, fd, [[buf, len]]);
  if (f instanceof EventFd) return pos >= 0 ? -Errno.ESPIPE : eventfdIo(sys, f, buf, len, false);
  if (f instanceof TimerFd) return pos >= 0 ? -Errno.ESPIPE : timerfdRead(sys, f, buf, len);
  if (f instanceof SignalFd) return pos >= 0 ? -Errno.ESPIPE : signalfdRead(sys, f, buf, len);
  if (len === 0) return 0;
  if (f instanceof PipeEnd) {
    if (pos >= 0) return -Errno.ESPIPE;
    const pipe = f.pipe;
    if (pipe.length === 0) {
      if (pipe.writers === 0) return 0;
      if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
      pipe.readWait.add(sys.p.wake);
      return BLOCK;
    }
    let got = 0;
    sys.p.space.forEachChunk(buf, Math.min(len, pipe.length), true, (off, n) => {
      got += pipe.take(sys.bytes, off, n);
    });
    return got;
  }
  if (f instanceof MemFile) {
    let at = pos >= 0 ? pos : f.pos;
    let got = 0;
    sys.p.space.forEachChunk(buf, Math.max(0, Math.min(len, f.data.length - at)), true, (off, n) => {
      sys.bytes.set(f.data.subarray(at, at + n), off);
      at += n;
      got += n;
    });
    if (pos < 0) f.pos = at;
    return got;
  }
  if (f instanceof HostInputFile) {
    if (pos >= 0) return -Errno.ESPIPE;
    // Translate the first page only: a short read is always allowed for a stream.
    let got = -1;
    const first = Math.min(len, PAGE_SIZE - (buf % PAGE_SIZE));
    sys.p.space.forEachChunk(buf, first, true, (off, n) => {
      got = f.input.read(sys.bytes, off, n);
    });
    if (got >= 0) return got;
    if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
    f.input.wait.add(sys.p.wake);
    return BLOCK;
  }
  if (!(f instanceof HostFile)) return -Errno.EINVAL;
  if (f.isDir) return -Errno.EISDIR;
  if (pos >= 0 && !f.seekable) return -Errno.ESPIPE;
  const usePos = f.seekable;
  let at = pos >= 0 ? pos : f.pos;
  let total = 0;
  let short = false;
  // Validate the whole buffer first, so a bad buffer consumes no input.
  sys.p.space.check(buf, len, true);
  sys.p.space.forEachChunk(buf, len, true, (off, n) => {
    if (short) return;
    const got = sys.host(() => fs.readSync(f.hostFd, sys.bytes, off, n, usePos ? at : null));
    total += got;
    at += got;
    if (got < n) short = true;
  });
  if (pos < 0 && usePos) f.pos = at;
  return total;
}

export function write(sys: SyscallContext, fd: number, buf: number, len: number, pos: number): SyscallResult {
  const f = sys.file(fd);
  if (!f.writable) return -Errno.EBADF;
  if (len > MAX_RW) len = MAX_RW;
  if (f instanceof Socket) return pos >= 0 ? -Errno.ESPIPE : writeSocket(sys, fd, [[buf, len]]);
  if (f instanceof EventFd) return pos >= 0 ? -Errno.ESPIPE : eventfdIo(sys, f, buf, len, true);
  if (len === 0) return 0;
  if (f instanceof PipeEnd) {
    if (pos >= 0) return -Errno.ESPIPE;
    const pipe = f.pipe;
    if (pipe.readers === 0) {
      sys.k.sendSignal(sys.p, SIGPIPE);
      return -Errno.EPIPE;
    }
    const room = Pipe.CAPACITY - pipe.length;
    // Writes up to PIPE_BUF are atomic: wait for room for all of it (pipe(7)).
    if (room === 0 || (len <= Pipe.ATOMIC && room < len)) {
      if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
      pipe.writeWait.add(sys.p.wake);
      return BLOCK;
    }
    let put = 0;
    sys.p.space.forEachChunk(buf, Math.min(len, room), false, (off, n) => {
      put += pipe.put(sys.bytes, off, n);
    });
    return put;
  }
  if (!(f instanceof HostFile)) return -Errno.EINVAL;
  if (f.isDir) return -Errno.EISDIR;
  if (pos >= 0 && !f.seekable) return -Errno.ESPIPE;
  const usePos = f.seekable && !(pos < 0 && f.flags & O_APPEND);
  let at = pos >= 0 ? pos : f.pos;
  let total = 0;
  // All or nothing on a bad buffer: EFAULT before anything reaches the file.
  sys.p.space.check(buf, len, false);
  sys.p.space.forEachChunk(buf, len, false, (off, n) => {
    let done = 0;
    while (done < n) {
      let w: number;
      try {
        w = fs.writeSync(f.hostFd, sys.bytes, off + done, n - done, usePos ? at : null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") continue; // host stdout is a non-blocking pipe: retry
        if (code === "EPIPE") {
          sys.k.sendSignal(sys.p, SIGPIPE);
        }
        if (total + done > 0) return;
        throw new SyscallError(errnoOf(e));
      }
      done += w;
      at += w;
    }
    total += done;
  });
  if (pos < 0 && f.seekable) {
    if (f.flags & O_APPEND) f.pos = Number(sys.host(() => fs.fstatSync(f.hostFd)).size);
    else f.pos = at;
  }
  return total;
}

export function iovecs(sys: SyscallContext, iov: number, cnt: number): [number, number][] {
  if (cnt < 0 || cnt > IOV_MAX) fail(Errno.EINVAL);
  const raw = sys.p.space.read(iov, cnt * 16);
  const d = new DataView(raw.buffer);
  const out: [number, number][] = [];
  let total = 0;
  for (let i = 0; i < cnt; i++) {
    const base = Number(d.getBigUint64(i * 16, true));
    const len = Number(d.getBigUint64(i * 16 + 8, true));
    if (len > MAX_RW || total + len > MAX_RW * 2) fail(Errno.EINVAL);
    total += len;
    out.push([base, len]);
  }
  return out;
}

export function readv(sys: SyscallContext, fd: number, iov: number, cnt: number, pos: number): SyscallResult {
  const v = iovecs(sys, iov, cnt);
  if (sys.file(fd) instanceof Socket) return pos >= 0 ? -Errno.ESPIPE : readSocket(sys, fd, v);
  let total = 0;
  for (const [base, len] of v) {
    if (len === 0) continue;
    const r = read(sys, fd, base, len, pos >= 0 ? pos + total : -1);
    if (r === BLOCK) {
      if (total > 0) return total;
      return BLOCK;
    }
    const n = Number(r);
    if (n < 0) return total > 0 ? total : n;
    total += n;
    if (n < len) break;
  }
  return total;
}

export function writev(sys: SyscallContext, fd: number, iov: number, cnt: number, pos: number): SyscallResult {
  const v = iovecs(sys, iov, cnt);
  // A pipe write of several small pieces must stay atomic: gather them first.
  const f = sys.file(fd);
  if (f instanceof Socket) return pos >= 0 ? -Errno.ESPIPE : writeSocket(sys, fd, v);
  if (f instanceof PipeEnd) {
    const total = v.reduce((n, [, l]) => n + l, 0);
    if (total <= Pipe.ATOMIC) {
      const parts = v.map(([b, l]) => sys.p.space.read(b, l));
      const all = Buffer.concat(parts);
      return writeBytes(sys, f, all);
    }
  }
  let total = 0;
  for (const [base, len] of v) {
    if (len === 0) continue;
    const r = write(sys, fd, base, len, pos >= 0 ? pos + total : -1);
    if (r === BLOCK) return total > 0 ? total : BLOCK;
    const n = Number(r);
    if (n < 0) return total > 0 ? total : n;
    total += n;
    if (n < len) break;
  }
  return total;
}

/** write() of host bytes to a pipe (writev's atomic path). */
export function writeBytes(sys: SyscallContext, f: PipeEnd, data: Uint8Array): SyscallResult {
  const pipe = f.pipe;
  if (pipe.readers === 0) {
    sys.k.sendSignal(sys.p, SIGPIPE);
    return -Errno.EPIPE;
  }
  if (Pipe.CAPACITY - pipe.length < data.length) {
    if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
    pipe.writeWait.add(sys.p.wake);
    return BLOCK;
  }
  return pipe.put(data, 0, data.length);
}

export function sendfile(
  sys: SyscallContext,
  outFd: number,
  inFd: number,
  offPtr: number,
  count: number,
): SyscallResult {
  const inF = sys.file(inFd);
  const outF = sys.file(outFd);
  if (!(inF instanceof HostFile) || !inF.seekable) return -Errno.EINVAL;
  if (!inF.readable || !outF.writable) return -Errno.EBADF;
  let pos = offPtr ? Number(sys.p.space.readU64(offPtr)) : inF.pos;
  count = Math.min(count, 1 << 20);
  const buf = Buffer.allocUnsafe(count);
  const n = sys.host(() => fs.readSync(inF.hostFd, buf, 0, count, pos));
  if (n === 0) return 0;
  let written: number;
  if (outF instanceof PipeEnd) {
    const r = writeBytesPartial(sys, outF, buf.subarray(0, n));
    if (r === BLOCK) return BLOCK;
    written = Number(r);
    if (written < 0) return written;
  } else if (outF instanceof Socket) {
    const r = sendBytes(sys, outFd, buf.subarray(0, n));
    if (r === BLOCK) return BLOCK;
    written = Number(r);
    if (written < 0) return written;
  } else if (outF instanceof HostFile) {
    written = sys.host(() =>
      fs.writeSync(outF.hostFd, buf, 0, n, outF.seekable && !(outF.flags & O_APPEND) ? outF.pos : null),
    );
    if (outF.seekable) outF.pos += written;
  } else return -Errno.EINVAL;
  pos += written;
  if (offPtr) sys.p.space.writeU64(offPtr, BigInt(pos));
  else inF.pos = pos;
  return written;
}

/**
 * copy_file_range(2) between regular files: from *offIn (or the input's file offset) to *offOut
 * (or the output's), up to len bytes or the end of the input. A given offset pointer is updated
 * and the file offset left alone, as on Linux. At most 1 MiB per call: a short count is allowed.
 */
export function copyFileRange(
  sys: SyscallContext,
  inFd: number,
  offIn: number,
  outFd: number,
  offOut: number,
  len: number,
  flags: number,
): SyscallResult {
  if (flags !== 0) return -Errno.EINVAL;
  const inF = sys.file(inFd);
  const outF = sys.file(outFd);
  if (!inF.readable || !outF.writable || outF.flags & O_APPEND) return -Errno.EBADF;
  if (!(inF instanceof HostFile) || !(outF instanceof HostFile) || inF.isDir || outF.isDir) return -Errno.EINVAL;
  if (!inF.seekable || !outF.seekable) return -Errno.EINVAL;
  const space = sys.p.space;
  let at = offIn ? Number(space.readU64(offIn)) : inF.pos;
  let to = offOut ? Number(space.readU64(offOut)) : outF.pos;
  if (at < 0 || to < 0) return -Errno.EINVAL;
  const count = Math.min(len, 1 << 20);
  if (count === 0) return 0;
  const buf = Buffer.allocUnsafe(count);
  const n = sys.host(() => fs.readSync(inF.hostFd, buf, 0, count, at));
  let done = 0;
  while (done < n) done += sys.host(() => fs.writeSync(outF.hostFd, buf, done, n - done, to + done));
  at += done;
  to += done;
  if (offIn) space.writeU64(offIn, BigInt(at));
  else inF.pos = at;
  if (offOut) space.writeU64(offOut, BigInt(to));
  else outF.pos = to;
  return done;
}

export function writeBytesPartial(sys: SyscallContext, f: PipeEnd, data: Uint8Array): SyscallResult {
  const pipe = f.pipe;
  if (pipe.readers === 0) {
    sys.k.sendSignal(sys.p, SIGPIPE);
    return -Errno.EPIPE;
  }
  if (pipe.length === Pipe.CAPACITY) {
    pipe.writeWait.add(sys.p.wake);
    return BLOCK;
  }
  return pipe.put(data, 0, data.length);
}

export function lseek(sys: SyscallContext, fd: number, off: number, whence: number): SyscallResult {
  const f = sys.file(fd);
  if (whence < 0 || whence > 4) return -Errno.EINVAL;
  if (f instanceof MemFile) {
    const base = whence === 0 ? 0 : whence === 1 ? f.pos : whence === 2 ? f.data.length : -1;
    if (base < 0 || base + off < 0) return -Errno.EINVAL;
    f.pos = base + off;
    return f.pos;
  }
  if (f instanceof PipeEnd || f instanceof HostInputFile || f instanceof Socket) return -Errno.ESPIPE;
  if (!(f instanceof HostFile)) return -Errno.EINVAL;
  if (f.isDir) {
    if (whence === 0 && off === 0) {
      f.dirents = undefined;
      f.dirPos = 0;
      return 0;
    }
    if (whence === 0) {
      f.dirPos = off;
      return off;
    }
    return -Errno.EINVAL;
  }
  if (!f.seekable) return -Errno.ESPIPE;
  let base: number;
  if (whence === 0) base = 0;
  else if (whence === 1) base = f.pos;
  else if (whence === 2) base = Number(sys.host(() => fs.fstatSync(f.hostFd)).size);
  else return -Errno.EINVAL; // SEEK_DATA/SEEK_HOLE not supported
  const n = base + off;
  if (n < 0) return -Errno.EINVAL;
  f.pos = n;
  return n;
}

export function statOf(sys: SyscallContext, dirfd: number, path: string, flags: number): StatInfo {
  const p = sys.p;
  if (path === "") {
    if ((flags & AT_EMPTY_PATH) === 0) fail(Errno.ENOENT);
    if (dirfd === AT_FDCWD) path = ".";
    const f = sys.file(dirfd);
    if (f instanceof PipeEnd) return syntheticStat(S_IFIFO | 0o600, f.pipe.ino, sys.k.uid, sys.k.gid);
    if (f instanceof Socket) return syntheticStat(S_IFSOCK | 0o777, f.ino, sys.k.uid, sys.k.gid);
    if (f instanceof EventFd) return syntheticStat(0o600, f.ino, sys.k.uid, sys.k.gid);
    if (f instanceof MemFile) return syntheticStat(S_IFREG | 0o444, 1, sys.k.uid, sys.k.gid);
    if (f instanceof HostInputFile) return statInfoOf(sys.host(() => fs.fstatSync(0, { bigint: true })));
    if (f instanceof HostFile) return statInfoOf(sys.host(() => fs.fstatSync(f.hostFd, { bigint: true })));
    else fail(Errno.EBADF);
  }
  const follow = (flags & AT_SYMLINK_NOFOLLOW) === 0;
  const dev = standardDevice(sys, dirfd, path);
  if (dev !== undefined) return statInfoOf(sys.host(() => fs.statSync(dev, { bigint: true })));
  const r = sys.resolveAt(dirfd, path, follow);
  // Under --root resolve() has followed every symlink already: the host must not follow another.
  const hostFollow = follow && sys.k.gfs.root === undefined;
  return statInfoOf(
    sys.host(() => (hostFollow ? fs.statSync(r.host, { bigint: true }) : fs.lstatSync(r.host, { bigint: true }))),
  );
}

export function fstatat(sys: SyscallContext, dirfd: number, path: string, buf: number, flags: number): SyscallResult {
  const s = statOf(sys, dirfd, path, flags);
  sys.p.space.write(buf, packStat(s));
  return 0;
}

export function statx(sys: SyscallContext, dirfd: number, path: string, flags: number, buf: number): SyscallResult {
  const s = statOf(sys, dirfd, path, flags);
  sys.p.space.write(buf, packStatx(s));
  return 0;
}

export function getdents64(sys: SyscallContext, fd: number, buf: number, len: number): SyscallResult {
  const f = sys.file(fd);
  if (!(f instanceof HostFile)) return -Errno.ENOTDIR;
  if (!f.isDir) return -Errno.ENOTDIR;
  if (!f.dirents) {
    // Through the descriptor, not its path: the directory may have been renamed, or replaced by a
    // symlink, since it was opened. A removed directory has no entries left (ENOENT, as Linux's
    // IS_DEADDIR check in iterate_dir).
    const dir = `/proc/self/fd/${f.hostFd}`;
    if (sys.host(() => fs.fstatSync(f.hostFd)).nlink === 0) return -Errno.ENOENT;
    const names = sys.host(() => fs.readdirSync(dir));
    const typeOf = (m: number) => {
      switch (m & S_IFMT) {
        case S_IFDIR:
          return DT_DIR;
        case S_IFREG:
          return DT_REG;
        case S_IFLNK:
          return DT_LNK;
        case S_IFIFO:
          return DT_FIFO;
        case S_IFCHR:
          return DT_CHR;
        case 0o060000:
          return DT_BLK;
        case 0o140000:
          return DT_SOCK;
        default:
          return DT_UNKNOWN;
      }
    };
    const list: { name: string; type: number; ino: bigint }[] = [];
    for (const name of [".", "..", ...names]) {
      try {
        const st = fs.lstatSync(dir + "/" + name, { bigint: true });
        list.push({ name, type: typeOf(Number(st.mode)), ino: st.ino });
      } catch {
        // Vanished between readdir and lstat: skip it, as a later readdir would.
      }
    }
    f.dirents = list;
  }
  // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }, 8-aligned.
  const out: Uint8Array[] = [];
  let used = 0;
  while (f.dirPos < f.dirents.length) {
    const e = f.dirents[f.dirPos]!;
    const name = enc.encode(e.name);
    const reclen = Math.ceil((19 + name.length + 1) / 8) * 8;
    if (used + reclen > len) {
      if (used === 0) return -Errno.EINVAL;
      break;
    }
    const rec = new Uint8Array(reclen);
    const d = new DataView(rec.buffer);
    d.setBigUint64(0, e.ino, true);
    d.setBigInt64(8, BigInt(f.dirPos + 1), true);
    d.setUint16(16, reclen, true);
    rec[18] = e.type;
    rec.set(name, 19);
    out.push(rec);
    used += reclen;
    f.dirPos++;
  }
  if (used > 0) sys.p.space.write(buf, Buffer.concat(out));
  return used;
}

export function mkdirat(sys: SyscallContext, dirfd: number, path: string, mode: number): SyscallResult {
  const r = sys.resolveAt(dirfd, path, false);
  sys.host(() => fs.mkdirSync(r.host, { mode: mode & ~sys.p.umask & 0o7777 }));
  return 0;
}

export function mknodat(sys: SyscallContext, dirfd: number, path: string, mode: number): SyscallResult {
  const r = sys.resolveAt(dirfd, path, false);
  if ((mode & S_IFMT) === S_IFREG || (mode & S_IFMT) === 0) {
    const fd = sys.host(() =>
      fs.openSync(
        r.host,
        fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY,
        mode & ~sys.p.umask & 0o7777,
      ),
    );
    fs.closeSync(fd);
    return 0;
  }
  return -Errno.EPERM; // device nodes and fifos cannot be created from here
}

export function unlinkat(sys: SyscallContext, dirfd: number, path: string, flags: number): SyscallResult {
  const r = sys.resolveAt(dirfd, path, false);
  if (flags & AT_REMOVEDIR) sys.host(() => fs.rmdirSync(r.host));
  else {
    const st = sys.host(() => fs.lstatSync(r.host));
    if (st.isDirectory()) return -Errno.EISDIR;
    sys.host(() => fs.unlinkSync(r.host));
  }
  return 0;
}

export function symlinkat(sys: SyscallContext, target: string, dirfd: number, path: string): SyscallResult {
  const r = sys.resolveAt(dirfd, path, false);
  // The link text is stored as given: it is only ever followed through GuestFs, inside the root.
  sys.host(() => fs.symlinkSync(target, r.host));
  return 0;
}

export function linkat(
  sys: SyscallContext,
  olddir: number,
  oldpath: string,
  newdir: number,
  newpath: string,
  flags: number,
): SyscallResult {
  const a = sys.resolveAt(olddir, oldpath, (flags & AT_SYMLINK_FOLLOW) !== 0);
  const b = sys.resolveAt(newdir, newpath, false);
  sys.host(() => fs.linkSync(a.host, b.host));
  return 0;
}

export function renameat(
  sys: SyscallContext,
  olddir: number,
  oldpath: string,
  newdir: number,
  newpath: string,
  flags: number,
): SyscallResult {
  const RENAME_NOREPLACE = 1;
  if (flags & ~RENAME_NOREPLACE) return -Errno.EINVAL;
  const a = sys.resolveAt(olddir, oldpath, false);
  const b = sys.resolveAt(newdir, newpath, false);
  if (flags & RENAME_NOREPLACE && fs.lstatSync(b.host, { throwIfNoEntry: false }) !== undefined) return -Errno.EEXIST;
  sys.host(() => fs.renameSync(a.host, b.host));
  return 0;
}

export function readlinkat(sys: SyscallContext, dirfd: number, path: string, buf: number, size: number): SyscallResult {
  if (size <= 0) return -Errno.EINVAL;
  const p = sys.p;
  let text: string;
  if (path === "/proc/self/exe" || path === `/proc/${p.pid}/exe`) text = p.exe;
  else {
    const m = /^\/proc\/(?:self|\d+)\/fd\/(\d+)$/.exec(path);
    if (m) {
      const f = p.fds.get(Number(m[1]))?.file;
      if (!f) return -Errno.ENOENT;
      text =
        f instanceof HostFile
          ? f.guestPath
          : f instanceof PipeEnd
            ? `pipe:[${f.pipe.ino}]`
            : f instanceof Socket
              ? `socket:[${f.ino}]`
              : "/dev/stdin";
    } else {
      const r = sys.resolveAt(dirfd, path, false);
      text = sys.host(() => fs.readlinkSync(r.host));
    }
  }
  const b = enc.encode(text).subarray(0, size);
  p.space.write(buf, b);
  return b.length;
}

export function faccessat(
  sys: SyscallContext,
  dirfd: number,
  path: string,
  mode: number,
  flags: number,
): SyscallResult {
  if (mode & ~7) return -Errno.EINVAL;
  const r = sys.resolveAt(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  sys.host(() => sys.k.gfs.pinned(r.host, (h) => fs.accessSync(h, mode)));
  return 0;
}

export function fchmod(sys: SyscallContext, fd: number, mode: number): SyscallResult {
  const f = sys.file(fd);
  if (!(f instanceof HostFile)) return -Errno.EBADF;
  sys.host(() => fs.fchmodSync(f.hostFd, mode & 0o7777));
  return 0;
}

export function fchmodat(sys: SyscallContext, dirfd: number, path: string, mode: number, flags: number): SyscallResult {
  if (flags & AT_SYMLINK_NOFOLLOW) return -Errno.EOPNOTSUPP;
  const r = sys.resolveAt(dirfd, path, true);
  sys.host(() => sys.k.gfs.pinned(r.host, (h) => fs.chmodSync(h, mode & 0o7777)));
  return 0;
}

export function fchownat(
  sys: SyscallContext,
  dirfd: number,
  path: string,
  uid: number,
  gid: number,
  flags: number,
): SyscallResult {
  if (path === "" && flags & AT_EMPTY_PATH) return fchown(sys, dirfd, uid, gid);
  const follow = (flags & AT_SYMLINK_NOFOLLOW) === 0;
  const r = sys.resolveAt(dirfd, path, follow);
  const st = sys.host(() => fs.lstatSync(r.host));
  const u = uid === -1 ? st.uid : uid;
  const g = gid === -1 ? st.gid : gid;
  sys.host(() => (follow ? sys.k.gfs.pinned(r.host, (h) => fs.chownSync(h, u, g)) : fs.lchownSync(r.host, u, g)));
  return 0;
}

export function fchown(sys: SyscallContext, fd: number, uid: number, gid: number): SyscallResult {
  const f = sys.file(fd);
  if (!(f instanceof HostFile)) return -Errno.EBADF;
  const st = sys.host(() => fs.fstatSync(f.hostFd));
  sys.host(() => fs.fchownSync(f.hostFd, uid === -1 ? st.uid : uid, gid === -1 ? st.gid : gid));
  return 0;
}

export function utimensat(
  sys: SyscallContext,
  dirfd: number,
  pathPtr: number,
  times: number,
  flags: number,
): SyscallResult {
  const UTIME_NOW = (1 << 30) - 1;
  const UTIME_OMIT = (1 << 30) - 2;
  let target: { fd?: number; path?: string; follow: boolean };
  if (pathPtr === 0) {
    const f = sys.file(dirfd);
    if (!(f instanceof HostFile)) return -Errno.EBADF;
    target = { fd: f.hostFd, follow: true };
  } else {
    const path = sys.p.space.readCString(pathPtr);
    const follow = (flags & AT_SYMLINK_NOFOLLOW) === 0;
    target = { path: sys.resolveAt(dirfd, path, follow).host, follow };
  }
  const st = sys.host(() => (target.fd !== undefined ? fs.fstatSync(target.fd) : fs.lstatSync(target.path!)));
  const now = Date.now() / 1000;
  let at = now;
  let mt = now;
  if (times !== 0) {
    const b = new DataView(sys.p.space.read(times, 32).buffer);
    const pick = (o: number, old: number) => {
      const ns = Number(b.getBigInt64(o + 8, true));
      if (ns === UTIME_NOW) return now;
      if (ns === UTIME_OMIT) return old;
      if (ns < 0 || ns > 999_999_999) fail(Errno.EINVAL);
      return Number(b.getBigInt64(o, true)) + ns / 1e9;
    };
    at = pick(0, st.atimeMs / 1000);
    mt = pick(16, st.mtimeMs / 1000);
  }
  sys.host(() => {
    if (target.fd !== undefined) fs.futimesSync(target.fd, at, mt);
    else if (target.follow) sys.k.gfs.pinned(target.path!, (h) => fs.utimesSync(h, at, mt));
    else fs.lutimesSync(target.path!, at, mt);
  });
  return 0;
}

export function truncate(sys: SyscallContext, path: string, len: number): SyscallResult {
  if (len < 0) return -Errno.EINVAL;
  const r = sys.resolveAt(AT_FDCWD, path, true);
  sys.host(() => sys.k.gfs.pinned(r.host, (h) => fs.truncateSync(h, len)));
  return 0;
}

export function ftruncate(sys: SyscallContext, fd: number, len: number): SyscallResult {
  if (len < 0) return -Errno.EINVAL;
  const f = sys.file(fd);
  if (!(f instanceof HostFile) || !f.seekable) return -Errno.EINVAL;
  if (!f.writable) return -Errno.EINVAL;
  sys.host(() => fs.ftruncateSync(f.hostFd, len));
  return 0;
}

export function fsync(sys: SyscallContext, fd: number): SyscallResult {
  const f = sys.file(fd);
  if (f instanceof HostFile && f.seekable) sys.host(() => fs.fsyncSync(f.hostFd));
  return 0;
}

export function packStatfs(sys: SyscallContext, s: fs.BigIntStatsFs, buf: number): SyscallResult {
  // struct statfs (asm-generic/statfs.h, 64-bit): type, bsize, blocks, bfree, bavail, files,
  // ffree, fsid[2] (int), namelen, frsize, flags, spare[4] = 120 bytes.
  const b = new Uint8Array(120);
  const d = new DataView(b.buffer);
  d.setBigInt64(0, s.type, true);
  d.setBigInt64(8, s.bsize, true);
  d.setBigUint64(16, s.blocks, true);
  d.setBigUint64(24, s.bfree, true);
  d.setBigUint64(32, s.bavail, true);
  d.setBigUint64(40, s.files, true);
  d.setBigUint64(48, s.ffree, true);
  d.setBigInt64(64, 255n, true);
  d.setBigInt64(72, s.bsize, true);
  sys.p.space.write(buf, b);
  return 0;
}

export function statfs(sys: SyscallContext, path: string, buf: number): SyscallResult {
  const host = sys.resolveAt(AT_FDCWD, path, true).host;
  return packStatfs(
    sys,
    sys.host(() => sys.k.gfs.pinned(host, (h) => fs.statfsSync(h, { bigint: true }))),
    buf,
  );
}

export function fstatfs(sys: SyscallContext, fd: number, buf: number): SyscallResult {
  const f = sys.file(fd);
  if (!(f instanceof HostFile)) return -Errno.EINVAL;
  const s = sys.host(() => fs.statfsSync(`/proc/self/fd/${f.hostFd}`, { bigint: true }));
  return packStatfs(sys, s, buf);
}

export function getcwd(sys: SyscallContext, buf: number, size: number): SyscallResult {
  const b = enc.encode(sys.p.cwd + "\0");
  if (size < b.length) return -Errno.ERANGE;
  sys.p.space.write(buf, b);
  return b.length;
}

export function chdir(sys: SyscallContext, path: string): SyscallResult {
  const r = sys.resolveAt(AT_FDCWD, path, true);
  const st = sys.host(() => sys.k.gfs.pinned(r.host, (h) => fs.statSync(h)));
  if (!st.isDirectory()) return -Errno.ENOTDIR;
  sys.host(() => sys.k.gfs.pinned(r.host, (h) => fs.accessSync(h, fs.constants.X_OK)));
  sys.p.cwd = r.guest;
  return 0;
}

export function fchdir(sys: SyscallContext, fd: number): SyscallResult {
  const f = sys.file(fd);
  if (!(f instanceof HostFile) || !f.isDir) return -Errno.ENOTDIR;
  sys.p.cwd = f.guestPath;
  return 0;
}
