// What every system call handler works with: the kernel, the calling process, its argument
// registers (riscv64 syscall(2) ABI: a0..a5) and the small helpers shared by every area (descriptor
// lookup, *at() path resolution, host errors as errno). One context lives for the whole session and
// is re-pointed at the caller on each call, so dispatch allocates nothing.
import { Errno, SyscallError, errnoOf, fail } from "../Errno.js";
import type { Kernel, SyscallResult } from "../Kernel.js";
import { HostFile, type OpenFile } from "../OpenFile.js";
import type { Process } from "../Process.js";

/** The *at() calls' "relative to the working directory" (include/uapi/linux/fcntl.h). */
export const AT_FDCWD = -100;

export const enc = new TextEncoder();

/** A system call handler: reads its arguments from the context; nr for calls sharing a handler. */
export type SyscallHandler = (s: SyscallContext, nr: number) => SyscallResult;
/** Handlers of one area, keyed by the system call's name (SyscallTable.ts). */
export type SyscallHandlers = Readonly<Record<string, SyscallHandler>>;

export class SyscallContext {
  readonly k: Kernel;
  /** The calling process (set by the dispatcher before each call). */
  p!: Process;

  constructor(kernel: Kernel) {
    this.k = kernel;
  }

  // ---- argument access -----------------------------------------------------------------------

  arg(i: number): bigint {
    return this.k.cpu.getX(10 + i);
  }
  int(i: number): number {
    return Number(BigInt.asIntN(32, this.arg(i)));
  }
  uint(i: number): number {
    return Number(BigInt.asUintN(32, this.arg(i)));
  }
  /** A 64-bit unsigned argument as a number (inexact above 2^53, which only matters for errors). */
  ulong(i: number): number {
    return Number(BigInt.asUintN(64, this.arg(i)));
  }
  long(i: number): number {
    return Number(BigInt.asIntN(64, this.arg(i)));
  }
  path(i: number): string {
    return this.p.space.readCString(this.ulong(i), 4096);
  }
  /** A file position argument (pread64 and friends): negative is EINVAL. */
  posArg(i: number): number {
    const v = this.long(i);
    if (v < 0) fail(Errno.EINVAL);
    return v;
  }

  // ---- helpers ---------------------------------------------------------------------------------

  file(fd: number): OpenFile {
    const e = this.p.fds.get(fd);
    if (!e) fail(Errno.EBADF);
    return e.file;
  }

  /** The guest directory a *at() call is relative to. */
  dirOf(dirfd: number, path: string): string {
    if (path.startsWith("/") || dirfd === AT_FDCWD) return this.p.cwd;
    const f = this.file(dirfd);
    if (!(f instanceof HostFile) || !f.isDir) fail(Errno.ENOTDIR);
    return f.guestPath;
  }

  resolveAt(dirfd: number, path: string, follow: boolean): { host: string; guest: string } {
    return this.k.gfs.resolve(this.dirOf(dirfd, path), path, follow);
  }

  /** Runs a host operation; a host error becomes the guest's errno. */
  host<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw new SyscallError(errnoOf(e));
    }
  }

  get bytes(): Uint8Array {
    return this.k.memory.bytes;
  }
}
