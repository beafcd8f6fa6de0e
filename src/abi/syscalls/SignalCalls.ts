// Signal system calls: rt_sigaction, rt_sigprocmask, rt_sigpending, rt_sigsuspend, kill/tkill/
// tgkill (signal(7)); delivery itself is the kernel's (Kernel.ts, Signals.ts).
import { Errno } from "../Errno.js";
import { BLOCK, type SyscallResult } from "../Kernel.js";
import { type Process, ProcState } from "../Process.js";
import { SIGKILL, SIGSTOP, SIG_DFL, UNBLOCKABLE, NSIG, sigBit } from "../Signals.js";
import { type SyscallContext, type SyscallHandlers } from "./SyscallContext.js";

/** The signal system calls by name (dispatched by Syscalls.ts). */
export const signalCalls: SyscallHandlers = {
  rt_sigaction: (sys) => rtSigaction(sys, sys.int(0), sys.ulong(1), sys.ulong(2), sys.ulong(3)),
  rt_sigprocmask: (sys) => rtSigprocmask(sys, sys.int(0), sys.ulong(1), sys.ulong(2), sys.ulong(3)),
  rt_sigpending: (sys) => rtSigpending(sys, sys.ulong(0)),
  rt_sigsuspend: (sys) => rtSigsuspend(sys, sys.ulong(0)),
  rt_sigreturn: (sys) => {
    sys.k.sigreturn(sys.p);
    return 0;
  },
  kill: (sys) => kill(sys, sys.int(0), sys.int(1)),
  tkill: (sys) => tgkill(sys, -1, sys.int(0), sys.int(1)),
  tgkill: (sys) => tgkill(sys, sys.int(0), sys.int(1), sys.int(2)),
  sigaltstack: () => 0, // accepted; handlers run on the current stack
};

export function rtSigaction(
  sys: SyscallContext,
  sig: number,
  act: number,
  oldact: number,
  sigsetsize: number,
): SyscallResult {
  if (sigsetsize !== 8) return -Errno.EINVAL;
  if (sig < 1 || sig > NSIG) return -Errno.EINVAL;
  const a = sys.p.actions[sig]!;
  // struct sigaction (riscv64 kernel ABI): sa_handler, sa_flags, (no sa_restorer), sa_mask.
  if (oldact) {
    const b = new Uint8Array(24);
    const d = new DataView(b.buffer);
    d.setBigUint64(0, a.handler, true);
    d.setBigUint64(8, a.flags, true);
    d.setBigUint64(16, a.mask, true);
    sys.p.space.write(oldact, b);
  }
  if (act) {
    if (sig === SIGKILL || sig === SIGSTOP) return -Errno.EINVAL;
    const d = new DataView(sys.p.space.read(act, 24).buffer);
    a.handler = d.getBigUint64(0, true);
    a.flags = d.getBigUint64(8, true);
    a.mask = d.getBigUint64(16, true) & ~UNBLOCKABLE;
    if (a.handler === 1n || (a.handler === SIG_DFL && (sig === 17 || sig === 23 || sig === 28))) {
      sys.p.pending &= ~sigBit(sig); // ignoring a pending signal discards it
      sys.p.groupPending.bits &= ~sigBit(sig);
    }
  }
  return 0;
}

export function rtSigprocmask(
  sys: SyscallContext,
  how: number,
  set: number,
  oldset: number,
  size: number,
): SyscallResult {
  if (size !== 8) return -Errno.EINVAL;
  const p = sys.p;
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

export function rtSigpending(sys: SyscallContext, set: number): SyscallResult {
  sys.p.space.writeU64(set, (sys.p.pending | sys.p.groupPending.bits) & sys.p.sigmask);
  return 0;
}

export function rtSigsuspend(sys: SyscallContext, maskPtr: number): SyscallResult {
  const p = sys.p;
  if (p.savedMask === undefined) {
    p.savedMask = p.sigmask;
    p.sigmask = p.space.readU64(maskPtr) & ~UNBLOCKABLE;
  }
  // Returns -EINTR once a signal is delivered (the kernel's retry path turns BLOCK into EINTR).
  if (((p.pending | p.groupPending.bits) & ~p.sigmask) !== 0n) return -Errno.EINTR;
  return BLOCK;
}

/**
 * kill(2): a process-directed signal. Each matching process (thread group) gets it once, on a
 * thread that does not block it if there is one (signal(7)), preferring the leader.
 */
export function kill(sys: SyscallContext, pid: number, sig: number): SyscallResult {
  if (sig < 0 || sig > NSIG) return -Errno.EINVAL;
  const groups = new Set<Process>();
  const me = sys.p.leader;
  for (const q of sys.k.procs.values()) {
    if (q.state === ProcState.Zombie) continue;
    const l = q.leader;
    if (pid > 0 ? q.pid === pid : pid === 0 ? l.pgid === me.pgid : pid === -1 ? l !== me : l.pgid === -pid)
      groups.add(l);
  }
  if (groups.size === 0) return -Errno.ESRCH;
  for (const l of groups) sys.k.sendGroupSignal(l, sig);
  return 0;
}

/** tgkill(2) (tgid -1: tkill): a signal for one thread. */
export function tgkill(sys: SyscallContext, tgid: number, tid: number, sig: number): SyscallResult {
  if (sig < 0 || sig > NSIG || tid <= 0 || (tgid !== -1 && tgid <= 0)) return -Errno.EINVAL;
  const t = sys.k.procs.get(tid);
  if (!t || t.state === ProcState.Zombie || t.threadExited || (tgid !== -1 && t.tgid !== tgid)) return -Errno.ESRCH;
  sys.k.sendSignal(t, sig);
  return 0;
}
