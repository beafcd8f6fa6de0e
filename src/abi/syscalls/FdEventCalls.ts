// Descriptors that deliver events rather than data: eventfd(2), timerfd_create(2) and signalfd(2).
// Each can be read, polled, selected and watched by epoll like a pipe.
import { Errno } from "../Errno.js";
import { EventFd } from "../EventFd.js";
import { BLOCK, type SyscallResult } from "../Kernel.js";
import { O_CLOEXEC, O_NONBLOCK, type OpenFile } from "../OpenFile.js";
import { SignalFd } from "../SignalFd.js";
import { UNBLOCKABLE, sigBit } from "../Signals.js";
import { TimerFd } from "../TimerFd.js";
import { nowNs, timespecMsAt, writeItimerspec } from "./TimeCalls.js";
import type { SyscallContext, SyscallHandlers } from "./SyscallContext.js";

const EFD_SEMAPHORE = 1;
const TFD_TIMER_ABSTIME = 1;
const TFD_TIMER_CANCEL_ON_SET = 2;
/** struct signalfd_siginfo (include/uapi/linux/signalfd.h): 128 bytes. */
const SIGNALFD_SIGINFO_SIZE = 128;

/** The event descriptor system calls by name (dispatched by Syscalls.ts). */
export const fdEventCalls: SyscallHandlers = {
  eventfd2: (sys) => eventfd(sys, sys.uint(0), sys.int(1)),
  timerfd_create: (sys) => timerfdCreate(sys, sys.int(0), sys.int(1)),
  timerfd_settime: (sys) => timerfdSettime(sys, sys.int(0), sys.int(1), sys.ulong(2), sys.ulong(3)),
  timerfd_gettime: (sys) => timerfdGettime(sys, sys.int(0), sys.ulong(1)),
  signalfd4: (sys) => signalfd(sys, sys.int(0), sys.ulong(1), sys.ulong(2), sys.int(3)),
};

function install(sys: SyscallContext, f: OpenFile, flags: number): SyscallResult {
  const fd = sys.p.fds.lowestFree();
  if (fd < 0) return -Errno.EMFILE;
  sys.p.fds.install(fd, f, (flags & O_CLOEXEC) !== 0);
  return fd;
}

/** eventfd2(2): a counter descriptor (EventFd.ts). */
export function eventfd(sys: SyscallContext, initval: number, flags: number): SyscallResult {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE)) return -Errno.EINVAL;
  return install(sys, new EventFd(flags & O_NONBLOCK, BigInt(initval), (flags & EFD_SEMAPHORE) !== 0), flags);
}

/** read(2)/write(2) of an eventfd: 8 bytes, the counter in host (little-endian) order. */
export function eventfdIo(sys: SyscallContext, f: EventFd, buf: number, len: number, write: boolean): SyscallResult {
  if (len < 8) return -Errno.EINVAL;
  if (write) {
    const v = sys.p.space.readU64(buf);
    if (v === 0xffff_ffff_ffff_ffffn) return -Errno.EINVAL;
    if (EventFd.MAX - f.count < v) {
      if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
      f.wait.add(sys.p.wake);
      return BLOCK;
    }
    f.count += v;
    if (v > 0n) f.wait.wakeAll();
    return 8;
  }
  sys.p.space.check(buf, 8, true);
  if (f.count === 0n) {
    if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
    f.wait.add(sys.p.wake);
    return BLOCK;
  }
  const v = f.semaphore ? 1n : f.count;
  f.count -= v;
  sys.p.space.writeU64(buf, v);
  f.wait.wakeAll();
  return 8;
}

export function timerfdCreate(sys: SyscallContext, clock: number, flags: number): SyscallResult {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK)) return -Errno.EINVAL;
  // CLOCK_REALTIME, MONOTONIC, BOOTTIME, REALTIME_ALARM, BOOTTIME_ALARM (timerfd_create(2)).
  if (![0, 1, 7, 8, 9].includes(clock)) return -Errno.EINVAL;
  return install(sys, new TimerFd(flags & O_NONBLOCK, clock), flags);
}

/** struct itimerspec of a timerfd (timerfd_gettime, and the old value of timerfd_settime). */
function writeTimerFdSpec(sys: SyscallContext, ptr: number, f: TimerFd): void {
  f.update();
  writeItimerspec(sys, ptr, f.interval, f.due - performance.now(), f.due > 0);
}

export function timerfdSettime(
  sys: SyscallContext,
  fd: number,
  flags: number,
  newPtr: number,
  oldPtr: number,
): SyscallResult {
  const f = sys.file(fd);
  if (!(f instanceof TimerFd)) return -Errno.EINVAL;
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) return -Errno.EINVAL;
  const d = new DataView(sys.p.space.read(newPtr, 32).buffer);
  const interval = timespecMsAt(d, 0);
  let value = timespecMsAt(d, 16);
  if (interval === undefined || value === undefined) return -Errno.EINVAL;
  if (oldPtr) writeTimerFdSpec(sys, oldPtr, f);
  if (value > 0 && flags & TFD_TIMER_ABSTIME) {
    // An absolute time on the timer's clock: already past means "expires now".
    value = Math.max(1e-6, value - Number(nowNs(sys, f.clock)) / 1e6);
  }
  f.set(value, value > 0 ? interval : 0);
  return 0;
}

export function timerfdGettime(sys: SyscallContext, fd: number, ptr: number): SyscallResult {
  const f = sys.file(fd);
  if (!(f instanceof TimerFd)) return -Errno.EINVAL;
  writeTimerFdSpec(sys, ptr, f);
  return 0;
}

/** read(2) of a timerfd: the expirations since the last read, blocking until there is one. */
export function timerfdRead(sys: SyscallContext, f: TimerFd, buf: number, len: number): SyscallResult {
  if (len < 8) return -Errno.EINVAL;
  sys.p.space.check(buf, 8, true);
  f.update();
  if (f.expired === 0n) {
    if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
    f.wait.add(sys.p.wake);
    return BLOCK;
  }
  sys.p.space.writeU64(buf, f.expired);
  f.expired = 0n;
  f.schedule();
  return 8;
}

export function signalfd(sys: SyscallContext, fd: number, maskPtr: number, size: number, flags: number): SyscallResult {
  if (size !== 8 || flags & ~(O_CLOEXEC | O_NONBLOCK)) return -Errno.EINVAL;
  const mask = sys.p.space.readU64(maskPtr) & ~UNBLOCKABLE;
  if (fd === -1) return install(sys, new SignalFd(flags & O_NONBLOCK, mask, sys.p, sys.k.signalWait), flags);
  const f = sys.file(fd);
  if (!(f instanceof SignalFd)) return -Errno.EINVAL;
  f.mask = mask;
  return fd;
}

/** read(2) of a signalfd: one struct signalfd_siginfo per pending signal of the mask that fits. */
export function signalfdRead(sys: SyscallContext, f: SignalFd, buf: number, len: number): SyscallResult {
  if (len < SIGNALFD_SIGINFO_SIZE) return -Errno.EINVAL;
  const p = sys.p;
  let n = 0;
  while ((n + 1) * SIGNALFD_SIGINFO_SIZE <= len) {
    const ready = f.pendingFor(p);
    if (ready === 0n) break;
    let sig = 1;
    while ((ready & sigBit(sig)) === 0n) sig++;
    if (p.pending & sigBit(sig)) p.pending &= ~sigBit(sig);
    else p.groupPending.bits &= ~sigBit(sig);
    const info = new Uint8Array(SIGNALFD_SIGINFO_SIZE);
    const d = new DataView(info.buffer);
    d.setUint32(0, sig, true); // ssi_signo
    d.setUint32(16, sys.k.uid, true); // ssi_uid (the sender's pid is not tracked: 0)
    sys.p.space.write(buf + n * SIGNALFD_SIGINFO_SIZE, info);
    n++;
  }
  if (n > 0) return n * SIGNALFD_SIGINFO_SIZE;
  if (f.flags & O_NONBLOCK) return -Errno.EAGAIN;
  f.wait.add(p.wake);
  return BLOCK;
}
