// The Linux system calls, riscv64 calling convention: number in a7, arguments in a0..a5, result
// (or -errno) in a0 (riscv64 syscall(2) ABI). Each handler follows the Linux man page's semantics
// and error numbers; host file operations go through Node's fs on paths resolved by GuestFs.
//
// The handlers live by area in src/abi/syscalls/ (files, descriptors, memory, time, identity,
// signals, processes, sockets), each a table keyed by the call's name. This dispatcher turns the
// names into numbers once (SyscallTable.ts) and indexes an array per call: no allocation.
import { Errno, errnoName } from "./Errno.js";
import type { Kernel, SyscallResult } from "./Kernel.js";
import type { Process } from "./Process.js";
import { syscallName, sysno } from "./SyscallTable.js";
import { SyscallContext, type SyscallHandler, type SyscallHandlers } from "./syscalls/SyscallContext.js";
import { fileCalls } from "./syscalls/FileCalls.js";
import { descriptorCalls } from "./syscalls/DescriptorCalls.js";
import { memoryCalls } from "./syscalls/MemoryCalls.js";
import { timeCalls } from "./syscalls/TimeCalls.js";
import { identityCalls } from "./syscalls/IdentityCalls.js";
import { signalCalls } from "./syscalls/SignalCalls.js";
import { processCalls } from "./syscalls/ProcessCalls.js";
import { socketCalls } from "./syscalls/SocketCalls.js";
import { fdEventCalls } from "./syscalls/FdEventCalls.js";
import { posixTimerCalls } from "./syscalls/PosixTimerCalls.js";
import { xattrCalls } from "./syscalls/XattrCalls.js";

const AREAS: readonly SyscallHandlers[] = [
  fileCalls,
  descriptorCalls,
  memoryCalls,
  timeCalls,
  identityCalls,
  signalCalls,
  processCalls,
  socketCalls,
  fdEventCalls,
  posixTimerCalls,
  xattrCalls,
];

/** HANDLERS[nr]: the handler of system call nr (undefined: ENOSYS). Built once at load. */
const HANDLERS: (SyscallHandler | undefined)[] = (() => {
  const t: (SyscallHandler | undefined)[] = [];
  for (const area of AREAS) {
    for (const [name, h] of Object.entries(area)) {
      const nr = sysno(name);
      if (t[nr]) throw new Error(`system call ${name} has two handlers`);
      t[nr] = h;
    }
  }
  return t;
})();

/** The numbers of every system call with a handler (for tests and documentation). */
export function implementedSyscalls(): number[] {
  const out: number[] = [];
  HANDLERS.forEach((h, nr) => h && out.push(nr));
  return out;
}

export class Syscalls {
  private readonly k: Kernel;
  private readonly ctx: SyscallContext;
  private traceArgs = "";

  constructor(kernel: Kernel) {
    this.k = kernel;
    this.ctx = new SyscallContext(kernel);
  }

  dispatch(p: Process, nr: number): SyscallResult {
    this.ctx.p = p;
    if (this.k.strace) this.traceArgs = this.formatArgs(nr);
    const h = nr >= 0 ? HANDLERS[nr] : undefined;
    if (h === undefined) {
      this.k.reportUnknown(nr);
      return -Errno.ENOSYS;
    }
    return h(this.ctx, nr);
  }

  // ---- strace ----------------------------------------------------------------------------------

  private formatArgs(nr: number): string {
    const strArgs: Record<number, number[]> = {
      56: [1],
      79: [1],
      291: [1],
      34: [1],
      33: [1],
      35: [1],
      36: [0, 2],
      37: [1, 3],
      276: [1, 3],
      78: [1],
      48: [1],
      439: [1],
      53: [1],
      54: [1],
      45: [0],
      43: [0],
      49: [0],
      221: [0],
    };
    const c = this.ctx;
    const s = strArgs[nr] ?? [];
    const n = nr === 221 ? 3 : 6;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      if (s.includes(i)) {
        try {
          parts.push(JSON.stringify(c.p.space.readCString(c.ulong(i), 4096)));
        } catch {
          parts.push("0x" + c.arg(i).toString(16));
        }
      } else {
        const v = BigInt.asIntN(64, c.arg(i));
        parts.push(v > -4096n && v < 65536n ? v.toString() : "0x" + BigInt.asUintN(64, v).toString(16));
      }
    }
    return parts.join(", ");
  }

  traceReturn(p: Process, nr: number, ret: number | bigint | "?"): void {
    if (ret === "?") {
      this.k.log(`[pid ${p.pid}] ${syscallName(nr)}(${this.traceArgs}) = ?`);
      return;
    }
    const r = typeof ret === "bigint" ? Number(BigInt.asIntN(64, ret)) : ret;
    const shown = r < 0 && r > -4096 ? `-1 ${errnoName(-r)}` : r > 65535 ? "0x" + r.toString(16) : String(r);
    this.k.log(`[pid ${p.pid}] ${syscallName(nr)}(${this.traceArgs}) = ${shown}`);
  }
}
