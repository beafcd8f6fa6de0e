// POSIX per-process timers (timer_create(2), timer_settime(2)...): coreutils' timeout and
// glibc's SIGEV_THREAD timers use them. Each timer sends its signal to the process (SIGEV_SIGNAL)
// or to one thread (SIGEV_THREAD_ID), one-shot or periodic, from a host timer; SIGEV_NONE timers
// only count down. They belong to the process (shared by its threads), are not inherited by fork
// and end with execve and exit.
import { Errno } from "../Errno.js";
import type { SyscallResult } from "../Kernel.js";
import type { PosixTimer } from "../Process.js";
import { NSIG, SIGALRM } from "../Signals.js";
import { nowNs, timespecMsAt, writeItimerspec } from "./TimeCalls.js";
import type { SyscallContext, SyscallHandlers } from "./SyscallContext.js";

const SIGEV_SIGNAL = 0,
  SIGEV_NONE = 1,
  SIGEV_THREAD_ID = 4;
const TIMER_ABSTIME = 1;
/** Timers one process may hold (RLIMIT_SIGPENDING-like bound: no unbounded growth). */
const MAX_TIMERS = 1024;

/** The POSIX timer system calls by name (dispatched by Syscalls.ts). */
export const posixTimerCalls: SyscallHandlers = {
  timer_create: (sys) => timerCreate(sys, sys.int(0), sys.ulong(1), sys.ulong(2)),
  timer_settime: (sys) => timerSettime(sys, sys.int(0), sys.int(1), sys.ulong(2), sys.ulong(3)),
  timer_gettime: (sys) => timerGettime(sys, sys.int(0), sys.ulong(1)),
  timer_getoverrun: (sys) => (sys.p.posixTimers.has(sys.int(0)) ? 0 : -Errno.EINVAL),
  timer_delete: (sys) => {
    const t = sys.p.posixTimers.get(sys.int(0));
    if (!t) return -Errno.EINVAL;
    disarm(t);
    sys.p.posixTimers.delete(sys.int(0));
    return 0;
  },
};

export function disarm(t: PosixTimer): void {
  if (t.timer) clearTimeout(t.timer);
  t.timer = undefined;
  t.due = 0;
}

export function timerCreate(sys: SyscallContext, clock: number, sevp: number, idPtr: number): SyscallResult {
  // REALTIME, MONOTONIC, PROCESS_CPUTIME (counted as wall time here), BOOTTIME and the alarm clocks.
  if (![0, 1, 2, 7, 8, 9].includes(clock)) return -Errno.EINVAL;
  let notify = SIGEV_SIGNAL;
  let signo = SIGALRM;
  let tid = 0;
  if (sevp) {
    const d = new DataView(sys.p.space.read(sevp, 20).buffer);
    signo = d.getInt32(8, true);
    notify = d.getInt32(12, true);
    tid = d.getInt32(16, true);
    if (notify !== SIGEV_NONE && (signo < 1 || signo > NSIG)) return -Errno.EINVAL;
    if (notify !== SIGEV_SIGNAL && notify !== SIGEV_NONE && notify !== SIGEV_THREAD_ID) return -Errno.EINVAL;
    if (notify === SIGEV_THREAD_ID) {
      const target = sys.k.procs.get(tid);
      if (!target || target.tgid !== sys.p.tgid) return -Errno.EINVAL;
    }
  }
  const timers = sys.p.posixTimers;
  if (timers.size >= MAX_TIMERS) return -Errno.EAGAIN;
  let id = 0;
  while (timers.has(id)) id++;
  sys.p.space.writeU32(idPtr, id);
  timers.set(id, { clock, notify, signo, tid, due: 0, interval: 0, timer: undefined });
  return 0;
}

function writeSpec(sys: SyscallContext, ptr: number, t: PosixTimer): void {
  writeItimerspec(sys, ptr, t.interval, t.due - performance.now(), t.due > 0);
}

export function timerSettime(
  sys: SyscallContext,
  id: number,
  flags: number,
  newPtr: number,
  oldPtr: number,
): SyscallResult {
  const t = sys.p.posixTimers.get(id);
  if (!t) return -Errno.EINVAL;
  const d = new DataView(sys.p.space.read(newPtr, 32).buffer);
  const interval = timespecMsAt(d, 0);
  let value = timespecMsAt(d, 16);
  if (interval === undefined || value === undefined) return -Errno.EINVAL;
  if (oldPtr) writeSpec(sys, oldPtr, t);
  disarm(t);
  if (value === 0) return 0;
  if (flags & TIMER_ABSTIME) value = Math.max(0, value - Number(nowNs(sys, t.clock)) / 1e6);
  t.interval = interval;
  t.due = performance.now() + value;
  if (t.notify === SIGEV_NONE) return 0;
  const k = sys.k;
  const p = sys.p;
  const fire = () => {
    t.timer = undefined;
    if (t.notify === SIGEV_THREAD_ID) {
      const target = k.procs.get(t.tid);
      if (target) k.sendSignal(target, t.signo);
    } else k.sendGroupSignal(p, t.signo);
    if (t.interval > 0) {
      // Expiries missed meanwhile are not queued (timer_getoverrun would count them).
      const now = performance.now();
      t.due += t.interval;
      if (t.due <= now) t.due = now + t.interval;
      t.timer = setTimeout(fire, t.due - now);
    } else t.due = 0;
  };
  t.timer = setTimeout(fire, value);
  return 0;
}

export function timerGettime(sys: SyscallContext, id: number, ptr: number): SyscallResult {
  const t = sys.p.posixTimers.get(id);
  if (!t) return -Errno.EINVAL;
  writeSpec(sys, ptr, t);
  return 0;
}
