// Process system calls: clone (fork and vfork), execve, wait4, exit, futex and the thread-area
// calls a single-threaded libc makes.
import { Errno, fail } from "../Errno.js";
import { BLOCK, type SyscallResult } from "../Kernel.js";
import { type Process, ProcState } from "../Process.js";
import { SIGCHLD, SIG_DFL } from "../Signals.js";
import { nowNs, readTimespecMs, sleepFor } from "./TimeCalls.js";
import { type SyscallContext, type SyscallHandlers } from "./SyscallContext.js";

// CLONE_FS/FILES/SIGHAND (sharing without CLONE_VM) are treated as copies: fork-like uses only.
const CLONE_VM = 0x100;
const CLONE_VFORK = 0x4000;
const CLONE_THREAD = 0x10000;
const CLONE_SETTLS = 0x80000;
const CLONE_PARENT_SETTID = 0x100000;
const CLONE_CHILD_CLEARTID = 0x200000;
const CLONE_CHILD_SETTID = 0x1000000;
const WNOHANG = 1;

/** The process system calls by name (dispatched by Syscalls.ts). */
export const processCalls: SyscallHandlers = {
  clone: (sys) => clone(sys, sys.ulong(0), sys.ulong(1), sys.ulong(2), sys.ulong(3), sys.ulong(4)),
  execve: (sys) => execve(sys, sys.path(0), sys.ulong(1), sys.ulong(2)),
  wait4: (sys) => wait4(sys, sys.int(0), sys.ulong(1), sys.int(2), sys.ulong(3)),
  waitid: (sys) => waitid(sys, sys.int(0), sys.int(1), sys.ulong(2), sys.int(3), sys.ulong(4)),
  exit: (sys) => {
    sys.k.exitThread(sys.p, sys.int(0));
    return 0;
  },
  exit_group: (sys) => {
    sys.k.exitProcess(sys.p, sys.int(0), false);
    return 0;
  },
  set_tid_address: (sys) => {
    sys.p.clearChildTid = sys.ulong(0);
    return sys.p.pid;
  },
  set_robust_list: () => 0, // robust futex lists are accepted; a dying owner does not release them
  futex: (sys) => futex(sys, sys.ulong(0), sys.int(1), sys.uint(2), sys.ulong(3), sys.ulong(4), sys.uint(5)),
  rseq: () => -Errno.ENOSYS, // glibc copes without it
  riscv_hwprobe: () => -Errno.ENOSYS, // glibc falls back to AT_HWCAP
  riscv_flush_icache: (sys) => {
    sys.k.cpu.flushTlb();
    return 0;
  },
  clone3: () => -Errno.ENOSYS, // glibc falls back to clone
};

export function clone(
  sys: SyscallContext,
  flags: number,
  stack: number,
  ptid: number,
  tls: number,
  ctid: number,
): SyscallResult {
  const k = sys.k;
  const p = sys.p;
  // RLIMIT_NPROC (fork(2): EAGAIN). Zombies count until they are reaped, and threads count, as on Linux.
  if (k.procs.size >= k.maxProcs) return -Errno.EAGAIN;
  if (flags & CLONE_THREAD) return cloneThread(sys, flags, stack, ptid, tls, ctid);
  // A shared address space without a thread group or vfork: not modelled (clone(2) allows it).
  if (flags & CLONE_VM && !(flags & CLONE_VFORK)) return -Errno.EINVAL;
  k.syncOut(p);
  // A fork child's parent is the calling thread's process (its leader): any thread may wait.
  const parent = p.leader;
  // vfork (CLONE_VM | CLONE_VFORK) really shares the parent's address space: the parent sleeps
  // until the child calls execve or exits, so one space is never run by two processes at once.
  // posix_spawn relies on it (the child reports an exec failure through shared memory).
  const shareVm = (flags & CLONE_VM) !== 0 && (flags & CLONE_VFORK) !== 0;
  const child = k.newProcess(shareVm ? p.space : p.space.fork(), p.fds.clone(), parent);
  child.borrowedSpace = shareVm;
  child.cwd = p.cwd;
  child.umask = p.umask;
  child.exe = p.exe;
  child.comm = p.comm;
  startClone(p, child, flags, stack, ptid, tls, ctid);
  for (let i = 0; i < p.actions.length; i++) child.actions[i] = { ...p.actions[i]! };
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

/**
 * clone(2) of a thread: CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM (EINVAL otherwise,
 * as Linux checks). The new thread starts after the ecall with a0 = 0 on `stack`, with the TLS
 * pointer (tp) from CLONE_SETTLS, and runs interleaved with the others on the one hart: each
 * slice, system call or fault is a switch point, and an AMO or LR/SC pair never spans one.
 */
function cloneThread(
  sys: SyscallContext,
  flags: number,
  stack: number,
  ptid: number,
  tls: number,
  ctid: number,
): SyscallResult {
  const CLONE_SIGHAND = 0x800;
  if ((flags & CLONE_SIGHAND) === 0 || (flags & CLONE_VM) === 0) return -Errno.EINVAL;
  if (flags & CLONE_VFORK) return -Errno.EINVAL;
  const k = sys.k;
  const p = sys.p;
  k.syncOut(p);
  const t = k.newThread(p);
  startClone(p, t, flags, stack, ptid, tls, ctid);
  k.runQueue.push(t);
  return t.pid;
}

/**
 * The new task's first context (clone(2)): the caller's registers, resuming after the ecall with
 * a0 = 0, on `stack` if given, with tp from CLONE_SETTLS; the caller's signal mask; the tid
 * stored where CLONE_PARENT_SETTID / CLONE_CHILD_SETTID ask, and remembered for CLEARTID.
 */
function startClone(
  p: Process,
  c: Process,
  flags: number,
  stack: number,
  ptid: number,
  tls: number,
  ctid: number,
): void {
  c.x.set(p.x);
  c.f.set(p.f);
  c.fcsr = p.fcsr;
  c.pc = p.pc + 4n;
  c.x[10] = 0n;
  if (stack) c.x[2] = BigInt(stack);
  if (flags & CLONE_SETTLS) c.x[4] = BigInt(tls);
  c.sigmask = p.sigmask;
  if (flags & CLONE_PARENT_SETTID && ptid) p.space.writeU32(ptid, c.pid);
  if (flags & CLONE_CHILD_SETTID && ctid) c.space.writeU32(ctid, c.pid);
  if (flags & CLONE_CHILD_CLEARTID) c.clearChildTid = ctid;
}

export function readStringArray(sys: SyscallContext, ptr: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (ptr === 0) return out;
  let total = 0;
  for (let i = 0; ; i++) {
    if (i > 65536) fail(Errno.E2BIG);
    const s = Number(sys.p.space.readU64(ptr + i * 8));
    if (s === 0) break;
    const b = sys.p.space.readCBytes(s);
    total += b.length + 1;
    if (total > 2 << 20) fail(Errno.E2BIG);
    out.push(b);
  }
  return out;
}

export function execve(sys: SyscallContext, path: string, argvPtr: number, envpPtr: number): SyscallResult {
  const k = sys.k;
  const p = sys.p;
  const argv = readStringArray(sys, argvPtr);
  const envp = readStringArray(sys, envpPtr);
  // busybox re-executes itself through /proc/self/exe; there is no /proc under --root.
  if (path === "/proc/self/exe" || path === `/proc/${p.pid}/exe`) path = p.exe;
  // From a non-leader thread Linux gives the caller the leader's pid (de_thread); our tasks keep
  // their ids, so that case is refused.
  if (p.threads.size > 1 && p.pid !== p.tgid) return -Errno.EAGAIN;
  const img = k.loadInto(path, argv, envp, p.cwd);
  if (p.threads.size > 1) k.endOtherThreads(p);
  k.deletePosixTimers(p);
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

/**
 * The first of p's children that `match` accepts and that has exited; "none" if no child matches
 * at all (ECHILD), "running" if some match but none has exited yet.
 */
function exitedChild(p: Process, match: (c: Process) => boolean): Process | "none" | "running" {
  let any = false;
  for (const c of p.children) {
    if (!match(c)) continue;
    any = true;
    if (c.state === ProcState.Zombie) return c;
  }
  return any ? "running" : "none";
}

/** Releases an exited child once its parent has collected its status. */
function reap(sys: SyscallContext, c: Process): void {
  sys.p.children.delete(c);
  sys.k.procs.delete(c.pid);
}

export function wait4(
  sys: SyscallContext,
  pid: number,
  statusPtr: number,
  options: number,
  rusage: number,
): SyscallResult {
  const p = sys.p;
  const c = exitedChild(
    p,
    (c) => pid === -1 || (pid > 0 ? c.pid === pid : pid === 0 ? c.pgid === p.pgid : c.pgid === -pid),
  );
  if (c === "none") return -Errno.ECHILD;
  if (c === "running") {
    if (options & WNOHANG) return 0;
    p.childWait.add(p.wake);
    return BLOCK;
  }
  if (statusPtr) p.space.writeU32(statusPtr, c.waitStatus);
  if (rusage) p.space.write(rusage, new Uint8Array(144));
  reap(sys, c);
  return c.pid;
}

/**
 * waitid(2): idtype P_ALL, P_PID or P_PGID; WEXITED must be asked for (stops and continues are
 * not modelled, so WSTOPPED/WCONTINUED alone never match); WNOWAIT leaves the child waitable.
 * The result is a siginfo_t for SIGCHLD (si_pid, si_uid, si_status and CLD_EXITED/CLD_KILLED in
 * si_code); with WNOHANG and no exited child it is all zeros, as Linux writes it.
 */
export function waitid(
  sys: SyscallContext,
  idtype: number,
  id: number,
  infop: number,
  options: number,
  rusage: number,
): SyscallResult {
  const P_ALL = 0,
    P_PID = 1,
    P_PGID = 2;
  const WSTOPPED = 2,
    WEXITED = 4,
    WCONTINUED = 8,
    WNOWAIT = 0x0100_0000;
  const CLD_EXITED = 1,
    CLD_KILLED = 2;
  if (options & ~(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | 0xe000_0000)) return -Errno.EINVAL;
  if ((options & (WEXITED | WSTOPPED | WCONTINUED)) === 0) return -Errno.EINVAL;
  if (idtype !== P_ALL && idtype !== P_PID && idtype !== P_PGID) return -Errno.EINVAL;
  if (idtype !== P_ALL && id <= 0) return -Errno.EINVAL;
  const p = sys.p;
  const matching = (c: Process) => idtype === P_ALL || (idtype === P_PID ? c.pid === id : c.pgid === id);
  const c = exitedChild(p, matching);
  if (c === "none") return -Errno.ECHILD;
  if (c === "running" || (options & WEXITED) === 0) {
    if (options & WNOHANG) {
      if (infop) p.space.write(infop, new Uint8Array(128));
      return 0;
    }
    p.childWait.add(p.wake);
    return BLOCK;
  }
  if (infop) {
    const b = new Uint8Array(128);
    const d = new DataView(b.buffer);
    const st = c.waitStatus;
    const killed = (st & 0x7f) !== 0;
    d.setInt32(0, SIGCHLD, true);
    d.setInt32(8, killed ? CLD_KILLED : CLD_EXITED, true);
    d.setInt32(16, c.pid, true);
    d.setUint32(20, sys.k.uid, true);
    d.setInt32(24, killed ? st & 0x7f : (st >> 8) & 0xff, true);
    p.space.write(infop, b);
  }
  if (rusage) p.space.write(rusage, new Uint8Array(144));
  if ((options & WNOWAIT) === 0) reap(sys, c);
  return 0;
}

/**
 * futex(2): WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE between the threads of
 * a process (FUTEX_PRIVATE_FLAG or not: memory shared between processes is never a futex word
 * here, because MAP_SHARED is a private copy). A waiter blocks; the call is retried when it is
 * woken, and then returns 0 if a FUTEX_WAKE chose it, ETIMEDOUT at its timeout (relative for
 * WAIT, absolute for WAIT_BITSET), or EINTR for a signal.
 */
export function futex(
  sys: SyscallContext,
  uaddr: number,
  op: number,
  val: number,
  timeout: number,
  uaddr2: number,
  val3: number,
): SyscallResult {
  const FUTEX_WAIT = 0,
    FUTEX_WAKE = 1,
    FUTEX_REQUEUE = 3,
    FUTEX_CMP_REQUEUE = 4;
  const FUTEX_WAIT_BITSET = 9,
    FUTEX_WAKE_BITSET = 10,
    FUTEX_CLOCK_REALTIME = 256;
  const cmd = op & 127;
  const p = sys.p;
  const k = sys.k;
  if (uaddr % 4 !== 0) return -Errno.EINVAL;
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      const bitset = cmd === FUTEX_WAIT ? -1 : val3 | 0;
      if (bitset === 0) return -Errno.EINVAL;
      const w = p.futexWait;
      if (w) {
        // A retry after a wake-up: chosen by FUTEX_WAKE, or the timeout passed.
        if (w.woken) {
          p.futexWait = undefined;
          p.sleepUntil = -1;
          if (p.sleepTimer) clearTimeout(p.sleepTimer);
          return 0;
        }
        // A timeout re-arms for what is left (a host timer may fire a little early); past it, ETIMEDOUT.
        if (p.sleepUntil >= 0 && sleepFor(sys, 0) !== BLOCK) {
          p.futexWait = undefined;
          return -Errno.ETIMEDOUT;
        }
        k.futexQueue(p.space, w.uaddr, true)!.add(p);
        return BLOCK;
      }
      if (p.space.readU32(uaddr) !== (val | 0)) return -Errno.EAGAIN;
      if (timeout) {
        let ms = readTimespecMs(sys, timeout);
        if (cmd === FUTEX_WAIT_BITSET) ms -= Number(nowNs(sys, op & FUTEX_CLOCK_REALTIME ? 0 : 1) / 1_000_000n);
        if (ms <= 0) return -Errno.ETIMEDOUT;
        if (sleepFor(sys, ms) !== BLOCK) return -Errno.ETIMEDOUT;
      }
      if (p.threads.size === 1 && !timeout) {
        // The only thread waits for itself: Linux would hang forever; report the deadlock.
        return -Errno.EDEADLK;
      }
      p.futexWait = { uaddr, bitset, woken: false };
      k.futexQueue(p.space, uaddr, true)!.add(p);
      return BLOCK;
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      const bitset = cmd === FUTEX_WAKE ? -1 : val3 | 0;
      if (bitset === 0) return -Errno.EINVAL;
      return k.futexWake(p.space, uaddr, Math.min(val, 0x7fff_ffff), bitset);
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      if (uaddr2 % 4 !== 0) return -Errno.EINVAL;
      if (cmd === FUTEX_CMP_REQUEUE && p.space.readU32(uaddr) !== (val3 | 0)) return -Errno.EAGAIN;
      // val2 (how many to requeue) travels in the timeout argument.
      return k.futexWake(p.space, uaddr, val, -1, uaddr2, timeout > 0x7fff_ffff ? 0x7fff_ffff : timeout);
    }
    default:
      return -Errno.ENOSYS;
  }
}
