// Identity and limits: pids, uids and gids, uname, sysinfo, getrandom, rlimits, rusage, prctl,
// process groups and sessions, scheduler queries.
import * as crypto from "node:crypto";
import * as os from "node:os";
import { Errno } from "../Errno.js";
import { PAGE_SIZE } from "../FrameAllocator.js";
import { type SyscallResult } from "../Kernel.js";
import { MAX_FDS } from "../OpenFile.js";
import { ProcState } from "../Process.js";
import { type SyscallContext, type SyscallHandlers, enc } from "./SyscallContext.js";

const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** The identity system calls by name (dispatched by Syscalls.ts). */
export const identityCalls: SyscallHandlers = {
  getpid: (sys) => sys.p.tgid,
  getppid: (sys) => sys.p.parent?.tgid ?? 1,
  gettid: (sys) => sys.p.pid,
  getuid: (sys) => sys.k.uid,
  geteuid: (sys) => sys.k.uid,
  getgid: (sys) => sys.k.gid,
  getegid: (sys) => sys.k.gid,
  setuid: (sys) => (sys.k.uid === 0 ? 0 : -Errno.EPERM), // setuid family
  setgid: (sys) => (sys.k.uid === 0 ? 0 : -Errno.EPERM), // setuid family
  setresuid: (sys) => (sys.k.uid === 0 ? 0 : -Errno.EPERM), // setuid family
  setregid: (sys) => (sys.k.uid === 0 ? 0 : -Errno.EPERM), // setuid family
  getresuid: (sys) => getres(sys, sys.k.uid),
  getresgid: (sys) => getres(sys, sys.k.gid),
  getgroups: () => 0, // no supplementary groups
  setgroups: () => -Errno.EPERM,
  uname: (sys) => uname(sys, sys.ulong(0)),
  sysinfo: (sys) => sysinfo(sys, sys.ulong(0)),
  getrandom: (sys) => getrandom(sys, sys.ulong(0), sys.ulong(1)),
  prlimit64: (sys) => prlimit(sys, sys.int(0), sys.int(1), sys.ulong(2), sys.ulong(3)),
  getrlimit: (sys) => prlimit(sys, 0, sys.int(0), 0, sys.ulong(1)),
  setrlimit: () => 0, // accepted, not enforced
  getrusage: (sys) => getrusage(sys, sys.int(0), sys.ulong(1)),
  prctl: (sys) => prctl(sys, sys.int(0), sys.ulong(1)),
  getpgid: (sys) => getpgid(sys, sys.int(0)),
  setpgid: (sys) => setpgid(sys, sys.int(0), sys.int(1)),
  getsid: (sys) => sys.p.sid,
  setsid: (sys) => {
    if (sys.p.pgid === sys.p.pid) return -Errno.EPERM;
    sys.p.sid = sys.p.pgid = sys.p.pid;
    return sys.p.pid;
  },
  setpriority: () => 0,
  getpriority: () => 20, // nice 0 (returned as 20 - nice)
  sched_getaffinity: (sys) => schedGetaffinity(sys, sys.ulong(1), sys.ulong(2)),
  sched_setaffinity: () => 0,
  sched_yield: () => 0,
  sched_setparam: () => 0, // sched_setparam/scheduler/getscheduler/getparam
  sched_setscheduler: () => 0, // sched_setparam/scheduler/getscheduler/getparam
  sched_getscheduler: () => 0, // sched_setparam/scheduler/getscheduler/getparam
  sched_getparam: () => 0, // sched_setparam/scheduler/getscheduler/getparam
};

export function getres(sys: SyscallContext, id: number): SyscallResult {
  for (let i = 0; i < 3; i++) {
    const ptr = sys.ulong(i);
    if (ptr) sys.p.space.writeU32(ptr, id);
  }
  return 0;
}

export function uname(sys: SyscallContext, buf: number): SyscallResult {
  // struct new_utsname: six 65-byte fields.
  const b = new Uint8Array(65 * 6);
  const fields = ["Linux", os.hostname(), "6.12.0-typevisor", "#1 SMP PREEMPT Typevisor", "riscv64", "(none)"];
  fields.forEach((s, i) => b.set(enc.encode(s).subarray(0, 64), i * 65));
  sys.p.space.write(buf, b);
  return 0;
}

export function sysinfo(sys: SyscallContext, buf: number): SyscallResult {
  // struct sysinfo (64-bit): uptime, loads[3], totalram, freeram, sharedram, bufferram,
  // totalswap, freeswap (all long), procs (u16), pad, totalhigh, freehigh, mem_unit (u32).
  const b = new Uint8Array(112);
  const d = new DataView(b.buffer);
  const fr = sys.k.frames;
  d.setBigInt64(0, BigInt(Math.floor((performance.now() - sys.k.bootMs) / 1000)), true);
  d.setBigUint64(32, BigInt(fr.total * PAGE_SIZE), true);
  d.setBigUint64(40, BigInt((fr.total - fr.inUse) * PAGE_SIZE), true);
  d.setUint16(80, sys.k.procs.size, true);
  d.setUint32(104, 1, true);
  sys.p.space.write(buf, b);
  return 0;
}

export function getrandom(sys: SyscallContext, buf: number, len: number): SyscallResult {
  if (len > 33554431) len = 33554431;
  sys.p.space.forEachChunk(buf, len, true, (off, n) => crypto.randomFillSync(sys.bytes, off, n));
  return len;
}

export function prlimit(sys: SyscallContext, pid: number, res: number, newPtr: number, oldPtr: number): SyscallResult {
  if (pid !== 0 && pid !== sys.p.pid && !sys.k.procs.has(pid)) return -Errno.ESRCH;
  if (res < 0 || res >= 16) return -Errno.EINVAL;
  void newPtr;
  if (oldPtr) {
    let cur = RLIM_INFINITY;
    let max = RLIM_INFINITY;
    if (res === 3) cur = 8n << 20n; // RLIMIT_STACK
    if (res === 7) {
      cur = BigInt(MAX_FDS);
      max = BigInt(MAX_FDS);
    } // RLIMIT_NOFILE
    if (res === 4) cur = max = 0n; // RLIMIT_CORE
    if (res === 6) cur = max = BigInt(sys.k.maxProcs); // RLIMIT_NPROC (--max-procs)
    const b = new Uint8Array(16);
    const d = new DataView(b.buffer);
    d.setBigUint64(0, cur, true);
    d.setBigUint64(8, max, true);
    sys.p.space.write(oldPtr, b);
  }
  return 0;
}

export function getrusage(sys: SyscallContext, _who: number, buf: number): SyscallResult {
  const b = new Uint8Array(144);
  const d = new DataView(b.buffer);
  const u = process.cpuUsage();
  d.setBigInt64(0, BigInt(Math.floor(u.user / 1e6)), true);
  d.setBigInt64(8, BigInt(u.user % 1e6), true);
  d.setBigInt64(16, BigInt(Math.floor(u.system / 1e6)), true);
  d.setBigInt64(24, BigInt(u.system % 1e6), true);
  d.setBigInt64(32, BigInt(sys.p.space.residentPages() * 4), true); // ru_maxrss in KiB
  sys.p.space.write(buf, b);
  return 0;
}

export function prctl(sys: SyscallContext, op: number, arg: number): SyscallResult {
  const PR_SET_NAME = 15,
    PR_GET_NAME = 16;
  if (op === PR_SET_NAME) {
    sys.p.comm = sys.p.space.readCString(arg, 16).slice(0, 15);
    return 0;
  }
  if (op === PR_GET_NAME) {
    const b = new Uint8Array(16);
    b.set(enc.encode(sys.p.comm).subarray(0, 15));
    sys.p.space.write(arg, b);
    return 0;
  }
  return -Errno.EINVAL;
}

export function getpgid(sys: SyscallContext, pid: number): SyscallResult {
  const t = pid === 0 ? sys.p : sys.k.procs.get(pid);
  if (!t || (t.state === ProcState.Zombie && t !== sys.p)) return -Errno.ESRCH;
  return t.pgid;
}

export function setpgid(sys: SyscallContext, pid: number, pgid: number): SyscallResult {
  const t = pid === 0 ? sys.p : sys.k.procs.get(pid);
  if (!t) return -Errno.ESRCH;
  if (t !== sys.p && t.parent !== sys.p) return -Errno.ESRCH;
  if (pgid < 0) return -Errno.EINVAL;
  t.pgid = pgid === 0 ? t.pid : pgid;
  return 0;
}

export function schedGetaffinity(sys: SyscallContext, len: number, mask: number): SyscallResult {
  if (len < 8) return -Errno.EINVAL;
  sys.p.space.write(mask, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
  return 8;
}
