// Memory system calls: brk, mmap, munmap, mprotect, mremap, madvise, msync (mmap(2)), on the
// process's Sv39 address space (AddressSpace.ts).
import * as fs from "node:fs";
import { MMAP_BASE, PROT_EXEC, PROT_READ, PROT_WRITE, TASK_SIZE, pageUp } from "../AddressSpace.js";
import { Errno } from "../Errno.js";
import { PAGE_SIZE } from "../FrameAllocator.js";
import { type SyscallResult } from "../Kernel.js";
import { HostFile } from "../OpenFile.js";
import { type SyscallContext, type SyscallHandlers } from "./SyscallContext.js";

const MAP_SHARED = 1;
const MAP_PRIVATE = 2;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_FIXED_NOREPLACE = 0x100000;
const MREMAP_MAYMOVE = 1;
const MREMAP_FIXED = 2;

/** The memory system calls by name (dispatched by Syscalls.ts). */
export const memoryCalls: SyscallHandlers = {
  brk: (sys) => sys.p.space.setBrk(sys.ulong(0)),
  mmap: (sys) => mmap(sys, sys.ulong(0), sys.ulong(1), sys.int(2), sys.int(3), sys.int(4), sys.long(5)),
  munmap: (sys) => munmap(sys, sys.ulong(0), sys.ulong(1)),
  mprotect: (sys) => mprotect(sys, sys.ulong(0), sys.ulong(1), sys.int(2)),
  mremap: (sys) => mremap(sys, sys.ulong(0), sys.ulong(1), sys.ulong(2), sys.int(3)),
  madvise: () => 0, // advice only (MADV_DONTNEED on private anon would zero; not needed)
  msync: () => 0, // private mappings only
  mincore: () => -Errno.ENOSYS,
};

export function mmap(
  sys: SyscallContext,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  fd: number,
  off: number,
): SyscallResult {
  const space = sys.p.space;
  if (len === 0) return -Errno.EINVAL;
  if (off < 0 || off % PAGE_SIZE !== 0) return -Errno.EINVAL;
  if (len > TASK_SIZE) return -Errno.ENOMEM;
  const type = flags & 3;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== 3) return -Errno.EINVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return -Errno.EINVAL;
  const size = pageUp(len);
  // Linux's overcommit heuristic (OVERCOMMIT_GUESS, mm/util.c __vm_enough_memory): a private
  // writable mapping larger than all of memory can never be backed, so it fails now with ENOMEM.
  if (type === MAP_PRIVATE && prot & PROT_WRITE && size / PAGE_SIZE > sys.k.frames.total) return -Errno.ENOMEM;
  let data: Uint8Array | undefined;
  let name = "";
  if ((flags & MAP_ANONYMOUS) === 0) {
    const f = sys.file(fd);
    if (!(f instanceof HostFile)) return -Errno.ENODEV;
    if (!f.readable) return -Errno.EACCES;
    if (type === MAP_SHARED && prot & PROT_WRITE && !f.writable) return -Errno.EACCES;
    if (f.isDir) return -Errno.ENODEV;
    // File mappings are private copies of the file, read now (MAP_SHARED writes are not written back).
    const fileSize = Number(sys.host(() => fs.fstatSync(f.hostFd)).size);
    const n = Math.max(0, Math.min(len, fileSize - off));
    data = Buffer.alloc(n);
    if (n > 0) sys.host(() => fs.readSync(f.hostFd, data!, 0, n, off));
    name = f.guestPath;
  }
  let at: number;
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
    if (addr % PAGE_SIZE !== 0) return -Errno.EINVAL;
    if (addr + size > TASK_SIZE || addr < PAGE_SIZE) return -Errno.ENOMEM;
    if (flags & MAP_FIXED_NOREPLACE && !(flags & MAP_FIXED) && !space.isFree(addr, addr + size)) return -Errno.EEXIST;
    at = addr;
  } else if (
    addr !== 0 &&
    addr % PAGE_SIZE === 0 &&
    addr + size <= MMAP_BASE &&
    addr >= 0x10000 &&
    space.isFree(addr, addr + size)
  ) {
    at = addr; // the hint is free: take it, as Linux does
  } else {
    at = space.findFree(size);
    if (at < 0) return -Errno.ENOMEM;
  }
  space.map(at, size, prot, name, data);
  return at;
}

export function munmap(sys: SyscallContext, addr: number, len: number): SyscallResult {
  if (addr % PAGE_SIZE !== 0 || len === 0 || addr + len > TASK_SIZE) return -Errno.EINVAL;
  sys.p.space.unmap(addr, pageUp(len));
  return 0;
}

export function mprotect(sys: SyscallContext, addr: number, len: number, prot: number): SyscallResult {
  if (addr % PAGE_SIZE !== 0) return -Errno.EINVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | 0x01000000 | 0x02000000)) return -Errno.EINVAL;
  if (len === 0) return 0;
  if (addr + len > TASK_SIZE) return -Errno.ENOMEM;
  sys.p.space.protect(addr, pageUp(len), prot & 7);
  return 0;
}

export function mremap(sys: SyscallContext, old: number, oldLen: number, newLen: number, flags: number): SyscallResult {
  if (old % PAGE_SIZE !== 0 || newLen === 0) return -Errno.EINVAL;
  if (flags & MREMAP_FIXED) return -Errno.EINVAL;
  if (newLen > TASK_SIZE) return -Errno.ENOMEM;
  return sys.p.space.remap(old, pageUp(oldLen), pageUp(newLen), (flags & MREMAP_MAYMOVE) !== 0);
}
