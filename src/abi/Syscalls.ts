// The Linux system calls, riscv64 calling convention: number in a7, arguments in a0..a5, result
// (or -errno) in a0 (riscv64 syscall(2) ABI). Each handler follows the Linux man page's semantics
// and error numbers; host file operations go through Node's fs on paths resolved by GuestFs.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import { posix } from "node:path";
import * as tty from "node:tty";
import { MMAP_BASE, PROT_EXEC, PROT_READ, PROT_WRITE, TASK_SIZE, pageUp } from "./AddressSpace.js";
import { Errno, SyscallError, errnoName, errnoOf, fail } from "./Errno.js";
import { PAGE_SIZE } from "./FrameAllocator.js";
import { BLOCK, type Kernel, type SyscallResult } from "./Kernel.js";
import {
  HostFile, HostInputFile, MAX_FDS, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL,
  O_NOFOLLOW, O_NONBLOCK, O_PATH, O_TRUNC, O_WRONLY, O_RDWR, MemFile, Pipe, PipeEnd, type OpenFile,
} from "./OpenFile.js";
import { type Process, ProcState } from "./Process.js";
import { SIGKILL, SIGPIPE, SIGSTOP, SIG_DFL, UNBLOCKABLE, NSIG, sigBit } from "./Signals.js";
import {
  S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, packStat, packStatx, statInfoOf, syntheticStat, type StatInfo,
} from "./Stat.js";
import { syscallName } from "./SyscallTable.js";
import { procFile } from "./ProcFs.js";

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const AT_SYMLINK_FOLLOW = 0x400;
const AT_EMPTY_PATH = 0x1000;

const F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7;
const F_DUPFD_CLOEXEC = 1030, F_GETPIPE_SZ = 1032, F_SETPIPE_SZ = 1031;
const FD_CLOEXEC = 1;

const MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_FIXED_NOREPLACE = 0x100000;
const MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;

// CLONE_FS/FILES/SIGHAND (sharing without CLONE_VM) are treated as copies: fork-like uses only.
const CLONE_VM = 0x100, CLONE_VFORK = 0x4000;
const CLONE_THREAD = 0x10000, CLONE_SETTLS = 0x80000, CLONE_PARENT_SETTID = 0x100000;
const CLONE_CHILD_CLEARTID = 0x200000, CLONE_CHILD_SETTID = 0x1000000;

const WNOHANG = 1;

// ioctl requests (asm-generic/ioctls.h).
const TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404, TIOCSCTTY = 0x540e;
const TIOCGPGRP = 0x540f, TIOCSPGRP = 0x5410, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, FIONREAD = 0x541b;
const FIONBIO = 0x5421, FIOCLEX = 0x5451, FIONCLEX = 0x5450;

const DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8, DT_LNK = 10, DT_SOCK = 12;

const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
const IOV_MAX = 1024;
/** Linux caps one read/write at 0x7ffff000 bytes (MAX_RW_COUNT). */
const MAX_RW = 0x7fff_f000;

const enc = new TextEncoder();

export class Syscalls {
  private readonly k: Kernel;
  private p!: Process;
  private traceArgs = "";

  constructor(kernel: Kernel) {
    this.k = kernel;
  }

  // ---- argument access -----------------------------------------------------------------------
  private arg(i: number): bigint {
    return this.k.cpu.getX(10 + i);
  }
  private int(i: number): number {
    return Number(BigInt.asIntN(32, this.arg(i)));
  }
  private uint(i: number): number {
    return Number(BigInt.asUintN(32, this.arg(i)));
  }
  /** A 64-bit unsigned argument as a number (inexact above 2^53, which only matters for errors). */
  private ulong(i: number): number {
    return Number(BigInt.asUintN(64, this.arg(i)));
  }
  private long(i: number): number {
    return Number(BigInt.asIntN(64, this.arg(i)));
  }
  private path(i: number): string {
    return this.p.space.readCString(this.ulong(i), 4096);
  }

  // ---- dispatch ------------------------------------------------------------------------------

  dispatch(p: Process, nr: number): SyscallResult {
    this.p = p;
    if (this.k.strace) this.traceArgs = this.formatArgs(nr);
    switch (nr) {
      // files
      case 56: return this.openat(this.int(0), this.path(1), this.int(2), this.uint(3));
      case 57: return this.close(this.int(0));
      case 63: return this.read(this.int(0), this.ulong(1), this.ulong(2), -1);
      case 64: return this.write(this.int(0), this.ulong(1), this.ulong(2), -1);
      case 67: return this.read(this.int(0), this.ulong(1), this.ulong(2), this.posArg(3));
      case 68: return this.write(this.int(0), this.ulong(1), this.ulong(2), this.posArg(3));
      case 65: return this.readv(this.int(0), this.ulong(1), this.int(2), -1);
      case 66: return this.writev(this.int(0), this.ulong(1), this.int(2), -1);
      case 69: return this.readv(this.int(0), this.ulong(1), this.int(2), this.posArg(3));
      case 70: return this.writev(this.int(0), this.ulong(1), this.int(2), this.posArg(3));
      case 71: return this.sendfile(this.int(0), this.int(1), this.ulong(2), this.ulong(3));
      case 62: return this.lseek(this.int(0), this.long(1), this.int(2));
      case 79: return this.fstatat(this.int(0), this.path(1), this.ulong(2), this.int(3));
      case 80: return this.fstatat(this.int(0), "", this.ulong(1), AT_EMPTY_PATH);
      case 291: return this.statx(this.int(0), this.path(1), this.int(2), this.ulong(4));
      case 61: return this.getdents64(this.int(0), this.ulong(1), this.ulong(2));
      case 34: return this.mkdirat(this.int(0), this.path(1), this.uint(2));
      case 33: return this.mknodat(this.int(0), this.path(1), this.uint(2));
      case 35: return this.unlinkat(this.int(0), this.path(1), this.int(2));
      case 36: return this.symlinkat(this.path(0), this.int(1), this.path(2));
      case 37: return this.linkat(this.int(0), this.path(1), this.int(2), this.path(3), this.int(4));
      case 38: return this.renameat(this.int(0), this.path(1), this.int(2), this.path(3), 0);
      case 276: return this.renameat(this.int(0), this.path(1), this.int(2), this.path(3), this.uint(4));
      case 78: return this.readlinkat(this.int(0), this.path(1), this.ulong(2), this.long(3));
      case 48: return this.faccessat(this.int(0), this.path(1), this.int(2), 0);
      case 439: return this.faccessat(this.int(0), this.path(1), this.int(2), this.int(3));
      case 52: return this.fchmod(this.int(0), this.uint(1));
      case 53: return this.fchmodat(this.int(0), this.path(1), this.uint(2), 0);
      case 452: return this.fchmodat(this.int(0), this.path(1), this.uint(2), this.int(3));
      case 54: return this.fchownat(this.int(0), this.path(1), this.int(2), this.int(3), this.int(4));
      case 55: return this.fchown(this.int(0), this.int(1), this.int(2));
      case 88: return this.utimensat(this.int(0), this.ulong(1), this.ulong(2), this.int(3));
      case 45: return this.truncate(this.path(0), this.long(1));
      case 46: return this.ftruncate(this.int(0), this.long(1));
      case 82: case 83: return this.fsync(this.int(0));
      case 81: return 0; // sync
      case 43: return this.statfs(this.path(0), this.ulong(1));
      case 44: return this.fstatfs(this.int(0), this.ulong(1));
      case 17: return this.getcwd(this.ulong(0), this.ulong(1));
      case 49: return this.chdir(this.path(0));
      case 50: return this.fchdir(this.int(0));
      case 166: { const old = this.p.umask; this.p.umask = this.uint(0) & 0o777; return old; }
      case 223: return 0; // fadvise64: advice only
      case 47: return -Errno.EOPNOTSUPP; // fallocate
      // descriptors
      case 23: return this.dup(this.int(0));
      case 24: return this.dup3(this.int(0), this.int(1), this.int(2));
      case 25: return this.fcntl(this.int(0), this.int(1), this.ulong(2));
      case 29: return this.ioctl(this.int(0), this.uint(1), this.ulong(2));
      case 59: return this.pipe2(this.ulong(0), this.int(1));
      case 72: return this.pselect6();
      case 73: return this.ppoll(this.ulong(0), this.uint(1), this.ulong(2));
      // memory
      case 214: return this.p.space.setBrk(this.ulong(0));
      case 222: return this.mmap(this.ulong(0), this.ulong(1), this.int(2), this.int(3), this.int(4), this.long(5));
      case 215: return this.munmap(this.ulong(0), this.ulong(1));
      case 226: return this.mprotect(this.ulong(0), this.ulong(1), this.int(2));
      case 216: return this.mremap(this.ulong(0), this.ulong(1), this.ulong(2), this.int(3));
      case 233: return 0; // madvise: advice only (MADV_DONTNEED on private anon would zero; not needed)
      case 227: return 0; // msync: private mappings only
      case 232: return -Errno.ENOSYS; // mincore
      // time
      case 113: return this.clockGettime(this.int(0), this.ulong(1));
      case 114: return this.clockGetres(this.ulong(1));
      case 169: return this.gettimeofday(this.ulong(0));
      case 101: return this.nanosleep(this.ulong(0), this.ulong(1), false);
      case 115: return this.clockNanosleep(this.int(0), this.int(1), this.ulong(2));
      case 153: return this.times(this.ulong(0));
      case 102: case 103: return this.itimer(nr);
      // identity
      case 172: return this.p.pid;
      case 173: return this.p.parent?.pid ?? 1;
      case 178: return this.p.pid; // gettid: one thread per process
      case 174: case 175: return this.k.uid;
      case 176: case 177: return this.k.gid;
      case 146: case 144: case 147: case 143: return this.k.uid === 0 ? 0 : -Errno.EPERM; // setuid family
      case 148: return this.getres(this.k.uid);
      case 150: return this.getres(this.k.gid);
      case 158: return 0; // getgroups: no supplementary groups
      case 159: return -Errno.EPERM; // setgroups
      case 160: return this.uname(this.ulong(0));
      case 179: return this.sysinfo(this.ulong(0));
      case 278: return this.getrandom(this.ulong(0), this.ulong(1));
      case 261: return this.prlimit(this.int(0), this.int(1), this.ulong(2), this.ulong(3));
      case 163: return this.prlimit(0, this.int(0), 0, this.ulong(1));
      case 164: return 0; // setrlimit: accepted, not enforced
      case 165: return this.getrusage(this.int(0), this.ulong(1));
      case 167: return this.prctl(this.int(0), this.ulong(1));
      case 155: return this.getpgid(this.int(0));
      case 154: return this.setpgid(this.int(0), this.int(1));
      case 156: return this.p.sid;
      case 157: { if (this.p.pgid === this.p.pid) return -Errno.EPERM; this.p.sid = this.p.pgid = this.p.pid; return this.p.pid; }
      case 140: return 0; // setpriority
      case 141: return 20; // getpriority: nice 0 (returned as 20 - nice)
      case 123: return this.schedGetaffinity(this.ulong(1), this.ulong(2));
      case 122: return 0; // sched_setaffinity
      case 124: return 0; // sched_yield
      case 118: case 119: case 120: case 121: return 0; // sched_setparam/scheduler/getscheduler/getparam
      // signals
      case 134: return this.rtSigaction(this.int(0), this.ulong(1), this.ulong(2), this.ulong(3));
      case 135: return this.rtSigprocmask(this.int(0), this.ulong(1), this.ulong(2), this.ulong(3));
      case 136: return this.rtSigpending(this.ulong(0));
      case 133: return this.rtSigsuspend(this.ulong(0));
      case 139: this.k.sigreturn(this.p); return 0;
      case 129: return this.kill(this.int(0), this.int(1));
      case 130: return this.kill(this.int(0), this.int(1));
      case 131: return this.kill(this.int(1), this.int(2));
      case 132: return 0; // sigaltstack: accepted; handlers run on the current stack
      // processes
      case 220: return this.clone(this.ulong(0), this.ulong(1), this.ulong(2), this.ulong(3), this.ulong(4));
      case 221: return this.execve(this.path(0), this.ulong(1), this.ulong(2));
      case 260: return this.wait4(this.int(0), this.ulong(1), this.int(2), this.ulong(3));
      case 93: case 94: this.k.exitProcess(this.p, this.int(0), false); return 0;
      case 96: this.p.clearChildTid = this.ulong(0); return this.p.pid;
      case 99: return 0; // set_robust_list
      case 98: return this.futex(this.ulong(0), this.int(1), this.uint(2));
      case 293: return -Errno.ENOSYS; // rseq: glibc copes without it
      case 258: return -Errno.ENOSYS; // riscv_hwprobe: glibc falls back to AT_HWCAP
      case 259: this.k.cpu.flushTlb(); return 0; // riscv_flush_icache
      case 435: return -Errno.ENOSYS; // clone3: glibc falls back to clone
      // sockets: no network stack here; descriptors are never sockets.
      case 198: case 199: return -Errno.EAFNOSUPPORT; // socket, socketpair
      case 200: case 201: case 202: case 203: case 204: case 205: case 206: case 207: case 208: case 209:
      case 210: case 211: case 212: case 242: case 243:
        this.file(this.int(0));
        return -Errno.ENOTSOCK;
      default:
        this.k.reportUnknown(nr);
        return -Errno.ENOSYS;
    }
  }

  private posArg(i: number): number {
    const v = this.long(i);
    if (v < 0) fail(Errno.EINVAL);
    return v;
  }

  // ---- strace ----------------------------------------------------------------------------------

  private formatArgs(nr: number): string {
    const strArgs: Record<number, number[]> = {
      56: [1], 79: [1], 291: [1], 34: [1], 33: [1], 35: [1], 36: [0, 2], 37: [1, 3], 38: [1, 3], 276: [1, 3],
      78: [1], 48: [1], 439: [1], 53: [1], 54: [1], 45: [0], 43: [0], 49: [0], 221: [0],
    };
    const s = strArgs[nr] ?? [];
    const n = nr === 221 ? 3 : 6;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      if (s.includes(i)) {
        try {
          parts.push(JSON.stringify(this.p.space.readCString(this.ulong(i), 4096)));
        } catch {
          parts.push("0x" + this.arg(i).toString(16));
        }
      } else {
        const v = BigInt.asIntN(64, this.arg(i));
        parts.push(v > -4096n && v < 65536n ? v.toString() : "0x" + BigInt.asUintN(64, v).toString(16));
      }
    }
    return parts.join(", ");
  }

  traceReturn(p: Process, nr: number, ret: number | bigint | "?"): void {
    if (ret === "?") {
      this.k.log(`[pid ${p.pid}] ${syscallName(nr)}(${this.traceArgs}) = ?`);
      return;
    }
    const r = typeof ret === "bigint" ? Number(BigInt.asIntN(64, ret)) : ret;
    const shown = r < 0 && r > -4096 ? `-1 ${errnoName(-r)}` : r > 65535 ? "0x" + r.toString(16) : String(r);
    this.k.log(`[pid ${p.pid}] ${syscallName(nr)}(${this.traceArgs}) = ${shown}`);
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private file(fd: number): OpenFile {
    const e = this.p.fds.get(fd);
    if (!e) fail(Errno.EBADF);
    return e.file;
  }

  /** The guest directory a *at() call is relative to. */
  private dirOf(dirfd: number, path: string): string {
    if (path.startsWith("/") || dirfd === AT_FDCWD) return this.p.cwd;
    const f = this.file(dirfd);
    if (!(f instanceof HostFile) || !f.isDir) fail(Errno.ENOTDIR);
    return f.guestPath;
  }

  private resolveAt(dirfd: number, path: string, follow: boolean): { host: string; guest: string } {
    return this.k.gfs.resolve(this.dirOf(dirfd, path), path, follow);
  }

  private host<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw new SyscallError(errnoOf(e));
    }
  }

  private get bytes(): Uint8Array {
    return this.k.memory.bytes;
  }

  // ---- files -----------------------------------------------------------------------------------

  private hostOpenFlags(flags: number): number {
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

  private openat(dirfd: number, path: string, flags: number, mode: number): SyscallResult {
    const p = this.p;
    if (path === "/proc/self/exe" || path === `/proc/${p.pid}/exe`) path = p.exe;
    // O_CREAT|O_EXCL does not follow a final symlink either: it fails with EEXIST (open(2)).
    const follow = (flags & O_NOFOLLOW) === 0 && (flags & (O_CREAT | O_EXCL)) !== (O_CREAT | O_EXCL);
    const fd = p.fds.lowestFree();
    if (fd < 0) return -Errno.EMFILE;
    if (this.k.gfs.root !== undefined) {
      // Under --root the host's /proc is out of reach: serve the few files programs read. The
      // name is only compared, never handed to the host, so its lexical form is enough.
      const guest = posix.resolve(this.dirOf(dirfd, path), path);
      if (guest.startsWith("/proc/")) {
        const text = procFile(this.k, p, guest);
        if (text === undefined) return -Errno.ENOENT;
        if ((flags & O_ACCMODE) !== 0) return -Errno.EACCES;
        p.fds.install(fd, new MemFile(flags & ~O_CLOEXEC, enc.encode(text), guest), (flags & O_CLOEXEC) !== 0);
        return fd;
      }
    }
    const r = this.resolveAt(dirfd, path, follow);
    let hostFlags = this.hostOpenFlags(flags) | this.k.gfs.hostNoFollow;
    if (flags & O_PATH) hostFlags = fs.constants.O_RDONLY | (flags & O_NOFOLLOW ? fs.constants.O_NOFOLLOW : 0) | this.k.gfs.hostNoFollow;
    const hfd = this.host(() => fs.openSync(r.host, hostFlags, mode & ~p.umask & 0o7777));
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
    const file = new HostFile(flags & ~O_CLOEXEC, hfd, r.guest, r.host, st.isDirectory(), st.isFile() || st.isBlockDevice());
    if (st.isFile() && flags & O_APPEND) file.pos = st.size;
    p.fds.install(fd, file, (flags & O_CLOEXEC) !== 0);
    return fd;
  }

  private close(fd: number): SyscallResult {
    return this.p.fds.close(fd) ? 0 : -Errno.EBADF;
  }

  /**
   * read(2)/pread64(2) into guest memory, straight into the frame pool (no intermediate copy).
   * pos = -1: use (and advance) the file offset.
   */
  private read(fd: number, buf: number, len: number, pos: number): SyscallResult {
    const f = this.file(fd);
    if (!f.readable) return -Errno.EBADF;
    if (len > MAX_RW) len = MAX_RW;
    if (len === 0) return 0;
    if (f instanceof PipeEnd) {
      if (pos >= 0) return -Errno.ESPIPE;
      const pipe = f.pipe;
      if (pipe.length === 0) {
        if (pipe.writers === 0) return 0;
        if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
        pipe.readWait.add(this.p.wake);
        return BLOCK;
      }
      let got = 0;
      this.p.space.forEachChunk(buf, Math.min(len, pipe.length), true, (off, n) => {
        got += pipe.take(this.bytes, off, n);
      });
      return got;
    }
    if (f instanceof MemFile) {
      let at = pos >= 0 ? pos : f.pos;
      let got = 0;
      this.p.space.forEachChunk(buf, Math.max(0, Math.min(len, f.data.length - at)), true, (off, n) => {
        this.bytes.set(f.data.subarray(at, at + n), off);
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
      this.p.space.forEachChunk(buf, first, true, (off, n) => {
        got = f.input.read(this.bytes, off, n);
      });
      if (got >= 0) return got;
      if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
      f.input.wait.add(this.p.wake);
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
    this.p.space.check(buf, len, true);
    this.p.space.forEachChunk(buf, len, true, (off, n) => {
      if (short) return;
      const got = this.host(() => fs.readSync(f.hostFd, this.bytes, off, n, usePos ? at : null));
      total += got;
      at += got;
      if (got < n) short = true;
    });
    if (pos < 0 && usePos) f.pos = at;
    return total;
  }

  private write(fd: number, buf: number, len: number, pos: number): SyscallResult {
    const f = this.file(fd);
    if (!f.writable) return -Errno.EBADF;
    if (len > MAX_RW) len = MAX_RW;
    if (len === 0) return 0;
    if (f instanceof PipeEnd) {
      if (pos >= 0) return -Errno.ESPIPE;
      const pipe = f.pipe;
      if (pipe.readers === 0) {
        this.k.sendSignal(this.p, SIGPIPE);
        return -Errno.EPIPE;
      }
      const room = Pipe.CAPACITY - pipe.length;
      // Writes up to PIPE_BUF are atomic: wait for room for all of it (pipe(7)).
      if (room === 0 || (len <= Pipe.ATOMIC && room < len)) {
        if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
        pipe.writeWait.add(this.p.wake);
        return BLOCK;
      }
      let put = 0;
      this.p.space.forEachChunk(buf, Math.min(len, room), false, (off, n) => {
        put += pipe.put(this.bytes, off, n);
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
    this.p.space.check(buf, len, false);
    this.p.space.forEachChunk(buf, len, false, (off, n) => {
      let done = 0;
      while (done < n) {
        let w: number;
        try {
          w = fs.writeSync(f.hostFd, this.bytes, off + done, n - done, usePos ? at : null);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "EAGAIN") continue; // host stdout is a non-blocking pipe: retry
          if (code === "EPIPE") {
            this.k.sendSignal(this.p, SIGPIPE);
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
      if (f.flags & O_APPEND) f.pos = Number(this.host(() => fs.fstatSync(f.hostFd)).size);
      else f.pos = at;
    }
    return total;
  }

  private iovecs(iov: number, cnt: number): [number, number][] {
    if (cnt < 0 || cnt > IOV_MAX) fail(Errno.EINVAL);
    const raw = this.p.space.read(iov, cnt * 16);
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

  private readv(fd: number, iov: number, cnt: number, pos: number): SyscallResult {
    const v = this.iovecs(iov, cnt);
    let total = 0;
    for (const [base, len] of v) {
      if (len === 0) continue;
      const r = this.read(fd, base, len, pos >= 0 ? pos + total : -1);
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

  private writev(fd: number, iov: number, cnt: number, pos: number): SyscallResult {
    const v = this.iovecs(iov, cnt);
    // A pipe write of several small pieces must stay atomic: gather them first.
    const f = this.file(fd);
    if (f instanceof PipeEnd) {
      const total = v.reduce((n, [, l]) => n + l, 0);
      if (total <= Pipe.ATOMIC) {
        const parts = v.map(([b, l]) => this.p.space.read(b, l));
        const all = Buffer.concat(parts);
        return this.writeBytes(f, all);
      }
    }
    let total = 0;
    for (const [base, len] of v) {
      if (len === 0) continue;
      const r = this.write(fd, base, len, pos >= 0 ? pos + total : -1);
      if (r === BLOCK) return total > 0 ? total : BLOCK;
      const n = Number(r);
      if (n < 0) return total > 0 ? total : n;
      total += n;
      if (n < len) break;
    }
    return total;
  }

  /** write() of host bytes to a pipe (writev's atomic path). */
  private writeBytes(f: PipeEnd, data: Uint8Array): SyscallResult {
    const pipe = f.pipe;
    if (pipe.readers === 0) {
      this.k.sendSignal(this.p, SIGPIPE);
      return -Errno.EPIPE;
    }
    if (Pipe.CAPACITY - pipe.length < data.length) {
      if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
      pipe.writeWait.add(this.p.wake);
      return BLOCK;
    }
    return pipe.put(data, 0, data.length);
  }

  private sendfile(outFd: number, inFd: number, offPtr: number, count: number): SyscallResult {
    const inF = this.file(inFd);
    const outF = this.file(outFd);
    if (!(inF instanceof HostFile) || !inF.seekable) return -Errno.EINVAL;
    if (!inF.readable || !outF.writable) return -Errno.EBADF;
    let pos = offPtr ? Number(this.p.space.readU64(offPtr)) : inF.pos;
    count = Math.min(count, 1 << 20);
    const buf = Buffer.allocUnsafe(count);
    const n = this.host(() => fs.readSync(inF.hostFd, buf, 0, count, pos));
    if (n === 0) return 0;
    let written: number;
    if (outF instanceof PipeEnd) {
      const r = this.writeBytesPartial(outF, buf.subarray(0, n));
      if (r === BLOCK) return BLOCK;
      written = Number(r);
      if (written < 0) return written;
    } else if (outF instanceof HostFile) {
      written = this.host(() => fs.writeSync(outF.hostFd, buf, 0, n, outF.seekable && !(outF.flags & O_APPEND) ? outF.pos : null));
      if (outF.seekable) outF.pos += written;
    } else return -Errno.EINVAL;
    pos += written;
    if (offPtr) this.p.space.writeU64(offPtr, BigInt(pos));
    else inF.pos = pos;
    return written;
  }

  private writeBytesPartial(f: PipeEnd, data: Uint8Array): SyscallResult {
    const pipe = f.pipe;
    if (pipe.readers === 0) {
      this.k.sendSignal(this.p, SIGPIPE);
      return -Errno.EPIPE;
    }
    if (pipe.length === Pipe.CAPACITY) {
      pipe.writeWait.add(this.p.wake);
      return BLOCK;
    }
    return pipe.put(data, 0, data.length);
  }

  private lseek(fd: number, off: number, whence: number): SyscallResult {
    const f = this.file(fd);
    if (whence < 0 || whence > 4) return -Errno.EINVAL;
    if (f instanceof MemFile) {
      const base = whence === 0 ? 0 : whence === 1 ? f.pos : whence === 2 ? f.data.length : -1;
      if (base < 0 || base + off < 0) return -Errno.EINVAL;
      f.pos = base + off;
      return f.pos;
    }
    if (f instanceof PipeEnd || f instanceof HostInputFile) return -Errno.ESPIPE;
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
    else if (whence === 2) base = Number(this.host(() => fs.fstatSync(f.hostFd)).size);
    else return -Errno.EINVAL; // SEEK_DATA/SEEK_HOLE not supported
    const n = base + off;
    if (n < 0) return -Errno.EINVAL;
    f.pos = n;
    return n;
  }

  private statOf(dirfd: number, path: string, flags: number): StatInfo {
    const p = this.p;
    if (path === "" ) {
      if ((flags & AT_EMPTY_PATH) === 0) fail(Errno.ENOENT);
      if (dirfd === AT_FDCWD) path = ".";
      const f = this.file(dirfd);
      if (f instanceof PipeEnd) return syntheticStat(S_IFIFO | 0o600, f.pipe.ino, this.k.uid, this.k.gid);
      if (f instanceof MemFile) return syntheticStat(S_IFREG | 0o444, 1, this.k.uid, this.k.gid);
      if (f instanceof HostInputFile) return statInfoOf(this.host(() => fs.fstatSync(0, { bigint: true })));
      if (f instanceof HostFile) return statInfoOf(this.host(() => fs.fstatSync(f.hostFd, { bigint: true })));
      else fail(Errno.EBADF);
    }
    const follow = (flags & AT_SYMLINK_NOFOLLOW) === 0;
    const r = this.resolveAt(dirfd, path, follow);
    // Under --root resolve() has followed every symlink already: the host must not follow another.
    const hostFollow = follow && this.k.gfs.root === undefined;
    return statInfoOf(this.host(() => (hostFollow ? fs.statSync(r.host, { bigint: true }) : fs.lstatSync(r.host, { bigint: true }))));
  }

  private fstatat(dirfd: number, path: string, buf: number, flags: number): SyscallResult {
    const s = this.statOf(dirfd, path, flags);
    this.p.space.write(buf, packStat(s));
    return 0;
  }

  private statx(dirfd: number, path: string, flags: number, buf: number): SyscallResult {
    const s = this.statOf(dirfd, path, flags);
    this.p.space.write(buf, packStatx(s));
    return 0;
  }

  private getdents64(fd: number, buf: number, len: number): SyscallResult {
    const f = this.file(fd);
    if (!(f instanceof HostFile)) return -Errno.ENOTDIR;
    if (!f.isDir) return -Errno.ENOTDIR;
    if (!f.dirents) {
      // Through the descriptor, not its path: the directory may have been renamed, or replaced by a
      // symlink, since it was opened. A removed directory has no entries left (ENOENT, as Linux's
      // IS_DEADDIR check in iterate_dir).
      const dir = `/proc/self/fd/${f.hostFd}`;
      if (this.host(() => fs.fstatSync(f.hostFd)).nlink === 0) return -Errno.ENOENT;
      const names = this.host(() => fs.readdirSync(dir));
      const typeOf = (m: number) => {
        switch (m & S_IFMT) {
          case S_IFDIR: return DT_DIR;
          case S_IFREG: return DT_REG;
          case S_IFLNK: return DT_LNK;
          case S_IFIFO: return DT_FIFO;
          case S_IFCHR: return DT_CHR;
          case 0o060000: return DT_BLK;
          case 0o140000: return DT_SOCK;
          default: return DT_UNKNOWN;
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
    if (used > 0) this.p.space.write(buf, Buffer.concat(out));
    return used;
  }

  private mkdirat(dirfd: number, path: string, mode: number): SyscallResult {
    const r = this.resolveAt(dirfd, path, false);
    this.host(() => fs.mkdirSync(r.host, { mode: mode & ~this.p.umask & 0o7777 }));
    return 0;
  }

  private mknodat(dirfd: number, path: string, mode: number): SyscallResult {
    const r = this.resolveAt(dirfd, path, false);
    if ((mode & S_IFMT) === S_IFREG || (mode & S_IFMT) === 0) {
      const fd = this.host(() => fs.openSync(r.host, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, mode & ~this.p.umask & 0o7777));
      fs.closeSync(fd);
      return 0;
    }
    return -Errno.EPERM; // device nodes and fifos cannot be created from here
  }

  private unlinkat(dirfd: number, path: string, flags: number): SyscallResult {
    const r = this.resolveAt(dirfd, path, false);
    if (flags & AT_REMOVEDIR) this.host(() => fs.rmdirSync(r.host));
    else {
      const st = this.host(() => fs.lstatSync(r.host));
      if (st.isDirectory()) return -Errno.EISDIR;
      this.host(() => fs.unlinkSync(r.host));
    }
    return 0;
  }

  private symlinkat(target: string, dirfd: number, path: string): SyscallResult {
    const r = this.resolveAt(dirfd, path, false);
    // The link text is stored as given: it is only ever followed through GuestFs, inside the root.
    this.host(() => fs.symlinkSync(target, r.host));
    return 0;
  }

  private linkat(olddir: number, oldpath: string, newdir: number, newpath: string, flags: number): SyscallResult {
    const a = this.resolveAt(olddir, oldpath, (flags & AT_SYMLINK_FOLLOW) !== 0);
    const b = this.resolveAt(newdir, newpath, false);
    this.host(() => fs.linkSync(a.host, b.host));
    return 0;
  }

  private renameat(olddir: number, oldpath: string, newdir: number, newpath: string, flags: number): SyscallResult {
    const RENAME_NOREPLACE = 1;
    if (flags & ~RENAME_NOREPLACE) return -Errno.EINVAL;
    const a = this.resolveAt(olddir, oldpath, false);
    const b = this.resolveAt(newdir, newpath, false);
    if (flags & RENAME_NOREPLACE && fs.lstatSync(b.host, { throwIfNoEntry: false }) !== undefined) return -Errno.EEXIST;
    this.host(() => fs.renameSync(a.host, b.host));
    return 0;
  }

  private readlinkat(dirfd: number, path: string, buf: number, size: number): SyscallResult {
    if (size <= 0) return -Errno.EINVAL;
    const p = this.p;
    let text: string;
    if (path === "/proc/self/exe" || path === `/proc/${p.pid}/exe`) text = p.exe;
    else {
      const m = /^\/proc\/(?:self|\d+)\/fd\/(\d+)$/.exec(path);
      if (m) {
        const f = p.fds.get(Number(m[1]))?.file;
        if (!f) return -Errno.ENOENT;
        text = f instanceof HostFile ? f.guestPath : f instanceof PipeEnd ? `pipe:[${f.pipe.ino}]` : "/dev/stdin";
      } else {
        const r = this.resolveAt(dirfd, path, false);
        text = this.host(() => fs.readlinkSync(r.host));
      }
    }
    const b = enc.encode(text).subarray(0, size);
    p.space.write(buf, b);
    return b.length;
  }

  private faccessat(dirfd: number, path: string, mode: number, flags: number): SyscallResult {
    if (mode & ~7) return -Errno.EINVAL;
    const r = this.resolveAt(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) === 0);
    this.host(() => this.k.gfs.pinned(r.host, (h) => fs.accessSync(h, mode)));
    return 0;
  }

  private fchmod(fd: number, mode: number): SyscallResult {
    const f = this.file(fd);
    if (!(f instanceof HostFile)) return -Errno.EBADF;
    this.host(() => fs.fchmodSync(f.hostFd, mode & 0o7777));
    return 0;
  }

  private fchmodat(dirfd: number, path: string, mode: number, flags: number): SyscallResult {
    if (flags & AT_SYMLINK_NOFOLLOW) return -Errno.EOPNOTSUPP;
    const r = this.resolveAt(dirfd, path, true);
    this.host(() => this.k.gfs.pinned(r.host, (h) => fs.chmodSync(h, mode & 0o7777)));
    return 0;
  }

  private fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): SyscallResult {
    if (path === "" && flags & AT_EMPTY_PATH) return this.fchown(dirfd, uid, gid);
    const follow = (flags & AT_SYMLINK_NOFOLLOW) === 0;
    const r = this.resolveAt(dirfd, path, follow);
    const st = this.host(() => fs.lstatSync(r.host));
    const u = uid === -1 ? st.uid : uid;
    const g = gid === -1 ? st.gid : gid;
    this.host(() => (follow ? this.k.gfs.pinned(r.host, (h) => fs.chownSync(h, u, g)) : fs.lchownSync(r.host, u, g)));
    return 0;
  }

  private fchown(fd: number, uid: number, gid: number): SyscallResult {
    const f = this.file(fd);
    if (!(f instanceof HostFile)) return -Errno.EBADF;
    const st = this.host(() => fs.fstatSync(f.hostFd));
    this.host(() => fs.fchownSync(f.hostFd, uid === -1 ? st.uid : uid, gid === -1 ? st.gid : gid));
    return 0;
  }

  private utimensat(dirfd: number, pathPtr: number, times: number, flags: number): SyscallResult {
    const UTIME_NOW = (1 << 30) - 1;
    const UTIME_OMIT = (1 << 30) - 2;
    let target: { fd?: number; path?: string; follow: boolean };
    if (pathPtr === 0) {
      const f = this.file(dirfd);
      if (!(f instanceof HostFile)) return -Errno.EBADF;
      target = { fd: f.hostFd, follow: true };
    } else {
      const path = this.p.space.readCString(pathPtr);
      const follow = (flags & AT_SYMLINK_NOFOLLOW) === 0;
      target = { path: this.resolveAt(dirfd, path, follow).host, follow };
    }
    const st = this.host(() => (target.fd !== undefined ? fs.fstatSync(target.fd) : fs.lstatSync(target.path!)));
    const now = Date.now() / 1000;
    let at = now;
    let mt = now;
    if (times !== 0) {
      const b = new DataView(this.p.space.read(times, 32).buffer);
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
    this.host(() => {
      if (target.fd !== undefined) fs.futimesSync(target.fd, at, mt);
      else if (target.follow) this.k.gfs.pinned(target.path!, (h) => fs.utimesSync(h, at, mt));
      else fs.lutimesSync(target.path!, at, mt);
    });
    return 0;
  }

  private truncate(path: string, len: number): SyscallResult {
    if (len < 0) return -Errno.EINVAL;
    const r = this.resolveAt(AT_FDCWD, path, true);
    this.host(() => this.k.gfs.pinned(r.host, (h) => fs.truncateSync(h, len)));
    return 0;
  }

  private ftruncate(fd: number, len: number): SyscallResult {
    if (len < 0) return -Errno.EINVAL;
    const f = this.file(fd);
    if (!(f instanceof HostFile) || !f.seekable) return -Errno.EINVAL;
    if (!f.writable) return -Errno.EINVAL;
    this.host(() => fs.ftruncateSync(f.hostFd, len));
    return 0;
  }

  private fsync(fd: number): SyscallResult {
    const f = this.file(fd);
    if (f instanceof HostFile && f.seekable) this.host(() => fs.fsyncSync(f.hostFd));
    return 0;
  }

  private packStatfs(s: fs.BigIntStatsFs, buf: number): SyscallResult {
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
    this.p.space.write(buf, b);
    return 0;
  }

  private statfs(path: string, buf: number): SyscallResult {
    const host = this.resolveAt(AT_FDCWD, path, true).host;
    return this.packStatfs(this.host(() => this.k.gfs.pinned(host, (h) => fs.statfsSync(h, { bigint: true }))), buf);
  }

  private fstatfs(fd: number, buf: number): SyscallResult {
    const f = this.file(fd);
    if (!(f instanceof HostFile)) return -Errno.EINVAL;
    const s = this.host(() => fs.statfsSync(`/proc/self/fd/${f.hostFd}`, { bigint: true }));
    return this.packStatfs(s, buf);
  }

  private getcwd(buf: number, size: number): SyscallResult {
    const b = enc.encode(this.p.cwd + "\0");
    if (size < b.length) return -Errno.ERANGE;
    this.p.space.write(buf, b);
    return b.length;
  }

  private chdir(path: string): SyscallResult {
    const r = this.resolveAt(AT_FDCWD, path, true);
    const st = this.host(() => this.k.gfs.pinned(r.host, (h) => fs.statSync(h)));
    if (!st.isDirectory()) return -Errno.ENOTDIR;
    this.host(() => this.k.gfs.pinned(r.host, (h) => fs.accessSync(h, fs.constants.X_OK)));
    this.p.cwd = r.guest;
    return 0;
  }

  private fchdir(fd: number): SyscallResult {
    const f = this.file(fd);
    if (!(f instanceof HostFile) || !f.isDir) return -Errno.ENOTDIR;
    this.p.cwd = f.guestPath;
    return 0;
  }

  // ---- descriptors -----------------------------------------------------------------------------

  private dup(fd: number): SyscallResult {
    const f = this.file(fd);
    const n = this.p.fds.lowestFree();
    if (n < 0) return -Errno.EMFILE;
    f.refs++;
    this.p.fds.install(n, f, false);
    return n;
  }

  private dup3(oldfd: number, newfd: number, flags: number): SyscallResult {
    if (flags & ~O_CLOEXEC) return -Errno.EINVAL;
    const f = this.file(oldfd);
    if (oldfd === newfd) return -Errno.EINVAL;
    if (newfd < 0 || newfd >= MAX_FDS) return -Errno.EBADF;
    f.refs++;
    this.p.fds.install(newfd, f, (flags & O_CLOEXEC) !== 0);
    return newfd;
  }

  private fcntl(fd: number, cmd: number, arg: number): SyscallResult {
    const e = this.p.fds.get(fd);
    if (!e) return -Errno.EBADF;
    switch (cmd) {
      case F_DUPFD:
      case F_DUPFD_CLOEXEC: {
        if (arg >= MAX_FDS) return -Errno.EINVAL;
        const n = this.p.fds.lowestFree(arg);
        if (n < 0) return -Errno.EMFILE;
        e.file.refs++;
        this.p.fds.install(n, e.file, cmd === F_DUPFD_CLOEXEC);
        return n;
      }
      case F_GETFD: return e.cloexec ? FD_CLOEXEC : 0;
      case F_SETFD: e.cloexec = (arg & FD_CLOEXEC) !== 0; return 0;
      case F_GETFL: return e.file.flags & ~O_CLOEXEC;
      case F_SETFL: {
        const changeable = O_APPEND | O_NONBLOCK | 0o40000 /* O_DIRECT */ | 0o1000000 /* O_NOATIME */;
        e.file.flags = (e.file.flags & ~changeable) | (arg & changeable);
        return 0;
      }
      case F_GETLK: {
        // struct flock: l_type (short) first; report "no conflicting lock" (F_UNLCK = 2).
        this.p.space.write(arg, new Uint8Array([2, 0]));
        return 0;
      }
      case F_SETLK: case F_SETLKW: return 0; // advisory locks: one guest "machine", nothing to conflict with
      case F_GETPIPE_SZ: return e.file instanceof PipeEnd ? Pipe.CAPACITY : -Errno.EBADF;
      case F_SETPIPE_SZ: return e.file instanceof PipeEnd ? Pipe.CAPACITY : -Errno.EBADF;
      default: return -Errno.EINVAL;
    }
  }

  private isTty(f: OpenFile): number {
    if (f instanceof HostInputFile) return tty.isatty(f.input.hostFd) ? f.input.hostFd : -1;
    if (f instanceof HostFile && !f.seekable && !f.isDir) return tty.isatty(f.hostFd) ? f.hostFd : -1;
    return -1;
  }

  private ioctl(fd: number, req: number, arg: number): SyscallResult {
    const f = this.file(fd);
    switch (req) {
      case FIOCLEX: this.p.fds.get(fd)!.cloexec = true; return 0;
      case FIONCLEX: this.p.fds.get(fd)!.cloexec = false; return 0;
      case FIONBIO: {
        const on = this.p.space.readU32(arg) !== 0;
        f.flags = on ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
        return 0;
      }
      case FIONREAD: {
        let n = 0;
        if (f instanceof PipeEnd) n = f.pipe.length;
        else if (f instanceof HostFile && f.seekable) n = Math.max(0, Number(this.host(() => fs.fstatSync(f.hostFd)).size) - f.pos);
        this.p.space.writeU32(arg, n);
        return 0;
      }
    }
    const hostTty = this.isTty(f);
    if (hostTty < 0) return -Errno.ENOTTY;
    switch (req) {
      case TCGETS: {
        // struct termios (asm-generic/termbits.h): c_iflag, c_oflag, c_cflag, c_lflag (u32), c_line,
        // c_cc[19]: what the guest last set, initially a cooked terminal (ICRNL IXON | OPOST ONLCR |
        // B38400 CS8 CREAD | ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN).
        this.p.space.write(arg, this.k.termios);
        return 0;
      }
      case TCSETS: case TCSETSW: case TCSETSF: {
        const t = this.p.space.read(arg, 36);
        this.k.termios.set(t);
        // Apply the one setting that matters to the host terminal: canonical mode with echo, or raw
        // (ICANON off), so a guest line editor (busybox ash, bash readline) sees keys as typed.
        const lflag = new DataView(t.buffer).getUint32(12, true);
        const ICANON = 0o2;
        if (process.stdin.isTTY) process.stdin.setRawMode((lflag & ICANON) === 0);
        return 0;
      }
      case TIOCGWINSZ: {
        const ws = process.stdout.isTTY ? process.stdout : process.stderr.isTTY ? process.stderr : undefined;
        const b = new Uint8Array(8);
        const d = new DataView(b.buffer);
        d.setUint16(0, ws?.rows ?? 24, true);
        d.setUint16(2, ws?.columns ?? 80, true);
        this.p.space.write(arg, b);
        return 0;
      }
      case TIOCSWINSZ: return 0;
      case TIOCGPGRP: this.p.space.writeU32(arg, this.p.pgid); return 0;
      case TIOCSPGRP: return 0;
      case TIOCSCTTY: return 0;
      default: return -Errno.ENOTTY;
    }
  }

  private pipe2(fdsPtr: number, flags: number): SyscallResult {
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | 0o40000)) return -Errno.EINVAL;
    const p = this.p;
    const r = p.fds.lowestFree();
    if (r < 0) return -Errno.EMFILE;
    const pipe = new Pipe();
    const re = new PipeEnd(0 | (flags & O_NONBLOCK), pipe, false);
    p.fds.install(r, re, (flags & O_CLOEXEC) !== 0);
    const w = p.fds.lowestFree();
    if (w < 0) {
      p.fds.close(r);
      return -Errno.EMFILE;
    }
    const we = new PipeEnd(O_WRONLY | (flags & O_NONBLOCK), pipe, true);
    p.fds.install(w, we, (flags & O_CLOEXEC) !== 0);
    try {
      p.space.write(fdsPtr, new Uint8Array(new Int32Array([r, w]).buffer));
    } catch (e) {
      p.fds.close(r);
      p.fds.close(w);
      throw e;
    }
    return 0;
  }

  /** Readiness of fd for poll: [readable, writable, hup]; undefined for a bad descriptor. */
  private readiness(fd: number): [boolean, boolean, boolean] | undefined {
    const e = this.p.fds.get(fd);
    if (!e) return undefined;
    const f = e.file;
    if (f instanceof PipeEnd) {
      if (f.isWrite) return [false, f.pipe.readers > 0 && f.pipe.length < Pipe.CAPACITY, f.pipe.readers === 0];
      return [f.pipe.length > 0, false, f.pipe.writers === 0];
    }
    if (f instanceof HostInputFile) {
      if (!f.input.ready) f.input.start();
      return [f.input.ready, false, false];
    }
    return [true, true, false];
  }

  private ppoll(fdsPtr: number, nfds: number, tsPtr: number): SyscallResult {
    if (nfds > MAX_FDS) return -Errno.EINVAL;
    const raw = this.p.space.read(fdsPtr, nfds * 8);
    const d = new DataView(raw.buffer);
    const POLLIN = 1, POLLOUT = 4, POLLHUP = 16, POLLNVAL = 32;
    let ready = 0;
    for (let i = 0; i < nfds; i++) {
      const fd = d.getInt32(i * 8, true);
      const events = d.getInt16(i * 8 + 4, true);
      let rev = 0;
      if (fd >= 0) {
        const r = this.readiness(fd);
        if (!r) rev = POLLNVAL;
        else {
          if (r[0] && events & POLLIN) rev |= POLLIN;
          if (r[1] && events & POLLOUT) rev |= POLLOUT;
          if (r[2]) rev |= POLLHUP;
        }
      }
      d.setInt16(i * 8 + 6, rev, true);
      if (rev) ready++;
    }
    if (ready === 0) {
      const timeout = tsPtr ? this.readTimespecMs(tsPtr) : -1;
      if (timeout >= 0 && this.sleepFor(this.p.sleepUntil >= 0 ? 0 : timeout) !== BLOCK) {
        this.p.space.write(fdsPtr, raw);
        return 0; // timed out
      }
      {
        // Sleep until something changes: wake on any pipe/input activity of these descriptors.
        for (let i = 0; i < nfds; i++) {
          const f = this.p.fds.get(d.getInt32(i * 8, true))?.file;
          if (f instanceof PipeEnd) (f.isWrite ? f.pipe.writeWait : f.pipe.readWait).add(this.p.wake);
          if (f instanceof HostInputFile) f.input.wait.add(this.p.wake);
        }
        return BLOCK;
      }
    }
    this.p.sleepUntil = -1;
    if (this.p.sleepTimer) clearTimeout(this.p.sleepTimer);
    this.p.space.write(fdsPtr, raw);
    return ready;
  }

  private pselect6(): SyscallResult {
    const nfds = this.int(0);
    const sets = [this.ulong(1), this.ulong(2), this.ulong(3)];
    if (nfds < 0 || nfds > MAX_FDS) return -Errno.EINVAL;
    const bytes = Math.ceil(nfds / 64) * 8;
    const inSets = sets.map((s) => (s ? this.p.space.read(s, bytes) : undefined));
    const outSets = sets.map(() => new Uint8Array(bytes));
    let ready = 0;
    for (let fd = 0; fd < nfds; fd++) {
      for (let k = 0; k < 3; k++) {
        const s = inSets[k];
        if (!s || (s[fd >> 3]! & (1 << (fd & 7))) === 0) continue;
        const r = this.readiness(fd);
        if (!r) return -Errno.EBADF;
        const ok = k === 0 ? r[0] || r[2] : k === 1 ? r[1] : false;
        if (ok) {
          outSets[k]![fd >> 3]! |= 1 << (fd & 7);
          ready++;
        }
      }
    }
    const ts = this.ulong(4);
    if (ready === 0) {
      const timeout = ts ? this.readTimespecMs(ts) : -1;
      if (timeout >= 0 && this.sleepFor(this.p.sleepUntil >= 0 ? 0 : timeout) !== BLOCK) {
        for (let k = 0; k < 3; k++) if (sets[k]) this.p.space.write(sets[k]!, outSets[k]!);
        return 0; // timed out
      }
      {
        for (let fd = 0; fd < nfds; fd++) {
          const f = this.p.fds.get(fd)?.file;
          if (f instanceof PipeEnd) (f.isWrite ? f.pipe.writeWait : f.pipe.readWait).add(this.p.wake);
          if (f instanceof HostInputFile) f.input.wait.add(this.p.wake);
        }
        return BLOCK;
      }
    }
    this.p.sleepUntil = -1;
    if (this.p.sleepTimer) clearTimeout(this.p.sleepTimer);
    for (let k = 0; k < 3; k++) if (sets[k]) this.p.space.write(sets[k]!, outSets[k]!);
    return ready;
  }

  // ---- memory ----------------------------------------------------------------------------------

  private mmap(addr: number, len: number, prot: number, flags: number, fd: number, off: number): SyscallResult {
    const space = this.p.space;
    if (len === 0) return -Errno.EINVAL;
    if (off < 0 || off % PAGE_SIZE !== 0) return -Errno.EINVAL;
    if (len > TASK_SIZE) return -Errno.ENOMEM;
    const type = flags & 3;
    if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== 3) return -Errno.EINVAL;
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return -Errno.EINVAL;
    const size = pageUp(len);
    // Linux's overcommit heuristic (OVERCOMMIT_GUESS, mm/util.c __vm_enough_memory): a private
    // writable mapping larger than all of memory can never be backed, so it fails now with ENOMEM.
    if (type === MAP_PRIVATE && prot & PROT_WRITE && size / PAGE_SIZE > this.k.frames.total) return -Errno.ENOMEM;
    let data: Uint8Array | undefined;
    let name = "";
    if ((flags & MAP_ANONYMOUS) === 0) {
      const f = this.file(fd);
      if (!(f instanceof HostFile)) return -Errno.ENODEV;
      if (!f.readable) return -Errno.EACCES;
      if (type === MAP_SHARED && prot & PROT_WRITE && !f.writable) return -Errno.EACCES;
      if (f.isDir) return -Errno.ENODEV;
      // File mappings are private copies of the file, read now (MAP_SHARED writes are not written back).
      const fileSize = Number(this.host(() => fs.fstatSync(f.hostFd)).size);
      const n = Math.max(0, Math.min(len, fileSize - off));
      data = Buffer.alloc(n);
      if (n > 0) this.host(() => fs.readSync(f.hostFd, data!, 0, n, off));
      name = f.guestPath;
    }
    let at: number;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
      if (addr % PAGE_SIZE !== 0) return -Errno.EINVAL;
      if (addr + size > TASK_SIZE || addr < PAGE_SIZE) return -Errno.ENOMEM;
      if (flags & MAP_FIXED_NOREPLACE && !(flags & MAP_FIXED) && !space.isFree(addr, addr + size)) return -Errno.EEXIST;
      at = addr;
    } else if (addr !== 0 && addr % PAGE_SIZE === 0 && addr + size <= MMAP_BASE && addr >= 0x10000 && space.isFree(addr, addr + size)) {
      at = addr; // the hint is free: take it, as Linux does
    } else {
      at = space.findFree(size);
      if (at < 0) return -Errno.ENOMEM;
    }
    space.map(at, size, prot, name, data);
    return at;
  }

  private munmap(addr: number, len: number): SyscallResult {
    if (addr % PAGE_SIZE !== 0 || len === 0 || addr + len > TASK_SIZE) return -Errno.EINVAL;
    this.p.space.unmap(addr, pageUp(len));
    return 0;
  }

  private mprotect(addr: number, len: number, prot: number): SyscallResult {
    if (addr % PAGE_SIZE !== 0) return -Errno.EINVAL;
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | 0x01000000 | 0x02000000)) return -Errno.EINVAL;
    if (len === 0) return 0;
    if (addr + len > TASK_SIZE) return -Errno.ENOMEM;
    this.p.space.protect(addr, pageUp(len), prot & 7);
    return 0;
  }

  private mremap(old: number, oldLen: number, newLen: number, flags: number): SyscallResult {
    if (old % PAGE_SIZE !== 0 || newLen === 0) return -Errno.EINVAL;
    if (flags & MREMAP_FIXED) return -Errno.EINVAL;
    if (newLen > TASK_SIZE) return -Errno.ENOMEM;
    return this.p.space.remap(old, pageUp(oldLen), pageUp(newLen), (flags & MREMAP_MAYMOVE) !== 0);
  }

  // ---- time ------------------------------------------------------------------------------------

  private nowNs(clock: number): bigint {
    switch (clock) {
      case 0: case 5: case 8: case 11: // REALTIME, REALTIME_COARSE, REALTIME_ALARM, TAI
        return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
      case 1: case 4: case 6: case 7: case 9: // MONOTONIC, _RAW, _COARSE, BOOTTIME, BOOTTIME_ALARM
        return process.hrtime.bigint();
      case 2: case 3: { // PROCESS_CPUTIME_ID, THREAD_CPUTIME_ID: the host CPU time of the emulation
        const u = process.cpuUsage();
        return BigInt(u.user + u.system) * 1000n;
      }
      default:
        fail(Errno.EINVAL);
    }
  }

  private writeTimespec(ptr: number, ns: bigint): void {
    const b = new Uint8Array(16);
    const d = new DataView(b.buffer);
    d.setBigInt64(0, ns / 1_000_000_000n, true);
    d.setBigInt64(8, ns % 1_000_000_000n, true);
    this.p.space.write(ptr, b);
  }

  private readTimespecMs(ptr: number): number {
    const d = new DataView(this.p.space.read(ptr, 16).buffer);
    const s = d.getBigInt64(0, true);
    const ns = d.getBigInt64(8, true);
    if (s < 0n || ns < 0n || ns > 999_999_999n) fail(Errno.EINVAL);
    return Number(s) * 1000 + Number(ns) / 1e6;
  }

  private clockGettime(clock: number, ptr: number): SyscallResult {
    this.writeTimespec(ptr, this.nowNs(clock));
    return 0;
  }

  private clockGetres(ptr: number): SyscallResult {
    if (ptr) this.writeTimespec(ptr, 1n);
    return 0;
  }

  private gettimeofday(ptr: number): SyscallResult {
    if (!ptr) return 0;
    const us = this.nowNs(0) / 1000n;
    const b = new Uint8Array(16);
    const d = new DataView(b.buffer);
    d.setBigInt64(0, us / 1_000_000n, true);
    d.setBigInt64(8, us % 1_000_000n, true);
    this.p.space.write(ptr, b);
    return 0;
  }

  /** Sleeps for the duration at req (relative) or until an absolute time; retried on wake. */
  private sleepFor(ms: number): SyscallResult {
    const p = this.p;
    const now = performance.now();
    if (p.sleepUntil < 0) p.sleepUntil = now + ms;
    if (now >= p.sleepUntil) {
      p.sleepUntil = -1;
      return 0;
    }
    if (p.sleepTimer) clearTimeout(p.sleepTimer);
    p.sleepTimer = setTimeout(() => {
      p.sleepTimer = undefined;
      p.wake();
    }, Math.max(0, p.sleepUntil - now));
    return BLOCK;
  }

  private nanosleep(req: number, _rem: number, _abs: boolean): SyscallResult {
    const ms = this.p.sleepUntil >= 0 ? 0 : this.readTimespecMs(req);
    const r = this.sleepFor(ms);
    return r;
  }

  private clockNanosleep(clock: number, flags: number, req: number): SyscallResult {
    const TIMER_ABSTIME = 1;
    if (this.p.sleepUntil >= 0) return this.sleepFor(0);
    let ms = this.readTimespecMs(req);
    if (flags & TIMER_ABSTIME) ms -= Number(this.nowNs(clock) / 1_000_000n);
    return this.sleepFor(Math.max(0, ms));
  }

  private times(buf: number): SyscallResult {
    const u = process.cpuUsage();
    const ticks = (us: number) => BigInt(Math.floor(us / 10000));
    if (buf) {
      const b = new Uint8Array(32);
      const d = new DataView(b.buffer);
      d.setBigInt64(0, ticks(u.user), true);
      d.setBigInt64(8, ticks(u.system), true);
      this.p.space.write(buf, b);
    }
    return Math.floor(performance.now() / 10);
  }

  private itimer(_nr: number): SyscallResult {
    return 0; // timers that never fire: enough for programs that only arm/disarm them
  }

  // ---- identity --------------------------------------------------------------------------------

  private getres(id: number): SyscallResult {
    for (let i = 0; i < 3; i++) {
      const ptr = this.ulong(i);
      if (ptr) this.p.space.writeU32(ptr, id);
    }
    return 0;
  }

  private uname(buf: number): SyscallResult {
    // struct new_utsname: six 65-byte fields.
    const b = new Uint8Array(65 * 6);
    const fields = ["Linux", os.hostname(), "6.12.0-typevisor", "#1 SMP PREEMPT Typevisor", "riscv64", "(none)"];
    fields.forEach((s, i) => b.set(enc.encode(s).subarray(0, 64), i * 65));
    this.p.space.write(buf, b);
    return 0;
  }

  private sysinfo(buf: number): SyscallResult {
    // struct sysinfo (64-bit): uptime, loads[3], totalram, freeram, sharedram, bufferram,
    // totalswap, freeswap (all long), procs (u16), pad, totalhigh, freehigh, mem_unit (u32).
    const b = new Uint8Array(112);
    const d = new DataView(b.buffer);
    const fr = this.k.frames;
    d.setBigInt64(0, BigInt(Math.floor((performance.now() - this.k.bootMs) / 1000)), true);
    d.setBigUint64(32, BigInt(fr.total * PAGE_SIZE), true);
    d.setBigUint64(40, BigInt((fr.total - fr.inUse) * PAGE_SIZE), true);
    d.setUint16(80, this.k.procs.size, true);
    d.setUint32(104, 1, true);
    this.p.space.write(buf, b);
    return 0;
  }

  private getrandom(buf: number, len: number): SyscallResult {
    if (len > 33554431) len = 33554431;
    this.p.space.forEachChunk(buf, len, true, (off, n) => crypto.randomFillSync(this.bytes, off, n));
    return len;
  }

  private prlimit(pid: number, res: number, newPtr: number, oldPtr: number): SyscallResult {
    if (pid !== 0 && pid !== this.p.pid && !this.k.procs.has(pid)) return -Errno.ESRCH;
    if (res < 0 || res >= 16) return -Errno.EINVAL;
    void newPtr;
    if (oldPtr) {
      let cur = RLIM_INFINITY;
      let max = RLIM_INFINITY;
      if (res === 3) cur = 8n << 20n; // RLIMIT_STACK
      if (res === 7) { cur = BigInt(MAX_FDS); max = BigInt(MAX_FDS); } // RLIMIT_NOFILE
      if (res === 4) cur = max = 0n; // RLIMIT_CORE
      if (res === 6) cur = max = BigInt(this.k.maxProcs); // RLIMIT_NPROC (--max-procs)
      const b = new Uint8Array(16);
      const d = new DataView(b.buffer);
      d.setBigUint64(0, cur, true);
      d.setBigUint64(8, max, true);
      this.p.space.write(oldPtr, b);
    }
    return 0;
  }

  private getrusage(_who: number, buf: number): SyscallResult {
    const b = new Uint8Array(144);
    const d = new DataView(b.buffer);
    const u = process.cpuUsage();
    d.setBigInt64(0, BigInt(Math.floor(u.user / 1e6)), true);
    d.setBigInt64(8, BigInt(u.user % 1e6), true);
    d.setBigInt64(16, BigInt(Math.floor(u.system / 1e6)), true);
    d.setBigInt64(24, BigInt(u.system % 1e6), true);
    d.setBigInt64(32, BigInt(this.p.space.residentPages() * 4), true); // ru_maxrss in KiB
    this.p.space.write(buf, b);
    return 0;
  }

  private prctl(op: number, arg: number): SyscallResult {
    const PR_SET_NAME = 15, PR_GET_NAME = 16;
    if (op === PR_SET_NAME) {
      this.p.comm = this.p.space.readCString(arg, 16).slice(0, 15);
      return 0;
    }
    if (op === PR_GET_NAME) {
      const b = new Uint8Array(16);
      b.set(enc.encode(this.p.comm).subarray(0, 15));
      this.p.space.write(arg, b);
      return 0;
    }
    return -Errno.EINVAL;
  }

  private getpgid(pid: number): SyscallResult {
    const t = pid === 0 ? this.p : this.k.procs.get(pid);
    if (!t || t.state === ProcState.Zombie && t !== this.p) return -Errno.ESRCH;
    return t.pgid;
  }

  private setpgid(pid: number, pgid: number): SyscallResult {
    const t = pid === 0 ? this.p : this.k.procs.get(pid);
    if (!t) return -Errno.ESRCH;
    if (t !== this.p && t.parent !== this.p) return -Errno.ESRCH;
    if (pgid < 0) return -Errno.EINVAL;
    t.pgid = pgid === 0 ? t.pid : pgid;
    return 0;
  }

  private schedGetaffinity(len: number, mask: number): SyscallResult {
    if (len < 8) return -Errno.EINVAL;
    this.p.space.write(mask, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
    return 8;
  }

  // ---- signals ---------------------------------------------------------------------------------

  private rtSigaction(sig: number, act: number, oldact: number, sigsetsize: number): SyscallResult {
    if (sigsetsize !== 8) return -Errno.EINVAL;
    if (sig < 1 || sig > NSIG) return -Errno.EINVAL;
    const a = this.p.actions[sig]!;
    // struct sigaction (riscv64 kernel ABI): sa_handler, sa_flags, (no sa_restorer), sa_mask.
    if (oldact) {
      const b = new Uint8Array(24);
      const d = new DataView(b.buffer);
      d.setBigUint64(0, a.handler, true);
      d.setBigUint64(8, a.flags, true);
      d.setBigUint64(16, a.mask, true);
      this.p.space.write(oldact, b);
    }
    if (act) {
      if (sig === SIGKILL || sig === SIGSTOP) return -Errno.EINVAL;
      const d = new DataView(this.p.space.read(act, 24).buffer);
      a.handler = d.getBigUint64(0, true);
      a.flags = d.getBigUint64(8, true);
      a.mask = d.getBigUint64(16, true) & ~UNBLOCKABLE;
      if (a.handler === 1n || (a.handler === SIG_DFL && (sig === 17 || sig === 23 || sig === 28))) {
        this.p.pending &= ~sigBit(sig); // ignoring a pending signal discards it
      }
    }
    return 0;
  }

  private rtSigprocmask(how: number, set: number, oldset: number, size: number): SyscallResult {
    if (size !== 8) return -Errno.EINVAL;
    const p = this.p;
    const old = p.sigmask;
    if (set) {
      const s = p.space.readU64(set) & ~UNBLOCKABLE;
      if (how === 0) p.sigmask |= s;
      else if (how === 1) p.sigmask &= ~s;
      else if (how === 2) p.sigmask = s;
      else return -Errno.EINVAL;
    }
    if (oldset) p.space.writeU64(oldset, old);
    return 0;
  }

  private rtSigpending(set: number): SyscallResult {
    this.p.space.writeU64(set, this.p.pending & this.p.sigmask);
    return 0;
  }

  private rtSigsuspend(maskPtr: number): SyscallResult {
    const p = this.p;
    if (p.savedMask === undefined) {
      p.savedMask = p.sigmask;
      p.sigmask = p.space.readU64(maskPtr) & ~UNBLOCKABLE;
    }
    // Returns -EINTR once a signal is delivered (the kernel's retry path turns BLOCK into EINTR).
    if ((p.pending & ~p.sigmask) !== 0n) return -Errno.EINTR;
    return BLOCK;
  }

  private kill(pid: number, sig: number): SyscallResult {
    if (sig < 0 || sig > NSIG) return -Errno.EINVAL;
    const targets: Process[] = [];
    for (const q of this.k.procs.values()) {
      if (q.state === ProcState.Zombie) continue;
      if (pid > 0 ? q.pid === pid : pid === 0 ? q.pgid === this.p.pgid : pid === -1 ? q !== this.p : q.pgid === -pid) targets.push(q);
    }
    if (targets.length === 0) return -Errno.ESRCH;
    for (const q of targets) this.k.sendSignal(q, sig);
    return 0;
  }

  // ---- processes -------------------------------------------------------------------------------

  private clone(flags: number, stack: number, ptid: number, tls: number, ctid: number): SyscallResult {
    const k = this.k;
    const p = this.p;
    if (flags & CLONE_THREAD || ((flags & CLONE_VM) && !(flags & CLONE_VFORK))) {
      return -Errno.ENOSYS; // threads are not supported (one hart context per process)
    }
    // RLIMIT_NPROC (fork(2): EAGAIN). Zombies count until they are reaped, as on Linux.
    if (k.procs.size >= k.maxProcs) return -Errno.EAGAIN;
    k.syncOut(p);
    // vfork (CLONE_VM | CLONE_VFORK) really shares the parent's address space: the parent sleeps
    // until the child calls execve or exits, so one space is never run by two processes at once.
    // posix_spawn relies on it (the child reports an exec failure through shared memory).
    const shareVm = (flags & CLONE_VM) !== 0 && (flags & CLONE_VFORK) !== 0;
    const child = k.newProcess(shareVm ? p.space : p.space.fork(), p.fds.clone(), p);
    child.borrowedSpace = shareVm;
    child.cwd = p.cwd;
    child.umask = p.umask;
    child.exe = p.exe;
    child.comm = p.comm;
    child.x.set(p.x);
    child.f.set(p.f);
    child.fcsr = p.fcsr;
    child.pc = p.pc + 4n;
    child.x[10] = 0n;
    if (stack) child.x[2] = BigInt(stack);
    if (flags & CLONE_SETTLS) child.x[4] = BigInt(tls);
    for (let i = 0; i < p.actions.length; i++) child.actions[i] = { ...p.actions[i]! };
    child.sigmask = p.sigmask;
    if (flags & CLONE_PARENT_SETTID && ptid) p.space.writeU32(ptid, child.pid);
    if (flags & CLONE_CHILD_SETTID && ctid) child.space.writeU32(ctid, child.pid);
    if (flags & CLONE_CHILD_CLEARTID) child.clearChildTid = ctid;
    if (p.space.tlbStale) {
      k.cpu.flushTlb();
      p.space.tlbStale = false;
    }
    if (flags & CLONE_VFORK) {
      p.vforkChild = child;
      child.vforkParent = p;
    }
    k.runQueue.push(child);
    return child.pid;
  }

  private readStringArray(ptr: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (ptr === 0) return out;
    let total = 0;
    for (let i = 0; ; i++) {
      if (i > 65536) fail(Errno.E2BIG);
      const s = Number(this.p.space.readU64(ptr + i * 8));
      if (s === 0) break;
      const b = this.p.space.readCBytes(s);
      total += b.length + 1;
      if (total > 2 << 20) fail(Errno.E2BIG);
      out.push(b);
    }
    return out;
  }

  private execve(path: string, argvPtr: number, envpPtr: number): SyscallResult {
    const k = this.k;
    const p = this.p;
    const argv = this.readStringArray(argvPtr);
    const envp = this.readStringArray(envpPtr);
    // busybox re-executes itself through /proc/self/exe; there is no /proc under --root.
    if (path === "/proc/self/exe" || path === `/proc/${p.pid}/exe`) path = p.exe;
    const img = k.loadInto(path, argv, envp, p.cwd);
    // Point of no return: the old image goes away (flush_old_exec).
    const old = p.space;
    k.setImage(p, img);
    if (!p.borrowedSpace) old.destroy();
    p.borrowedSpace = false;
    p.fds.closeOnExec();
    for (const a of p.actions) {
      if (a.handler !== 1n) a.handler = SIG_DFL; // caught signals are reset; ignored ones stay ignored
      a.flags = 0n;
      a.mask = 0n;
    }
    p.clearChildTid = 0;
    k.releaseVforkParent(p);
    k.contextReplaced = true;
    return 0;
  }

  private wait4(pid: number, statusPtr: number, options: number, rusage: number): SyscallResult {
    const p = this.p;
    const match = (c: Process) => pid === -1 || (pid > 0 ? c.pid === pid : pid === 0 ? c.pgid === p.pgid : c.pgid === -pid);
    let any = false;
    for (const c of p.children) {
      if (!match(c)) continue;
      any = true;
      if (c.state !== ProcState.Zombie) continue;
      if (statusPtr) p.space.writeU32(statusPtr, c.waitStatus);
      if (rusage) p.space.write(rusage, new Uint8Array(144));
      p.children.delete(c);
      this.k.procs.delete(c.pid);
      return c.pid;
    }
    if (!any) return -Errno.ECHILD;
    if (options & WNOHANG) return 0;
    p.childWait.add(p.wake);
    return BLOCK;
  }

  private futex(uaddr: number, op: number, val: number): SyscallResult {
    const FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10;
    const cmd = op & 127;
    if (cmd === FUTEX_WAKE || cmd === FUTEX_WAKE_BITSET) return 0; // nobody else shares this memory
    if (cmd === FUTEX_WAIT || cmd === FUTEX_WAIT_BITSET) {
      if (this.p.space.readU32(uaddr) !== (val | 0)) return -Errno.EAGAIN;
      // Single-threaded: nobody could ever wake this waiter. Linux would hang; report a deadlock.
      return -Errno.EDEADLK;
    }
    return -Errno.ENOSYS;
  }
}
