// Linux signals as riscv64 sees them: numbers (asm-generic/signal.h), default actions (signal(7)),
// and the rt_sigframe the kernel pushes on the user stack to run a handler
// (arch/riscv/kernel/signal.c: struct rt_sigframe { siginfo_t info; struct ucontext uc; }).
import type { AddressSpace } from "./AddressSpace.js";

export const SIGHUP = 1,
  SIGINT = 2,
  SIGQUIT = 3,
  SIGILL = 4,
  SIGTRAP = 5,
  SIGABRT = 6,
  SIGBUS = 7,
  SIGFPE = 8,
  SIGKILL = 9,
  SIGUSR1 = 10,
  SIGSEGV = 11,
  SIGUSR2 = 12,
  SIGPIPE = 13,
  SIGALRM = 14,
  SIGTERM = 15,
  SIGSTKFLT = 16,
  SIGCHLD = 17,
  SIGCONT = 18,
  SIGSTOP = 19,
  SIGTSTP = 20,
  SIGTTIN = 21,
  SIGTTOU = 22,
  SIGURG = 23,
  SIGXCPU = 24,
  SIGXFSZ = 25,
  SIGVTALRM = 26,
  SIGPROF = 27,
  SIGWINCH = 28,
  SIGIO = 29,
  SIGPWR = 30,
  SIGSYS = 31;
export const NSIG = 64;

export const SIG_DFL = 0n;
export const SIG_IGN = 1n;

// sa_flags (asm-generic/signal-defs.h).
export const SA_NOCLDSTOP = 1n;
export const SA_NOCLDWAIT = 2n;
export const SA_SIGINFO = 4n;
export const SA_ONSTACK = 0x08000000n;
export const SA_RESTART = 0x10000000n;
export const SA_NODEFER = 0x40000000n;
export const SA_RESETHAND = 0x80000000n;

export interface SigAction {
  handler: bigint;
  flags: bigint;
  mask: bigint;
}

export type DefaultAction = "term" | "core" | "ign" | "stop" | "cont";

/** signal(7), "Standard signals", the Action column. */
export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return "core";
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
      return "ign";
    case SIGCONT:
      return "cont";
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return "stop";
    default:
      return "term";
  }
}

/** What a shell prints for a process killed by `sig` (glibc's strsignal / bash's messages). */
export function signalMessage(sig: number): string {
  const m: Record<number, string> = {
    [SIGHUP]: "Hangup",
    [SIGINT]: "Interrupt",
    [SIGQUIT]: "Quit",
    [SIGILL]: "Illegal instruction",
    [SIGTRAP]: "Trace/breakpoint trap",
    [SIGABRT]: "Aborted",
    [SIGBUS]: "Bus error",
    [SIGFPE]: "Floating point exception",
    [SIGKILL]: "Killed",
    [SIGUSR1]: "User defined signal 1",
    [SIGSEGV]: "Segmentation fault",
    [SIGUSR2]: "User defined signal 2",
    [SIGPIPE]: "Broken pipe",
    [SIGALRM]: "Alarm clock",
    [SIGTERM]: "Terminated",
    [SIGXCPU]: "CPU time limit exceeded",
    [SIGXFSZ]: "File size limit exceeded",
    [SIGSYS]: "Bad system call",
  };
  return m[sig] ?? `Signal ${sig}`;
}

export const sigBit = (sig: number): bigint => 1n << BigInt(sig - 1);
/** SIGKILL and SIGSTOP can be neither caught, blocked nor ignored. */
export const UNBLOCKABLE = sigBit(SIGKILL) | sigBit(SIGSTOP);

// rt_sigframe layout (riscv64): siginfo_t (128 bytes) then struct ucontext:
//   uc_flags 8, uc_link 8, uc_stack (stack_t) 24, uc_sigmask 8, __unused 120, then uc_mcontext
//   (struct sigcontext, 16-byte aligned at 176): sc_regs = pc, x1..x31 (256 bytes), then
//   __riscv_fp_state (the q variant is the union's size: f[64] u64 + fcsr u32 + 3 reserved = 528).
export const SIGINFO_SIZE = 128;
export const UC_SIGMASK = 40;
export const UC_MCONTEXT = 176;
export const SC_FPREGS = UC_MCONTEXT + 256;
export const UCONTEXT_SIZE = SC_FPREGS + 528;
export const FRAME_SIZE = SIGINFO_SIZE + UCONTEXT_SIZE;

/** The register state a signal frame saves and rt_sigreturn restores. */
export interface SavedContext {
  pc: bigint;
  /** x[0..31] (x0 unused). */
  x: BigUint64Array;
  f: BigUint64Array;
  fcsr: number;
}

/** siginfo_t fields we fill: si_signo, si_errno, si_code, then (fault) si_addr or (kill) pid/uid. */
export interface SigInfo {
  signo: number;
  code: number;
  addr?: number;
  pid?: number;
  uid?: number;
}

export function writeSigFrame(space: AddressSpace, at: number, info: SigInfo, ctx: SavedContext, mask: bigint): void {
  const b = new Uint8Array(FRAME_SIZE);
  const d = new DataView(b.buffer);
  d.setInt32(0, info.signo, true);
  d.setInt32(8, info.code, true);
  if (info.addr !== undefined) d.setBigUint64(16, BigInt(info.addr), true);
  else {
    d.setInt32(16, info.pid ?? 0, true);
    d.setInt32(20, info.uid ?? 0, true);
  }
  const uc = SIGINFO_SIZE;
  d.setBigUint64(uc + UC_SIGMASK, mask, true);
  const mc = uc + UC_MCONTEXT;
  d.setBigUint64(mc, ctx.pc, true);
  for (let i = 1; i < 32; i++) d.setBigUint64(mc + i * 8, ctx.x[i]!, true);
  const fp = uc + SC_FPREGS;
  for (let i = 0; i < 32; i++) d.setBigUint64(fp + i * 8, ctx.f[i]!, true);
  d.setUint32(fp + 32 * 8, ctx.fcsr, true);
  space.write(at, b);
}

/** Reads back the context and signal mask from a frame at `at` (rt_sigreturn). */
export function readSigFrame(space: AddressSpace, at: number): { ctx: SavedContext; mask: bigint } {
  const b = space.read(at, FRAME_SIZE);
  const d = new DataView(b.buffer);
  const uc = SIGINFO_SIZE;
  const mc = uc + UC_MCONTEXT;
  const x = new BigUint64Array(32);
  for (let i = 1; i < 32; i++) x[i] = d.getBigUint64(mc + i * 8, true);
  const f = new BigUint64Array(32);
  const fp = uc + SC_FPREGS;
  for (let i = 0; i < 32; i++) f[i] = d.getBigUint64(fp + i * 8, true);
  return {
    ctx: { pc: d.getBigUint64(mc, true), x, f, fcsr: d.getUint32(fp + 32 * 8, true) },
    mask: d.getBigUint64(uc + UC_SIGMASK, true),
  };
}
