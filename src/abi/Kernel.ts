// A small paravirtual Linux kernel in the host: it runs guest processes on one hart in U-mode and
// handles every exception the hart exits with (exitMask = all causes; Hart API contract):
//   ecall from U (cause 8)      -> the system call dispatcher (Syscalls.ts)
//   page faults (12, 13, 15)    -> the pager: demand paging, copy-on-write, else SIGSEGV
//   illegal instruction (2)     -> SIGILL; breakpoint (3) -> SIGTRAP; misaligned/access -> SIGBUS/SIGSEGV
// Processes are scheduled round-robin in time slices of instructions. A process blocked in a
// system call (pipe read, wait4, nanosleep, terminal input) is parked with its pc on the ecall and
// the call is retried when it is woken; when every process is blocked the scheduler awaits the
// host's event loop (timers, async stdin) instead of spinning.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { AddressSpace } from "./AddressSpace.js";
import { Errno, SyscallError, errnoName } from "./Errno.js";
import { FrameAllocator, OutOfFramesError } from "./FrameAllocator.js";
import { GuestFs } from "./GuestFs.js";
import { UnixNamespace } from "./LocalSocket.js";
import {
  FdTable,
  HostFile,
  HostInput,
  HostInputFile,
  O_RDONLY,
  O_WRONLY,
  WaitQueue,
  type OpenFile,
} from "./OpenFile.js";
import { Process, ProcState } from "./Process.js";
import { MissingInterpreterError, loadProgram, type LoadedImage } from "./ProgramLoader.js";
import {
  FRAME_SIZE,
  SA_NODEFER,
  SA_RESETHAND,
  SIG_DFL,
  SIG_IGN,
  SIGBUS,
  SIGCHLD,
  SIGILL,
  SIGKILL,
  SIGSEGV,
  SIGTRAP,
  SIGINFO_SIZE,
  UNBLOCKABLE,
  defaultAction,
  readSigFrame,
  sigBit,
  signalMessage,
  writeSigFrame,
  type SigInfo,
} from "./Signals.js";
import { Syscalls } from "./Syscalls.js";
import { syscallName } from "./SyscallTable.js";
import type { UserCpu } from "./UserCpu.js";
import { CSR_FCSR, CSR_MSTATUS, CSR_SATP, MS_FS } from "../riscv/Csr.js";
import { Cause } from "../riscv/Trap.js";
import { ExitReason } from "../riscv/ExitReason.js";
import type { GuestMemory } from "../memory/GuestMemory.js";
import { PAGE_SIZE } from "./FrameAllocator.js";
import { PROT_EXEC, PROT_READ } from "./AddressSpace.js";

/** Instructions per scheduling slice. */
const SLICE = 1 << 20;
/** Where the rt_sigreturn trampoline page lives (Linux uses the vDSO's __vdso_rt_sigreturn). */
export const SIGRETURN_TRAMPOLINE = 0x3f_fff0_0000;

export interface KernelOptions {
  memory: GuestMemory;
  cpu: UserCpu;
  root?: string;
  /** `exec -L DIR`: absolute paths are looked up in DIR first (GuestFs). */
  sysroot?: string;
  strace?: boolean;
  /**
   * Most guest processes at once, zombies included (RLIMIT_NPROC: fork and clone fail with EAGAIN
   * beyond it). Default DEFAULT_MAX_PROCS.
   */
  maxProcs?: number;
  /** Where --strace and kernel messages go (default: host stderr). */
  log?: (line: string) => void;
}

/** Returned by a system call handler that must sleep; the call is retried after wake(). */
export const BLOCK = Symbol("block");
/** The default process limit: a fork bomb stops there with EAGAIN, long before the pool runs out. */
export const DEFAULT_MAX_PROCS = 4096;
export type SyscallResult = number | bigint | typeof BLOCK;

export class Kernel {
  readonly memory: GuestMemory;
  readonly cpu: UserCpu;
  readonly frames: FrameAllocator;
  readonly gfs: GuestFs;
  readonly strace: boolean;
  readonly maxProcs: number;
  readonly log: (line: string) => void;
  readonly procs = new Map<number, Process>();
  readonly runQueue: Process[] = [];
  readonly uid = typeof process.getuid === "function" ? process.getuid() : 0;
  readonly gid = typeof process.getgid === "function" ? process.getgid() : 0;
  readonly syscalls: Syscalls;
  readonly stdin: HostInput;
  /** Woken whenever a signal is queued (signalfd readers wait on it). */
  readonly signalWait = new WaitQueue();
  /** Names bound by the guest's AF_UNIX sockets (LocalSocket.ts). */
  readonly unix = new UnixNamespace();
  readonly bootMs = performance.now();
  /** The terminal settings the guest sees (TCGETS/TCSETS), shared by all processes like one tty. */
  readonly termios = (() => {
    const b = new Uint8Array(36);
    const d = new DataView(b.buffer);
    d.setUint32(0, 0o002400, true);
    d.setUint32(4, 0o000005, true);
    d.setUint32(8, 0o000277, true);
    d.setUint32(12, 0o105073, true);
    b.set([3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0], 17);
    return b;
  })();
  init: Process | undefined;
  /** The process whose context is on the hart. */
  private onCpu: Process | undefined;
  private nextPid = 100;
  private idleWake: (() => void) | undefined;
  private readonly reportedUnknown = new Set<number>();
  private readonly reportedInternal = new Set<number>();
  /** The guest switched the host terminal to raw mode (TCSETS without ICANON). */
  rawTerminal = false;
  /** Set by rt_sigreturn and a successful execve: the result must not be written to a0. */
  contextReplaced = false;

  constructor(opts: KernelOptions) {
    this.memory = opts.memory;
    this.cpu = opts.cpu;
    this.frames = new FrameAllocator(opts.memory);
    this.gfs = new GuestFs(opts.root, opts.sysroot);
    this.strace = opts.strace ?? false;
    this.maxProcs = opts.maxProcs ?? DEFAULT_MAX_PROCS;
    this.log = opts.log ?? ((l) => process.stderr.write(l + "\n"));
    this.syscalls = new Syscalls(this);
    this.stdin = new HostInput(0);
    // U-mode with every exception exiting to us (Hart contract exitMask), FP enabled
    // (mstatus.FS = Dirty, Privileged ISA 3.1.6.6) so F/D instructions do not trap.
    this.cpu.exitMask = 0xffff_ffff;
    this.cpu.priv = 0;
    this.cpu.writeCsr(CSR_MSTATUS, this.cpu.readCsr(CSR_MSTATUS) | BigInt(MS_FS));
  }

  // ---- process creation ----------------------------------------------------------------------

  /** The initial descriptor table: the host's stdin, stdout and stderr. */
  private stdioTable(): FdTable {
    const t = new FdTable();
    const modes = [O_RDONLY, O_WRONLY, O_WRONLY];
    for (let fd = 0; fd < 3; fd++) {
      let file: OpenFile;
      let st: fs.Stats | undefined;
      try {
        st = fs.fstatSync(fd);
      } catch {
        st = undefined;
      }
      if (!st) continue;
      if (fd === 0 && !st.isFile()) file = new HostInputFile(O_RDONLY, this.stdin);
      else file = new HostFile(modes[fd]!, fd, `/dev/fd/${fd}`, false, false, true);
      t.install(fd, file, false);
    }
    return t;
  }

  allocPid(): number {
    while (this.procs.has(this.nextPid)) this.nextPid++;
    return this.nextPid++;
  }

  newProcess(space: AddressSpace, fds: FdTable, parent?: Process): Process {
    const p = new Process(this.allocPid(), space, fds, parent);
    p.wake = () => {
      if (p.state !== ProcState.Blocked || p.threadExited) return;
      p.state = ProcState.Runnable;
      this.runQueue.push(p);
      const w = this.idleWake;
      this.idleWake = undefined;
      w?.();
    };
    this.procs.set(p.pid, p);
    parent?.children.add(p);
    return p;
  }

  /**
   * A new thread in p's group (clone with CLONE_VM|CLONE_THREAD...): the same address space,
   * descriptor table, signal dispositions, children and timers (the same objects); its own tid.
   */
  newThread(p: Process): Process {
    const leader = p.leader;
    const t = this.newProcess(p.space, p.fds, undefined);
    t.parent = leader.parent;
    t.pgid = leader.pgid;
    t.sid = leader.sid;
    t.tgid = leader.tgid;
    t.threads = p.threads;
    t.threads.add(t);
    t.borrowedSpace = true; // the group's space goes with the process, not with a thread
    t.children = leader.children;
    t.childWait = leader.childWait;
    t.actions = leader.actions;
    t.itimers = leader.itimers;
    t.posixTimers = leader.posixTimers;
    t.groupPending = leader.groupPending;
    t.cwd = p.cwd;
    t.umask = p.umask;
    t.exe = p.exe;
    t.comm = p.comm;
    return t;
  }

  // ---- futexes (futex(2)) --------------------------------------------------------------------

  /** Threads blocked in FUTEX_WAIT, per address space and user address. */
  private readonly futexQueues = new WeakMap<AddressSpace, Map<number, Set<Process>>>();

  futexQueue(space: AddressSpace, uaddr: number, create: boolean): Set<Process> | undefined {
    let m = this.futexQueues.get(space);
    if (!m) {
      if (!create) return undefined;
      m = new Map();
      this.futexQueues.set(space, m);
    }
    let q = m.get(uaddr);
    if (!q && create) {
      q = new Set();
      m.set(uaddr, q);
    }
    return q;
  }

  /**
   * Wakes up to n threads waiting on uaddr whose bitset meets `bitset`; returns how many. With
   * `requeueTo`, up to `requeue` more waiters move to that address instead (FUTEX_CMP_REQUEUE).
   */
  futexWake(space: AddressSpace, uaddr: number, n: number, bitset: number, requeueTo?: number, requeue = 0): number {
    const q = this.futexQueue(space, uaddr, false);
    if (!q) return 0;
    let woken = 0;
    let moved = 0;
    for (const t of q) {
      const w = t.futexWait;
      // A waiter that left (signal, timeout, exit) is no longer counted.
      if (!w || w.uaddr !== uaddr || t.state !== ProcState.Blocked || !t.inSyscall) {
        q.delete(t);
        continue;
      }
      if ((w.bitset & bitset) === 0) continue;
      if (woken < n) {
        q.delete(t);
        w.woken = true;
        t.wake();
        woken++;
      } else if (requeueTo !== undefined && moved < requeue) {
        q.delete(t);
        t.futexWait = { uaddr: requeueTo, bitset: w.bitset, woken: false };
        this.futexQueue(space, requeueTo, true)!.add(t);
        moved++;
      } else break;
    }
    if (q.size === 0) this.futexQueues.get(space)?.delete(uaddr);
    return woken + moved;
  }

  /** The sigreturn trampoline: `li a7, 139 (rt_sigreturn); ecall`, mapped read+exec in every space. */
  mapTrampoline(space: AddressSpace): void {
    space.map(SIGRETURN_TRAMPOLINE, PAGE_SIZE, PROT_READ | PROT_EXEC, "[vdso]");
    const code = new Uint8Array(8);
    const d = new DataView(code.buffer);
    d.setUint32(0, (139 << 20) | (17 << 7) | 0x13, true); // addi a7, x0, 139
    d.setUint32(4, 0x73, true); // ecall
    space.populate(SIGRETURN_TRAMPOLINE, code, PROT_READ | PROT_EXEC);
  }

  /** Loads `path` into a fresh space; throws SyscallError on failure (nothing changed then). */
  loadInto(path: string, argv: Uint8Array[], envp: Uint8Array[], cwd: string): LoadedImage {
    const space = new AddressSpace(this.frames);
    try {
      const img = loadProgram({
        gfs: this.gfs,
        cwd,
        path,
        argv,
        envp,
        random: crypto.randomBytes(16),
        identity: { uid: this.uid, gid: this.gid },
        space,
      });
      this.mapTrampoline(space);
      return img;
    } catch (e) {
      space.destroy();
      if (e instanceof OutOfFramesError) throw new SyscallError(Errno.ENOMEM);
      throw e;
    }
  }

  /** Starts the first process. Errors are thrown as Error with a message for the user. */
  spawn(path: string, argv: string[], env: string[]): Process {
    const enc = (s: string) => Buffer.from(s, "utf8");
    // Without --root the program starts in the host's working directory, as under qemu-user.
    const cwd = this.gfs.root === undefined ? process.cwd() : "/";
    let img: LoadedImage;
    try {
      img = this.loadInto(path, argv.map(enc), env.map(enc), cwd);
    } catch (e) {
      if (e instanceof MissingInterpreterError) {
        const where = this.gfs.searchedFor(e.interpreter).join(" and ");
        const fix =
          this.gfs.root !== undefined
            ? "it must be inside --root"
            : "give the directory that holds it with -L DIR (e.g. -L /usr/riscv64-linux-gnu from gcc-riscv64-linux-gnu's libc6-riscv64-cross) or use --root";
        throw new Error(
          `${path}: its program interpreter ${e.interpreter} was not found (looked for ${where}); ${fix}`,
        );
      }
      if (e instanceof SyscallError) {
        const why: Record<number, string> = {
          [Errno.ENOENT]: "no such file (inside --root, if given)",
          [Errno.EACCES]: "not an executable file (check its mode)",
          [Errno.ENOEXEC]: "not a RISC-V 64 Linux ELF program",
          [Errno.ELIBBAD]: "bad program interpreter",
        };
        throw new Error(`${path}: ${why[e.errno] ?? errnoName(e.errno)}`);
      }
      throw e;
    }
    const p = this.newProcess(img.space, this.stdioTable());
    p.cwd = cwd;
    this.setImage(p, img);
    this.init = p;
    this.runQueue.push(p);
    return p;
  }

  /** Wakes the parent blocked in vfork on p (p called execve or exited). */
  releaseVforkParent(p: Process): void {
    const parent = p.vforkParent;
    if (!parent) return;
    p.vforkParent = undefined;
    parent.vforkChild = undefined;
    parent.wake();
  }

  /** Installs a loaded image as p's program: fresh registers (Linux start_thread). */
  setImage(p: Process, img: LoadedImage): void {
    p.space = img.space;
    p.exe = img.exe;
    p.comm = img.comm;
    p.x.fill(0n);
    p.f.fill(0n);
    p.fcsr = 0;
    p.x[2] = BigInt(img.sp);
    p.pc = BigInt(img.pc);
    if (this.onCpu === p) this.loadContext(p); // the hart now runs the new image
  }

  // ---- context switching ---------------------------------------------------------------------

  private saveContext(p: Process): void {
    const c = this.cpu;
    for (let i = 1; i < 32; i++) p.x[i] = c.getX(i);
    for (let i = 0; i < 32; i++) p.f[i] = c.getF(i);
    p.pc = c.getPc();
    p.fcsr = Number(c.readCsr(CSR_FCSR));
  }

  private loadContext(p: Process): void {
    const c = this.cpu;
    for (let i = 1; i < 32; i++) c.setX(i, p.x[i]!);
    for (let i = 0; i < 32; i++) c.setF(i, p.f[i]!);
    c.setPc(p.pc);
    c.writeCsr(CSR_FCSR, BigInt(p.fcsr));
    c.writeCsr(CSR_SATP, p.space.satp());
    c.priv = 0;
    c.flushTlb();
    // Another task's SC must not succeed on this one's LR (a slice can end between LR and SC).
    c.clearReservation();
    p.space.tlbStale = false;
  }

  /** Makes p's context the live one on the hart. */
  private switchTo(p: Process): void {
    if (this.onCpu === p) return;
    if (this.onCpu && this.onCpu.state !== ProcState.Zombie) this.saveContext(this.onCpu);
    this.loadContext(p);
    this.onCpu = p;
  }

  /** Brings p's saved context up to date if it is on the hart (before fork, signal delivery...). */
  syncOut(p: Process): void {
    if (this.onCpu === p) this.saveContext(p);
  }

  /** After changing p's saved context (sigreturn, exec), reload it if p is on the hart. */
  syncIn(p: Process): void {
    if (this.onCpu === p) this.loadContext(p);
  }

  // ---- the scheduler -------------------------------------------------------------------------

  /** Runs until the first process exits; returns its exit status as a shell reports it. */
  async run(): Promise<number> {
    const init = this.init;
    if (!init) throw new Error("no process to run");
    let lastYield = performance.now();
    // Signals sent to Typevisor (Ctrl-C on the terminal, kill) go to the guest's process group,
    // as the terminal driver would send them to the foreground job.
    const forward = (name: NodeJS.Signals, sig: number) => {
      const h = () => {
        for (const q of this.procs.values())
          if (q.state !== ProcState.Zombie && q.pgid === init.pgid) this.sendSignal(q, sig);
      };
      process.on(name, h);
      return () => process.off(name, h);
    };
    const unhook = [forward("SIGINT", 2), forward("SIGTERM", 15), forward("SIGHUP", 1), forward("SIGQUIT", 3)];
    try {
      await this.schedule(init, lastYield);
    } finally {
      for (const u of unhook) u();
      // Leave the host terminal as we found it, whatever mode the guest put it in.
      // (process.stdin is looked at only when the guest could have changed it: creating it costs
      // every short program ~10 ms.)
      if (this.rawTerminal && process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
    }
    const st = init.waitStatus;
    for (const p of this.procs.values()) if (p.state !== ProcState.Zombie) this.exitProcess(p, SIGKILL, true);
    this.unix.dispose();
    if ((st & 0x7f) === 0) return (st >> 8) & 0xff;
    const sig = st & 0x7f;
    // Shells stay quiet about SIGINT and SIGPIPE deaths; other signals get their message.
    if (sig !== 2 && sig !== 13) this.log(signalMessage(sig) + (st & 0x80 ? " (core dumped)" : ""));
    return 128 + sig;
  }

  private async schedule(init: Process, lastYield: number): Promise<void> {
    while (init.state !== ProcState.Zombie) {
      const p = this.runQueue.shift();
      if (!p) {
        // Every process sleeps. Keep the host's event loop alive meanwhile (a guest deadlock hangs,
        // as it would on Linux, and Ctrl-C still reaches it) until a timer, input or signal wakes one.
        const keepAlive = setInterval(() => {}, 1 << 30);
        await new Promise<void>((r) => (this.idleWake = r));
        clearInterval(keepAlive);
        lastYield = performance.now();
        continue;
      }
      if (p.state !== ProcState.Runnable) continue;
      try {
        this.runSlice(p);
      } catch (e) {
        if (e instanceof OutOfFramesError) this.oomKill(p, e);
        else {
          // An internal error while running p ends p (as a kernel oops ends the faulting task), not Typevisor.
          this.log(
            `typevisor: internal error running pid ${p.pid}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
          );
          if (this.onCpu === p) this.onCpu = undefined;
          this.exitProcess(p, SIGKILL, true);
        }
      }
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- exitProcess() above may have changed p.state; TypeScript keeps the narrowing (microsoft/TypeScript#9998)
      if (p.state === ProcState.Runnable) this.runQueue.push(p);
      const now = performance.now();
      if (now - lastYield > 25) {
        // Let the host's event loop run: timers (nanosleep), async stdin, SIGINT.
        await new Promise<void>((r) => setImmediate(r));
        lastYield = performance.now();
      }
    }
  }

  /** Runs p for one slice, handling its traps, until it blocks, exits or the slice ends. */
  private runSlice(p: Process): void {
    this.switchTo(p);
    if (p.inSyscall) {
      if (this.interruptedBySignal(p)) {
        p.inSyscall = false;
        p.sleepUntil = -1;
        p.futexWait = undefined;
        this.finishSyscall(p, -Errno.EINTR);
      } else {
        p.inSyscall = false;
        if (!this.doSyscall(p)) return;
      }
    }
    if (!this.deliverSignals(p)) return;
    const cpu = this.cpu;
    let budget = SLICE;
    while (budget > 0) {
      const before = budget;
      const r = cpu.run(budget);
      budget = 0; // Budget exit: slice over. Trap exits refine below.
      if (r !== ExitReason.Trap) {
        p.insns += before;
        break;
      }
      budget = before >> 1; // approximate: we do not know exactly how many retired before the trap
      const cause = cpu.exitCause;
      if (cause === Cause.EcallU) {
        if (!this.doSyscall(p)) return;
      } else if (cause === Cause.LoadPageFault || cause === Cause.StorePageFault || cause === Cause.InsnPageFault) {
        const va = Number(BigInt.asUintN(64, BigInt(cpu.exitTval)));
        const kind = cause === Cause.StorePageFault ? 1 : cause === Cause.InsnPageFault ? 2 : 0;
        let ok = false;
        try {
          ok = p.space.handleFault(va, kind);
        } catch (e) {
          if (!(e instanceof OutOfFramesError)) throw e;
          this.oomKill(p, e);
          return;
        }
        if (ok) {
          if (p.space.tlbStale) {
            cpu.flushTlb();
            p.space.tlbStale = false;
          }
          continue;
        }
        // SEGV_MAPERR (1) when nothing is mapped there, SEGV_ACCERR (2) when the mapping forbids it.
        this.forceSignal(p, SIGSEGV, { signo: SIGSEGV, code: p.space.findVma(va) ? 2 : 1, addr: va });
      } else if (cause === Cause.IllegalInsn) {
        this.forceSignal(p, SIGILL, { signo: SIGILL, code: 1, addr: Number(cpu.getPc()) });
      } else if (cause === Cause.Breakpoint) {
        this.forceSignal(p, SIGTRAP, { signo: SIGTRAP, code: 1, addr: Number(cpu.getPc()) });
      } else if (cause === Cause.LoadMisaligned || cause === Cause.StoreMisaligned || cause === Cause.InsnMisaligned) {
        this.forceSignal(p, SIGBUS, { signo: SIGBUS, code: 1, addr: Number(BigInt.asUintN(64, BigInt(cpu.exitTval))) });
      } else if (
        cause === Cause.LoadAccessFault ||
        cause === Cause.StoreAccessFault ||
        cause === Cause.InsnAccessFault
      ) {
        this.forceSignal(p, SIGSEGV, {
          signo: SIGSEGV,
          code: 2,
          addr: Number(BigInt.asUintN(64, BigInt(cpu.exitTval))),
        });
      } else {
        this.forceSignal(p, SIGILL, { signo: SIGILL, code: 0, addr: Number(cpu.getPc()) });
      }
      if (!this.deliverSignals(p)) return;
    }
  }

  /** Dispatches the system call in p's registers. Returns false if p stopped running (blocked/exited/switched). */
  private doSyscall(p: Process): boolean {
    const cpu = this.cpu;
    const nr = Number(cpu.getX(17));
    let ret: SyscallResult;
    this.contextReplaced = false;
    try {
      ret = this.syscalls.dispatch(p, nr);
    } catch (e) {
      if (e instanceof SyscallError) ret = -e.errno;
      else if (e instanceof OutOfFramesError) ret = -Errno.ENOMEM;
      else {
        // A bug on our side must not take Typevisor (and every other guest process) down: the
        // call fails with EIO and the problem is reported once per system call.
        if (!this.reportedInternal.has(nr)) {
          this.reportedInternal.add(nr);
          this.log(
            `typevisor: internal error in ${syscallName(nr)}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)} (returning -EIO; please report)`,
          );
        }
        ret = -Errno.EIO;
      }
    }
    if (ret === BLOCK) {
      p.inSyscall = true;
      p.state = ProcState.Blocked;
      return false;
    }
    if (p.state === ProcState.Zombie) {
      if (this.strace) this.syscalls.traceReturn(p, nr, "?");
      return false;
    }
    if (this.strace && nr !== 139) this.syscalls.traceReturn(p, nr, ret);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the system call just dispatched; TypeScript does not see writes in callees (microsoft/TypeScript#9998)
    if (this.contextReplaced) {
      // rt_sigreturn and a successful execve set the whole context themselves.
      this.contextReplaced = false;
      if (p.space.tlbStale) {
        cpu.flushTlb();
        p.space.tlbStale = false;
      }
      return this.deliverSignals(p);
    }
    this.finishSyscall(p, ret);
    if (p.vforkChild) {
      // vfork: the parent sleeps until the child has called execve or exited (clone(2) CLONE_VFORK).
      p.state = ProcState.Blocked;
      return false;
    }
    return this.deliverSignals(p);
  }

  private finishSyscall(p: Process, ret: number | bigint): void {
    const cpu = this.cpu;
    cpu.setX(10, BigInt.asUintN(64, BigInt(ret)));
    cpu.setPc(cpu.getPc() + 4n);
    if (p.space.tlbStale) {
      cpu.flushTlb();
      p.space.tlbStale = false;
    }
  }

  /** Reports an unimplemented system call once per number. */
  reportUnknown(nr: number): void {
    if (this.reportedUnknown.has(nr)) return;
    this.reportedUnknown.add(nr);
    this.log(`typevisor: unsupported system call ${nr} (${syscallName(nr)}), returning -ENOSYS`);
  }

  // ---- signals -------------------------------------------------------------------------------

  /** Sends sig to p (kill(2) semantics); wakes p if it sleeps in a system call. */
  sendSignal(p: Process, sig: number): void {
    if (p.state === ProcState.Zombie || sig === 0) return;
    const act = p.actions[sig]!;
    const blocked = (p.sigmask & sigBit(sig)) !== 0n;
    if (sig !== SIGKILL && act.handler === SIG_IGN) return;
    // A blocked signal is queued even when its default is to ignore it: the handler may change
    // before it is unblocked, and a signalfd reads it (Linux sig_ignored()).
    if (sig !== SIGKILL && !blocked && act.handler === SIG_DFL && defaultAction(sig) === "ign") return;
    p.pending |= sigBit(sig);
    if (p.state === ProcState.Blocked && !blocked) this.cancelSleep(p);
    this.signalWait.wakeAll();
  }

  /**
   * A process-directed signal (kill(2), a timer): taken by a thread of p's group that does not
   * block it, the leader first; if all block it, it waits in the group's pending set.
   */
  sendGroupSignal(p: Process, sig: number): void {
    const leader = p.leader;
    if (leader.state === ProcState.Zombie || sig === 0) return;
    const bit = sigBit(sig);
    let to: Process | undefined;
    if (!leader.threadExited && (leader.sigmask & bit) === 0n) to = leader;
    else {
      for (const t of leader.threads) {
        if (!t.threadExited && t.state !== ProcState.Zombie && (t.sigmask & bit) === 0n) {
          to = t;
          break;
        }
      }
    }
    if (to || sig === SIGKILL) {
      this.sendSignal(to ?? leader, sig);
      return;
    }
    const act = leader.actions[sig]!;
    if (act.handler === SIG_IGN) return;
    leader.groupPending.bits |= bit;
    this.signalWait.wakeAll();
  }

  private cancelSleep(p: Process): void {
    if (p.sleepTimer) clearTimeout(p.sleepTimer);
    p.sleepTimer = undefined;
    p.wake();
  }

  /** A synchronous fault signal: cannot be blocked or ignored usefully (Linux force_sig_fault). */
  private forceSignal(p: Process, sig: number, info: SigInfo): void {
    const act = p.actions[sig]!;
    if (act.handler === SIG_IGN || (p.sigmask & sigBit(sig)) !== 0n) {
      act.handler = SIG_DFL;
      p.sigmask &= ~sigBit(sig);
    }
    if (act.handler === SIG_DFL) {
      this.exitProcess(p, sig, true);
      return;
    }
    p.pending &= ~sigBit(sig);
    this.runHandler(p, sig, info);
  }

  private interruptedBySignal(p: Process): boolean {
    const pending = p.pending | p.groupPending.bits;
    return (pending & ~p.sigmask & ~UNBLOCKABLE) !== 0n || (pending & UNBLOCKABLE) !== 0n;
  }

  /** Delivers pending unblocked signals to p. Returns false if p died. */
  deliverSignals(p: Process): boolean {
    while (p.state !== ProcState.Zombie) {
      const ready = (p.pending | p.groupPending.bits) & (~p.sigmask | UNBLOCKABLE);
      if (ready === 0n) return true;
      let sig = 1;
      while ((ready & sigBit(sig)) === 0n) sig++;
      if (p.pending & sigBit(sig)) p.pending &= ~sigBit(sig);
      else p.groupPending.bits &= ~sigBit(sig);
      const act = p.actions[sig]!;
      if (sig === SIGKILL || act.handler === SIG_DFL) {
        const a = sig === SIGKILL ? "term" : defaultAction(sig);
        if (a === "ign" || a === "cont" || a === "stop") continue; // job-control stops are not modelled
        this.exitProcess(p, sig, true, a === "core");
        return false;
      }
      if (act.handler === SIG_IGN) continue;
      this.runHandler(p, sig, { signo: sig, code: 0, pid: p.pid, uid: this.uid });
    }
    return false;
  }

  /** Pushes an rt_sigframe and redirects p to the handler (arch/riscv/kernel/signal.c setup_rt_frame). */
  private runHandler(p: Process, sig: number, info: SigInfo): void {
    this.syncOut(p);
    const act = p.actions[sig]!;
    const sp = Number(p.x[2]!);
    const frame = Math.floor((sp - FRAME_SIZE) / 16) * 16;
    try {
      writeSigFrame(p.space, frame, info, { pc: p.pc, x: p.x, f: p.f, fcsr: p.fcsr }, p.savedMask ?? p.sigmask);
    } catch {
      // No room for the frame: Linux kills the process with SIGSEGV.
      this.exitProcess(p, SIGSEGV, true);
      return;
    }
    p.savedMask = undefined;
    let mask = p.sigmask | act.mask;
    if ((act.flags & SA_NODEFER) === 0n) mask |= sigBit(sig);
    p.sigmask = mask & ~UNBLOCKABLE;
    if (act.flags & SA_RESETHAND) act.handler = SIG_DFL;
    p.x[2] = BigInt(frame);
    p.x[1] = BigInt(SIGRETURN_TRAMPOLINE); // ra
    p.x[10] = BigInt(sig);
    p.x[11] = BigInt(frame);
    p.x[12] = BigInt(frame + SIGINFO_SIZE);
    p.pc = act.handler;
    this.syncIn(p);
  }

  /** rt_sigreturn: restores the context saved in the frame at sp. */
  sigreturn(p: Process): void {
    this.syncOut(p);
    const frame = Number(p.x[2]!);
    const { ctx, mask } = readSigFrame(p.space, frame);
    p.x.set(ctx.x);
    p.f.set(ctx.f);
    p.fcsr = ctx.fcsr;
    p.pc = ctx.pc;
    p.sigmask = mask & ~UNBLOCKABLE;
    this.syncIn(p);
    this.contextReplaced = true;
  }

  // ---- exit ----------------------------------------------------------------------------------

  /**
   * A page p needs cannot get a frame: p dies of SIGKILL, as Linux's OOM killer ends a task
   * (mm/oom_kill.c), and the kernel says so on stderr. Only p ends; its frames return to the pool.
   */
  oomKill(p: Process, e: OutOfFramesError): void {
    this.log(`typevisor: out of memory: killed process ${p.pid} (${p.comm}): ${e.message}`);
    if (this.onCpu === p) this.onCpu = undefined;
    this.exitProcess(p, SIGKILL, true);
  }

  /**
   * Ends one thread (exit(2)): its clear_child_tid word is zeroed and woken (pthread_join waits
   * on it, per set_tid_address(2)). The last thread to go ends the process with its code.
   */
  exitThread(p: Process, code: number): void {
    if (p.state === ProcState.Zombie || p.threadExited) return;
    const live = [...p.threads].filter((t) => !t.threadExited && t.state !== ProcState.Zombie);
    if (live.length <= 1) {
      this.exitProcess(p, code, false);
      return;
    }
    this.clearChildTid(p);
    if (p.pid === p.tgid) {
      // The leader stays (it is the process its parent waits for), parked until the last thread.
      p.threadExited = true;
      p.state = ProcState.Blocked;
      p.inSyscall = false;
      const idx = this.runQueue.indexOf(p);
      if (idx >= 0) this.runQueue.splice(idx, 1);
      if (this.onCpu === p) this.onCpu = undefined;
      return;
    }
    this.removeThread(p);
  }

  private clearChildTid(p: Process): void {
    const a = p.clearChildTid;
    p.clearChildTid = 0;
    if (a === 0) return;
    try {
      p.space.writeU32(a, 0);
      this.futexWake(p.space, a, 1, -1);
    } catch {
      // An unmapped clear_child_tid address is ignored, as Linux ignores the fault.
    }
  }

  /** exit and execve delete the process's POSIX timers (timer_create(2)). */
  deletePosixTimers(p: Process): void {
    for (const t of p.posixTimers.values()) if (t.timer) clearTimeout(t.timer);
    p.posixTimers.clear();
  }

  /** execve in a multi-threaded process: every other thread ends first (de_thread). */
  endOtherThreads(p: Process): void {
    for (const t of [...p.threads]) if (t !== p) this.removeThread(t);
  }

  /** Takes a non-leader thread out of its group and the scheduler (nothing shared is freed). */
  private removeThread(t: Process): void {
    if (t.pid === t.tgid) {
      // The leader object carries the process (its parent waits for it): park it instead.
      t.threadExited = true;
      t.state = ProcState.Blocked;
    }
    if (t.sleepTimer) clearTimeout(t.sleepTimer);
    t.state = ProcState.Zombie;
    t.inSyscall = false;
    t.futexWait = undefined;
    const idx = this.runQueue.indexOf(t);
    if (idx >= 0) this.runQueue.splice(idx, 1);
    if (this.onCpu === t) this.onCpu = undefined;
    t.threads.delete(t);
    this.procs.delete(t.pid);
  }

  /** Ends p: by exit(code) (signaled = false: sig is the code) or by signal `sig`. */
  exitProcess(p: Process, sigOrCode: number, signaled: boolean, _core = false): void {
    if (p.state === ProcState.Zombie) return;
    if (p.threads.size > 1 || p.pid !== p.tgid) {
      // exit_group, a fatal signal or the end of exec: every thread goes, then the process (the
      // leader) ends with this status.
      const leader = p.leader;
      for (const t of [...p.threads]) if (t !== leader) this.removeThread(t);
      leader.threadExited = false;
      if (leader.state === ProcState.Zombie) return;
      p = leader;
    }
    // No core files are written (RLIMIT_CORE is 0), so the WCOREDUMP bit (0x80) stays clear, as on Linux.
    if (signaled) p.waitStatus = sigOrCode & 0x7f;
    else p.waitStatus = (sigOrCode & 0xff) << 8;
    if (p.sleepTimer) clearTimeout(p.sleepTimer);
    for (const t of p.itimers) if (t.timer) clearTimeout(t.timer);
    this.deletePosixTimers(p);
    p.state = ProcState.Zombie;
    p.inSyscall = false;
    this.releaseVforkParent(p);
    const idx = this.runQueue.indexOf(p);
    if (idx >= 0) this.runQueue.splice(idx, 1);
    p.fds.closeAll();
    if (this.onCpu === p) this.onCpu = undefined;
    if (!p.borrowedSpace) p.space.destroy();
    // Orphans are adopted by the first process (our "init"), which reaps them if it waits.
    for (const c of p.children) {
      c.parent = this.init !== p ? this.init : undefined;
      if (c.parent) c.parent.children.add(c);
      else if (c.state === ProcState.Zombie) this.procs.delete(c.pid);
    }
    p.children.clear();
    const parent = p.parent;
    if (parent && parent.state !== ProcState.Zombie) {
      this.sendSignal(parent, SIGCHLD);
      parent.childWait.wakeAll();
    } else if (p !== this.init) {
      this.procs.delete(p.pid);
    }
  }
}
