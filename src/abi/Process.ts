// A guest process: an address space, a descriptor table, a working directory, signal state and a
// saved register context (the hart holds the live context of whichever process is running).
import type { AddressSpace } from "./AddressSpace.js";
import type { FdTable } from "./OpenFile.js";
import { WaitQueue } from "./OpenFile.js";
import { NSIG, type SigAction, SIG_DFL } from "./Signals.js";

export const enum ProcState {
  Runnable = 0,
  Blocked = 1,
  Zombie = 2,
}

/** A POSIX timer (timer_create(2)): its clock, how it notifies, and its schedule (performance.now() ms). */
export interface PosixTimer {
  readonly clock: number;
  /** SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID. */
  readonly notify: number;
  readonly signo: number;
  /** The thread SIGEV_THREAD_ID signals. */
  readonly tid: number;
  due: number;
  interval: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A thread blocked in FUTEX_WAIT: which word, which bitset, and whether a FUTEX_WAKE chose it. */
export interface FutexWait {
  readonly uaddr: number;
  readonly bitset: number;
  woken: boolean;
}

/**
 * A schedulable task: a process, or one thread of a multi-threaded process (clone(2) with
 * CLONE_THREAD). Threads of one group share the address space, descriptor table, signal
 * dispositions, children and interval timers by reference (the same objects), and have their own
 * tid (pid), registers, signal mask and pending signals.
 */
export class Process {
  /** The thread id (for a single-threaded process, its pid). */
  readonly pid: number;
  /** The process id: the pid of the thread group's leader (getpid(2)). */
  tgid: number;
  /** Every live thread of the group, the leader included (one Set shared by all of them). */
  threads: Set<Process>;
  /** The leader called exit(2) while other threads ran: it waits, parked, for the last of them. */
  threadExited = false;
  futexWait: FutexWait | undefined;
  parent: Process | undefined;
  pgid: number;
  sid: number;
  space: AddressSpace;
  fds: FdTable;
  cwd = "/";
  umask = 0o022;
  exe = "";
  comm = "";
  // Saved user context (valid while the process is not on the hart).
  readonly x = new BigUint64Array(32);
  readonly f = new BigUint64Array(32);
  pc = 0n;
  fcsr = 0;
  state = ProcState.Runnable;
  /** Set while the process sleeps inside a system call that will be retried when it is woken. */
  inSyscall = false;
  /** Deadline (ms, performance.now) of a nanosleep in progress, so the retry knows when it is done. */
  sleepUntil = -1;
  sleepTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The interval timers of setitimer(2), by `which` (ITIMER_REAL, VIRTUAL, PROF): the next expiry
   * (performance.now() ms, 0 = disarmed) and the period. Only ITIMER_REAL has a host timer that
   * sends SIGALRM; fork does not inherit them, execve keeps them (setitimer(2)).
   */
  itimers = [
    { due: 0, interval: 0, timer: undefined as ReturnType<typeof setTimeout> | undefined },
    { due: 0, interval: 0, timer: undefined as ReturnType<typeof setTimeout> | undefined },
    { due: 0, interval: 0, timer: undefined as ReturnType<typeof setTimeout> | undefined },
  ];
  /** POSIX timers by id (timer_create(2)); shared by the group's threads like itimers. */
  posixTimers = new Map<number, PosixTimer>();
  /** Wait status (wait(2) encoding) once a zombie. */
  waitStatus = 0;
  children = new Set<Process>();
  /** Woken when a child changes state (wait4). */
  childWait = new WaitQueue();
  actions: SigAction[] = Array.from({ length: NSIG + 1 }, () => ({ handler: SIG_DFL, flags: 0n, mask: 0n }));
  sigmask = 0n;
  /** Signals sent to this thread (tgkill, faults), not yet delivered. */
  pending = 0n;
  /**
   * Process-directed signals that every thread blocked when they came (signal(7)): the first
   * thread to unblock one takes it. Shared by the whole group (the same object).
   */
  groupPending = { bits: 0n };
  clearChildTid = 0;
  /** The mask rt_sigsuspend replaced, restored when the handler returns. */
  savedMask: bigint | undefined;
  /** vfork: the child this process waits for (until it calls execve or exits), per clone(2). */
  vforkChild: Process | undefined;
  /** vfork: this process runs in its parent's address space (which it must not free). */
  borrowedSpace = false;
  /** vfork: the parent waiting for this process. */
  vforkParent: Process | undefined;
  /** Called to make a blocked process runnable (bound by the kernel). */
  wake: () => void = () => {};
  /** Host-side CPU time accounting (instructions retired) for times()/getrusage. */
  insns = 0;
  readonly startMs = performance.now();

  constructor(pid: number, space: AddressSpace, fds: FdTable, parent?: Process) {
    this.pid = pid;
    this.space = space;
    this.fds = fds;
    this.parent = parent;
    this.pgid = parent?.pgid ?? pid;
    this.sid = parent?.sid ?? pid;
    this.tgid = pid;
    this.threads = new Set([this]);
  }

  /** The thread group's leader (whose pid is the process id). */
  get leader(): Process {
    if (this.tgid === this.pid) return this;
    for (const t of this.threads) if (t.pid === this.tgid) return t;
    return this; // the leader is always in the set while the group lives
  }
}
