// Descriptor system calls: dup, fcntl, ioctl (the terminal requests of tty_ioctl(4)), pipe2, and
// the readiness calls ppoll and pselect6 (poll(2), select(2)).
import * as fs from "node:fs";
import * as tty from "node:tty";
import { Errno } from "../Errno.js";
import { BLOCK, type SyscallResult } from "../Kernel.js";
import {
  HostFile,
  HostInputFile,
  MAX_FDS,
  O_APPEND,
  O_CLOEXEC,
  O_NONBLOCK,
  O_WRONLY,
  Pipe,
  PipeEnd,
  type OpenFile,
} from "../OpenFile.js";
import { EpollFile } from "../Epoll.js";
import { EventFd } from "../EventFd.js";
import { SignalFd } from "../SignalFd.js";
import { TimerFd } from "../TimerFd.js";
import { Socket } from "../Socket.js";
import { readTimespecMs, sleepFor } from "./TimeCalls.js";
import { type SyscallContext, type SyscallHandlers } from "./SyscallContext.js";

const F_DUPFD = 0;
const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const F_GETLK = 5;
const F_SETLK = 6;
const F_SETLKW = 7;
const F_DUPFD_CLOEXEC = 1030;
const F_GETPIPE_SZ = 1032;
const F_SETPIPE_SZ = 1031;
const FD_CLOEXEC = 1;
const CLOSE_RANGE_UNSHARE = 2,
  CLOSE_RANGE_CLOEXEC = 4;
// ioctl requests (asm-generic/ioctls.h).
const TCGETS = 0x5401;
const TCSETS = 0x5402;
const TCSETSW = 0x5403;
const TCSETSF = 0x5404;
const TIOCSCTTY = 0x540e;
const TIOCGPGRP = 0x540f;
const TIOCSPGRP = 0x5410;
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;
const FIONREAD = 0x541b;
const FIONBIO = 0x5421;
const FIOCLEX = 0x5451;
const FIONCLEX = 0x5450;

/** The descriptor system calls by name (dispatched by Syscalls.ts). */
export const descriptorCalls: SyscallHandlers = {
  dup: (sys) => dup(sys, sys.int(0)),
  dup3: (sys) => dup3(sys, sys.int(0), sys.int(1), sys.int(2)),
  close_range: (sys) => closeRange(sys, sys.uint(0), sys.uint(1), sys.uint(2)),
  epoll_create1: (sys) => epollCreate(sys, sys.int(0)),
  epoll_ctl: (sys) => epollCtl(sys, sys.int(0), sys.int(1), sys.int(2), sys.ulong(3)),
  epoll_pwait: (sys) => epollWait(sys, sys.int(0), sys.ulong(1), sys.int(2), sys.int(3) < 0 ? -1 : sys.int(3)),
  epoll_pwait2: (sys) =>
    epollWait(sys, sys.int(0), sys.ulong(1), sys.int(2), sys.ulong(3) ? readTimespecMs(sys, sys.ulong(3)) : -1),
  fcntl: (sys) => fcntl(sys, sys.int(0), sys.int(1), sys.ulong(2)),
  ioctl: (sys) => ioctl(sys, sys.int(0), sys.uint(1), sys.ulong(2)),
  pipe2: (sys) => pipe2(sys, sys.ulong(0), sys.int(1)),
  pselect6: (sys) => pselect6(sys),
  ppoll: (sys) => ppoll(sys, sys.ulong(0), sys.uint(1), sys.ulong(2)),
};

export function dup(sys: SyscallContext, fd: number): SyscallResult {
  const f = sys.file(fd);
  const n = sys.p.fds.lowestFree();
  if (n < 0) return -Errno.EMFILE;
  f.refs++;
  sys.p.fds.install(n, f, false);
  return n;
}

/**
 * close_range(2): closes (or, with CLOSE_RANGE_CLOEXEC, marks close-on-exec) every open descriptor
 * in [first, last]. CLOSE_RANGE_UNSHARE changes nothing here: descriptor tables are never shared.
 */
export function closeRange(sys: SyscallContext, first: number, last: number, flags: number): SyscallResult {
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) || first > last) return -Errno.EINVAL;
  const fds = sys.p.fds;
  const end = Math.min(last, fds.entries.length - 1);
  for (let fd = first; fd <= end; fd++) {
    const e = fds.entries[fd];
    if (!e) continue;
    if (flags & CLOSE_RANGE_CLOEXEC) e.cloexec = true;
    else fds.close(fd);
  }
  return 0;
}

export function dup3(sys: SyscallContext, oldfd: number, newfd: number, flags: number): SyscallResult {
  if (flags & ~O_CLOEXEC) return -Errno.EINVAL;
  const f = sys.file(oldfd);
  if (oldfd === newfd) return -Errno.EINVAL;
  if (newfd < 0 || newfd >= MAX_FDS) return -Errno.EBADF;
  f.refs++;
  sys.p.fds.install(newfd, f, (flags & O_CLOEXEC) !== 0);
  return newfd;
}

export function fcntl(sys: SyscallContext, fd: number, cmd: number, arg: number): SyscallResult {
  const e = sys.p.fds.get(fd);
  if (!e) return -Errno.EBADF;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      if (arg >= MAX_FDS) return -Errno.EINVAL;
      const n = sys.p.fds.lowestFree(arg);
      if (n < 0) return -Errno.EMFILE;
      e.file.refs++;
      sys.p.fds.install(n, e.file, cmd === F_DUPFD_CLOEXEC);
      return n;
    }
    case F_GETFD:
      return e.cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
      e.cloexec = (arg & FD_CLOEXEC) !== 0;
      return 0;
    case F_GETFL:
      return e.file.flags & ~O_CLOEXEC;
    case F_SETFL: {
      const changeable = O_APPEND | O_NONBLOCK | 0o40000 /* O_DIRECT */ | 0o1000000; /* O_NOATIME */
      e.file.flags = (e.file.flags & ~changeable) | (arg & changeable);
      return 0;
    }
    case F_GETLK: {
      // struct flock: l_type (short) first; report "no conflicting lock" (F_UNLCK = 2).
      sys.p.space.write(arg, new Uint8Array([2, 0]));
      return 0;
    }
    case F_SETLK:
    case F_SETLKW:
      return 0; // advisory locks: one guest "machine", nothing to conflict with
    case F_GETPIPE_SZ:
      return e.file instanceof PipeEnd ? Pipe.CAPACITY : -Errno.EBADF;
    case F_SETPIPE_SZ:
      return e.file instanceof PipeEnd ? Pipe.CAPACITY : -Errno.EBADF;
    default:
      return -Errno.EINVAL;
  }
}

export function isTty(sys: SyscallContext, f: OpenFile): number {
  if (f instanceof HostInputFile) return tty.isatty(f.input.hostFd) ? f.input.hostFd : -1;
  if (f instanceof HostFile && !f.seekable && !f.isDir) return tty.isatty(f.hostFd) ? f.hostFd : -1;
  return -1;
}

export function ioctl(sys: SyscallContext, fd: number, req: number, arg: number): SyscallResult {
  const f = sys.file(fd);
  switch (req) {
    case FIOCLEX:
      sys.p.fds.get(fd)!.cloexec = true;
      return 0;
    case FIONCLEX:
      sys.p.fds.get(fd)!.cloexec = false;
      return 0;
    case FIONBIO: {
      const on = sys.p.space.readU32(arg) !== 0;
      f.flags = on ? f.flags | O_NONBLOCK : f.flags & ~O_NONBLOCK;
      return 0;
    }
    case FIONREAD: {
      let n = 0;
      if (f instanceof PipeEnd) n = f.pipe.length;
      else if (f instanceof Socket) n = f.available();
      else if (f instanceof HostFile && f.seekable)
        n = Math.max(0, Number(sys.host(() => fs.fstatSync(f.hostFd)).size) - f.pos);
      sys.p.space.writeU32(arg, n);
      return 0;
    }
  }
  const hostTty = isTty(sys, f);
  if (hostTty < 0) return -Errno.ENOTTY;
  switch (req) {
    case TCGETS: {
      // struct termios (asm-generic/termbits.h): c_iflag, c_oflag, c_cflag, c_lflag (u32), c_line,
      // c_cc[19]: what the guest last set, initially a cooked terminal (ICRNL IXON | OPOST ONLCR |
      // B38400 CS8 CREAD | ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN).
      sys.p.space.write(arg, sys.k.termios);
      return 0;
    }
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
      const t = sys.p.space.read(arg, 36);
      sys.k.termios.set(t);
      // Apply the one setting that matters to the host terminal: canonical mode with echo, or raw
      // (ICANON off), so a guest line editor (busybox ash, bash readline) sees keys as typed.
      const lflag = new DataView(t.buffer).getUint32(12, true);
      const ICANON = 0o2;
      if (tty.isatty(0) && process.stdin.isTTY) {
        process.stdin.setRawMode((lflag & ICANON) === 0);
        sys.k.rawTerminal ||= (lflag & ICANON) === 0;
      }
      return 0;
    }
    case TIOCGWINSZ: {
      const ws = process.stdout.isTTY ? process.stdout : process.stderr.isTTY ? process.stderr : undefined;
      const b = new Uint8Array(8);
      const d = new DataView(b.buffer);
      d.setUint16(0, ws?.rows ?? 24, true);
      d.setUint16(2, ws?.columns ?? 80, true);
      sys.p.space.write(arg, b);
      return 0;
    }
    case TIOCSWINSZ:
      return 0;
    case TIOCGPGRP:
      sys.p.space.writeU32(arg, sys.p.pgid);
      return 0;
    case TIOCSPGRP:
      return 0;
    case TIOCSCTTY:
      return 0;
    default:
      return -Errno.ENOTTY;
  }
}

export function pipe2(sys: SyscallContext, fdsPtr: number, flags: number): SyscallResult {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | 0o40000)) return -Errno.EINVAL;
  const p = sys.p;
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
export function readiness(sys: SyscallContext, fd: number): [boolean, boolean, boolean] | undefined {
  const e = sys.p.fds.get(fd);
  return e ? fileReadiness(e.file) : undefined;
}

/** [readable, writable, hung up] now, without blocking. Regular files are always ready (poll(2)). */
export function fileReadiness(f: OpenFile): [boolean, boolean, boolean] {
  if (f instanceof EpollFile) return [epollReady(f, 0, undefined) > 0, false, false];
  if (f instanceof PipeEnd) {
    if (f.isWrite) return [false, f.pipe.readers > 0 && f.pipe.length < Pipe.CAPACITY, f.pipe.readers === 0];
    return [f.pipe.length > 0, false, f.pipe.writers === 0];
  }
  if (f instanceof HostInputFile) {
    if (!f.input.ready) f.input.start();
    return [f.input.ready, false, false];
  }
  if (f instanceof Socket) return f.readiness();
  if (f instanceof EventFd) return [f.count > 0n, f.count < EventFd.MAX, false];
  if (f instanceof TimerFd) {
    f.update();
    return [f.expired > 0n, false, false];
  }
  if (f instanceof SignalFd) return [f.pendingFor(f.owner) !== 0n, false, false];
  return [true, true, false];
}

/** Registers a sleeping poller on whatever can change f's readiness. */
export function watch(f: OpenFile | undefined, wake: () => void): void {
  if (f instanceof PipeEnd) (f.isWrite ? f.pipe.writeWait : f.pipe.readWait).add(wake);
  else if (f instanceof HostInputFile) f.input.wait.add(wake);
  else if (f instanceof Socket) f.watch(wake);
  else if (f instanceof EventFd || f instanceof TimerFd || f instanceof SignalFd) f.wait.add(wake);
  else if (f instanceof EpollFile) for (const it of f.interests.values()) watch(it.file, wake);
}

export function ppoll(sys: SyscallContext, fdsPtr: number, nfds: number, tsPtr: number): SyscallResult {
  if (nfds > MAX_FDS) return -Errno.EINVAL;
  const raw = sys.p.space.read(fdsPtr, nfds * 8);
  const d = new DataView(raw.buffer);
  const POLLIN = 1,
    POLLOUT = 4,
    POLLHUP = 16,
    POLLNVAL = 32;
  let ready = 0;
  for (let i = 0; i < nfds; i++) {
    const fd = d.getInt32(i * 8, true);
    const events = d.getInt16(i * 8 + 4, true);
    let rev = 0;
    if (fd >= 0) {
      const r = readiness(sys, fd);
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
    const timeout = tsPtr ? readTimespecMs(sys, tsPtr) : -1;
    if (timeout >= 0 && sleepFor(sys, sys.p.sleepUntil >= 0 ? 0 : timeout) !== BLOCK) {
      sys.p.space.write(fdsPtr, raw);
      return 0; // timed out
    }
    {
      // Sleep until something changes: wake on any pipe/input activity of these descriptors.
      for (let i = 0; i < nfds; i++) watch(sys.p.fds.get(d.getInt32(i * 8, true))?.file, sys.p.wake);
      return BLOCK;
    }
  }
  sys.p.sleepUntil = -1;
  if (sys.p.sleepTimer) clearTimeout(sys.p.sleepTimer);
  sys.p.space.write(fdsPtr, raw);
  return ready;
}

export function pselect6(sys: SyscallContext): SyscallResult {
  const nfds = sys.int(0);
  const sets = [sys.ulong(1), sys.ulong(2), sys.ulong(3)];
  if (nfds < 0 || nfds > MAX_FDS) return -Errno.EINVAL;
  const bytes = Math.ceil(nfds / 64) * 8;
  const inSets = sets.map((s) => (s ? sys.p.space.read(s, bytes) : undefined));
  const outSets = sets.map(() => new Uint8Array(bytes));
  let ready = 0;
  for (let fd = 0; fd < nfds; fd++) {
    for (let k = 0; k < 3; k++) {
      const s = inSets[k];
      if (!s || (s[fd >> 3]! & (1 << (fd & 7))) === 0) continue;
      const r = readiness(sys, fd);
      if (!r) return -Errno.EBADF;
      const ok = k === 0 ? r[0] || r[2] : k === 1 ? r[1] : false;
      if (ok) {
        outSets[k]![fd >> 3]! |= 1 << (fd & 7);
        ready++;
      }
    }
  }
  const ts = sys.ulong(4);
  if (ready === 0) {
    const timeout = ts ? readTimespecMs(sys, ts) : -1;
    if (timeout >= 0 && sleepFor(sys, sys.p.sleepUntil >= 0 ? 0 : timeout) !== BLOCK) {
      for (let k = 0; k < 3; k++) if (sets[k]) sys.p.space.write(sets[k]!, outSets[k]!);
      return 0; // timed out
    }
    {
      for (let fd = 0; fd < nfds; fd++) watch(sys.p.fds.get(fd)?.file, sys.p.wake);
      return BLOCK;
    }
  }
  sys.p.sleepUntil = -1;
  if (sys.p.sleepTimer) clearTimeout(sys.p.sleepTimer);
  for (let k = 0; k < 3; k++) if (sets[k]) sys.p.space.write(sets[k]!, outSets[k]!);
  return ready;
}

// ---- epoll (epoll(7)) --------------------------------------------------------------------------

const EPOLLIN = 0x001,
  EPOLLOUT = 0x004,
  EPOLLERR = 0x008,
  EPOLLHUP = 0x010,
  EPOLLRDHUP = 0x2000;
const EPOLLONESHOT = 1 << 30;
const EPOLL_CTL_ADD = 1,
  EPOLL_CTL_DEL = 2,
  EPOLL_CTL_MOD = 3;
/** struct epoll_event on riscv64: u32 events, 4 bytes of padding, u64 data (not packed: that is x86-64 only). */
const EPOLL_EVENT_SIZE = 16;

export function epollCreate(sys: SyscallContext, flags: number): SyscallResult {
  if (flags & ~O_CLOEXEC) return -Errno.EINVAL;
  const fd = sys.p.fds.lowestFree();
  if (fd < 0) return -Errno.EMFILE;
  sys.p.fds.install(fd, new EpollFile(0), (flags & O_CLOEXEC) !== 0);
  return fd;
}

export function epollCtl(sys: SyscallContext, epfd: number, op: number, fd: number, evPtr: number): SyscallResult {
  const ep = sys.file(epfd);
  const f = sys.file(fd);
  if (!(ep instanceof EpollFile) || fd === epfd) return -Errno.EINVAL;
  // Regular files and directories are always ready, so Linux refuses to watch them.
  if (f instanceof HostFile && (f.seekable || f.isDir)) return -Errno.EPERM;
  const cur = ep.interests.get(fd);
  if (cur && cur.file.refs === 0) ep.interests.delete(fd);
  const have = ep.interests.get(fd);
  if (op === EPOLL_CTL_DEL) {
    if (!have) return -Errno.ENOENT;
    ep.interests.delete(fd);
    return 0;
  }
  if (op !== EPOLL_CTL_ADD && op !== EPOLL_CTL_MOD) return -Errno.EINVAL;
  const d = new DataView(sys.p.space.read(evPtr, EPOLL_EVENT_SIZE).buffer);
  const events = d.getUint32(0, true);
  const data = d.getBigUint64(8, true);
  if (op === EPOLL_CTL_ADD) {
    if (have) return -Errno.EEXIST;
    ep.interests.set(fd, { fd, file: f, events, data });
  } else {
    if (!have) return -Errno.ENOENT;
    have.events = events;
    have.data = data;
  }
  return 0;
}

/**
 * Ready entries of ep, at most max, written as struct epoll_event to `out` (if given); returns
 * their number. Level-triggered; EPOLLET is treated as level-triggered too (a program written for
 * edge triggering reads until EAGAIN, so it only sees extra wake-ups); EPOLLONESHOT entries are
 * disarmed once reported, until EPOLL_CTL_MOD.
 */
function epollReady(ep: EpollFile, max: number, out: DataView | undefined): number {
  let n = 0;
  for (const it of ep.interests.values()) {
    if (it.file.refs === 0) {
      ep.interests.delete(it.fd);
      continue;
    }
    const [r, w, hup] = fileReadiness(it.file);
    let rev = 0;
    if (r && it.events & EPOLLIN) rev |= EPOLLIN;
    if (w && it.events & EPOLLOUT) rev |= EPOLLOUT;
    if (hup) rev |= it.file instanceof PipeEnd && it.file.isWrite ? EPOLLERR : EPOLLHUP | (it.events & EPOLLRDHUP);
    if (rev === 0 || (it.events & ~(EPOLLONESHOT | (1 << 31))) === 0) continue;
    if (!out) return 1;
    out.setUint32(n * EPOLL_EVENT_SIZE, rev, true);
    out.setBigUint64(n * EPOLL_EVENT_SIZE + 8, it.data, true);
    if (it.events & EPOLLONESHOT) it.events &= EPOLLONESHOT | (1 << 31);
    if (++n === max) break;
  }
  return n;
}

export function epollWait(
  sys: SyscallContext,
  epfd: number,
  evPtr: number,
  max: number,
  timeoutMs: number,
): SyscallResult {
  const ep = sys.file(epfd);
  if (!(ep instanceof EpollFile) || max <= 0 || max > 0x7fff_ffff / EPOLL_EVENT_SIZE) return -Errno.EINVAL;
  sys.p.space.check(evPtr, max * EPOLL_EVENT_SIZE, true);
  const p = sys.p;
  const out = new DataView(new ArrayBuffer(Math.min(max, ep.interests.size) * EPOLL_EVENT_SIZE));
  const n = epollReady(ep, max, out);
  if (n > 0) {
    p.sleepUntil = -1;
    if (p.sleepTimer) clearTimeout(p.sleepTimer);
    p.space.write(evPtr, new Uint8Array(out.buffer, 0, n * EPOLL_EVENT_SIZE));
    return n;
  }
  if (timeoutMs >= 0 && sleepFor(sys, p.sleepUntil >= 0 ? 0 : timeoutMs) !== BLOCK) return 0;
  // Sleep until one of the watched pipes or the host's stdin changes (or the timeout, or a signal).
  for (const it of ep.interests.values()) watch(it.file, p.wake);
  return BLOCK;
}
