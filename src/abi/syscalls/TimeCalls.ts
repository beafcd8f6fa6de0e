// Time system calls: clocks (clock_gettime(2)), sleeps (nanosleep(2), clock_nanosleep(2)),
// times(2) and the interval timers.
import { Errno, fail } from "../Errno.js";
import { BLOCK, type SyscallResult } from "../Kernel.js";
import { SIGALRM } from "../Signals.js";
import { sysno } from "../SyscallTable.js";
import { type SyscallContext, type SyscallHandlers } from "./SyscallContext.js";

const ITIMER_REAL = 0;
const NR_GETITIMER = sysno("getitimer");

/** The time system calls by name (dispatched by Syscalls.ts). */
export const timeCalls: SyscallHandlers = {
  clock_gettime: (sys) => clockGettime(sys, sys.int(0), sys.ulong(1)),
  clock_getres: (sys) => clockGetres(sys, sys.ulong(1)),
  gettimeofday: (sys) => gettimeofday(sys, sys.ulong(0)),
  nanosleep: (sys) => nanosleep(sys, sys.ulong(0), sys.ulong(1), false),
  clock_nanosleep: (sys) => clockNanosleep(sys, sys.int(0), sys.int(1), sys.ulong(2)),
  times: (sys) => times(sys, sys.ulong(0)),
  getitimer: (sys, nr) => itimer(sys, nr),
  setitimer: (sys, nr) => itimer(sys, nr),
};

export function nowNs(sys: SyscallContext, clock: number): bigint {
  switch (clock) {
    case 0:
    case 5:
    case 8:
    case 11: // REALTIME, REALTIME_COARSE, REALTIME_ALARM, TAI
      return BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    case 1:
    case 4:
    case 6:
    case 7:
    case 9: // MONOTONIC, _RAW, _COARSE, BOOTTIME, BOOTTIME_ALARM
      return process.hrtime.bigint();
    case 2:
    case 3: {
      // PROCESS_CPUTIME_ID, THREAD_CPUTIME_ID: the host CPU time of the emulation
      const u = process.cpuUsage();
      return BigInt(u.user + u.system) * 1000n;
    }
    default:
      fail(Errno.EINVAL);
  }
}

export function writeTimespec(sys: SyscallContext, ptr: number, ns: bigint): void {
  const b = new Uint8Array(16);
  const d = new DataView(b.buffer);
  d.setBigInt64(0, ns / 1_000_000_000n, true);
  d.setBigInt64(8, ns % 1_000_000_000n, true);
  sys.p.space.write(ptr, b);
}

/** A timespec (64-bit sec, nsec) at byte `o` of `d` in ms, or undefined if it is not a valid one. */
export function timespecMsAt(d: DataView, o: number): number | undefined {
  const s = d.getBigInt64(o, true);
  const ns = d.getBigInt64(o + 8, true);
  if (s < 0n || ns < 0n || ns > 999_999_999n) return undefined;
  return Number(s) * 1000 + Number(ns) / 1e6;
}

/**
 * Writes a struct itimerspec (it_interval, then it_value: two timespecs) for timer_gettime and
 * timerfd_gettime. `valueMs` 0 means disarmed; an armed timer due right now reports 1 ns left.
 */
export function writeItimerspec(
  sys: SyscallContext,
  ptr: number,
  intervalMs: number,
  valueMs: number,
  armed: boolean,
): void {
  const b = new Uint8Array(32);
  const d = new DataView(b.buffer);
  const put = (o: number, ms: number) => {
    const ns = BigInt(Math.round(ms * 1e6));
    d.setBigInt64(o, ns / 1_000_000_000n, true);
    d.setBigInt64(o + 8, ns % 1_000_000_000n, true);
  };
  put(0, intervalMs);
  put(16, armed ? Math.max(valueMs, 1e-6) : 0);
  sys.p.space.write(ptr, b);
}

export function readTimespecMs(sys: SyscallContext, ptr: number): number {
  const d = new DataView(sys.p.space.read(ptr, 16).buffer);
  const s = d.getBigInt64(0, true);
  const ns = d.getBigInt64(8, true);
  if (s < 0n || ns < 0n || ns > 999_999_999n) fail(Errno.EINVAL);
  return Number(s) * 1000 + Number(ns) / 1e6;
}

export function clockGettime(sys: SyscallContext, clock: number, ptr: number): SyscallResult {
  writeTimespec(sys, ptr, nowNs(sys, clock));
  return 0;
}

export function clockGetres(sys: SyscallContext, ptr: number): SyscallResult {
  if (ptr) writeTimespec(sys, ptr, 1n);
  return 0;
}

export function gettimeofday(sys: SyscallContext, ptr: number): SyscallResult {
  if (!ptr) return 0;
  const us = nowNs(sys, 0) / 1000n;
  const b = new Uint8Array(16);
  const d = new DataView(b.buffer);
  d.setBigInt64(0, us / 1_000_000n, true);
  d.setBigInt64(8, us % 1_000_000n, true);
  sys.p.space.write(ptr, b);
  return 0;
}

/** Sleeps for the duration at req (relative) or until an absolute time; retried on wake. */
export function sleepFor(sys: SyscallContext, ms: number): SyscallResult {
  const p = sys.p;
  const now = performance.now();
  if (p.sleepUntil < 0) p.sleepUntil = now + ms;
  if (now >= p.sleepUntil) {
    p.sleepUntil = -1;
    return 0;
  }
  if (p.sleepTimer) clearTimeout(p.sleepTimer);
  p.sleepTimer = setTimeout(
    () => {
      p.sleepTimer = undefined;
      p.wake();
    },
    Math.max(0, p.sleepUntil - now),
  );
  return BLOCK;
}

export function nanosleep(sys: SyscallContext, req: number, _rem: number, _abs: boolean): SyscallResult {
  const ms = sys.p.sleepUntil >= 0 ? 0 : readTimespecMs(sys, req);
  const r = sleepFor(sys, ms);
  return r;
}

export function clockNanosleep(sys: SyscallContext, clock: number, flags: number, req: number): SyscallResult {
  const TIMER_ABSTIME = 1;
  if (sys.p.sleepUntil >= 0) return sleepFor(sys, 0);
  let ms = readTimespecMs(sys, req);
  if (flags & TIMER_ABSTIME) ms -= Number(nowNs(sys, clock) / 1_000_000n);
  return sleepFor(sys, Math.max(0, ms));
}

export function times(sys: SyscallContext, buf: number): SyscallResult {
  const u = process.cpuUsage();
  const ticks = (us: number) => BigInt(Math.floor(us / 10000));
  if (buf) {
    const b = new Uint8Array(32);
    const d = new DataView(b.buffer);
    d.setBigInt64(0, ticks(u.user), true);
    d.setBigInt64(8, ticks(u.system), true);
    sys.p.space.write(buf, b);
  }
  return Math.floor(performance.now() / 10);
}

/** struct itimerval (two struct timeval of 64-bit sec, usec) from guest memory, in ms. */
function readItimerval(sys: SyscallContext, ptr: number): { interval: number; value: number } {
  const d = new DataView(sys.p.space.read(ptr, 32).buffer);
  const tv = (o: number) => {
    const sec = d.getBigInt64(o, true);
    const usec = d.getBigInt64(o + 8, true);
    if (sec < 0n || usec < 0n || usec > 999_999n) fail(Errno.EINVAL);
    return Number(sec) * 1000 + Number(usec) / 1000;
  };
  return { interval: tv(0), value: tv(16) };
}

/** The current setting of timer `which` as struct itimerval: the time left, rounded up to 1 us. */
function writeItimerval(sys: SyscallContext, ptr: number, which: number): void {
  const t = sys.p.itimers[which]!;
  const left = t.due > 0 ? Math.max(1, Math.ceil((t.due - performance.now()) * 1000)) : 0;
  const iv = Math.round(t.interval * 1000);
  const b = new Uint8Array(32);
  const d = new DataView(b.buffer);
  d.setBigInt64(0, BigInt(Math.floor(iv / 1e6)), true);
  d.setBigInt64(8, BigInt(iv % 1e6), true);
  d.setBigInt64(16, BigInt(Math.floor(left / 1e6)), true);
  d.setBigInt64(24, BigInt(left % 1e6), true);
  sys.p.space.write(ptr, b);
}

/**
 * getitimer(2) / setitimer(2). ITIMER_REAL counts wall-clock time and sends SIGALRM when it
 * expires, while the process computes or sleeps (a blocked call returns EINTR, or restarts per
 * SA_RESTART); glibc's alarm() is built on it. ITIMER_VIRTUAL and ITIMER_PROF keep their settings
 * but never fire (no per-process CPU clock here).
 */
export function itimer(sys: SyscallContext, nr: number): SyscallResult {
  const which = sys.int(0);
  if (which < 0 || which > 2) return -Errno.EINVAL;
  if (nr === NR_GETITIMER) {
    writeItimerval(sys, sys.ulong(1), which);
    return 0;
  }
  const newPtr = sys.ulong(1);
  const oldPtr = sys.ulong(2);
  const set = newPtr ? readItimerval(sys, newPtr) : { interval: 0, value: 0 };
  if (oldPtr) writeItimerval(sys, oldPtr, which);
  const p = sys.p;
  const t = p.itimers[which]!;
  if (t.timer) clearTimeout(t.timer);
  t.timer = undefined;
  t.interval = set.interval;
  t.due = set.value > 0 ? performance.now() + set.value : 0;
  if (which !== ITIMER_REAL || t.due === 0) return 0;
  const k = sys.k;
  const fire = () => {
    t.timer = undefined;
    k.sendGroupSignal(p, SIGALRM);
    if (t.interval > 0) {
      // Periodic: the next expiry one period later; expiries missed meanwhile are not queued
      // (one SIGALRM pending at most, as Linux's it_overrun only counts them).
      const now = performance.now();
      t.due += t.interval;
      if (t.due <= now) t.due = now + t.interval;
      t.timer = setTimeout(fire, t.due - now);
    } else t.due = 0;
  };
  t.timer = setTimeout(fire, set.value);
  return 0;
}
