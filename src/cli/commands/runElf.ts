// `typevisor run-elf`: runs a bare-metal RV64 program (riscv-tests style) on one hart in M-mode with
// RAM at 0x8000_0000 and the HTIF tohost/fromhost protocol (src/devices/Htif.ts) for output and exit.
// A small CLINT (SiFive layout, as on Spike and QEMU's spike/virt boards) at 0x0200_0000 gives the
// program msip and mtimecmp (Privileged ISA 3.2.1 "Machine Timer Registers").
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { Command } from "../Command.js";
import { UsageError, parseCommandArgs, parseSize } from "../Command.js";
import { parseElf, ElfError, EM_RISCV } from "../../boot/Elf.js";
import { loadElf, loadSpan, ElfLoadError } from "../../boot/ElfLoader.js";
import { Htif } from "../../devices/Htif.js";
import { GuestMemory } from "../../vmm/GuestMemory.js";
import { IoBus, type BusDevice } from "../../vmm/IoBus.js";
import { Hart, ExitReason, PRIV_M, type MachineTimer } from "../../riscv/Hart.js";
import { ENGINE_USAGE, engineBytes, engineStats, parseEngine, useEngine, type EngineName } from "../../dbt/Engine.js";

const RAM_BASE = 0x8000_0000;
const CLINT_BASE = 0x0200_0000;
const CLINT_SIZE = 0x10000;
/** Instructions per run() slice between two tohost polls. */
const SLICE = 1 << 14;

const usage = `Usage: typevisor run-elf PROGRAM.elf [options]

Runs a bare-metal RV64 ELF (linked for RAM at 0x80000000) on one hart, starting at e_entry in
M-mode. The program talks to the host through HTIF: the ELF's 'tohost' and 'fromhost' symbols.
Writing (code << 1) | 1 to tohost exits: 1 = pass (status 0), anything else = failure of test
number 'code' (status 1). Console output: HTIF bcd putchar or the riscv-tests syscall block
(SYS_write to fd 1/2, SYS_exit).

Options:
  --max-insns N   stop after N instructions (status 3)
  --timeout S     stop after S seconds of wall time (status 3; default 60)
  --memory SIZE   RAM size (default 64M; e.g. 16M, 256M)
  --stats         print instructions retired, time and MIPS on stderr
  --trace         print pc and instruction word of every instruction on stderr (slow)
${ENGINE_USAGE}

Exit status: 0 pass, 1 the program reported a failure, 2 bad arguments or not a usable RV64 ELF,
3 timeout / instruction limit, 4 the program did something the runner does not support.`;

/** Virtual time: wall clock plus whatever was skipped while the hart waited in wfi. */
class BareTimer implements MachineTimer {
  readonly frequency = 10_000_000;
  private readonly t0 = performance.now();
  skipped = 0;
  now(): number {
    return Math.floor((performance.now() - this.t0) * 10_000) + this.skipped;
  }
}

/** SiFive CLINT register layout: msip at 0x0, mtimecmp at 0x4000, mtime at 0xbff8 (hart 0 only). */
class BareClint implements BusDevice {
  readonly name = "clint";
  hart: Hart | undefined;
  constructor(private readonly timer: BareTimer) {}
  read64(off: number): bigint {
    if (off === 0xbff8) return BigInt(this.timer.now());
    if (off === 0x4000) return this.hart?.mtimecmp ?? 0n;
    return BigInt(this.read(off, 4));
  }
  write64(off: number, v: bigint): void {
    if (off === 0x4000 && this.hart) this.hart.mtimecmp = v;
    else this.write(off, 4, Number(v & 0xffff_ffffn));
  }
  private msip = 0;
  read(off: number, size: 1 | 2 | 4): number {
    if (off === 0) return this.msip;
    if (off === 0xbff8 || off === 0xbffc || off === 0x4000 || off === 0x4004) {
      const v = off >= 0xbff8 ? this.read64(0xbff8) : this.read64(0x4000);
      const w = off & 4 ? Number(v >> 32n) : Number(v & 0xffff_ffffn);
      return size === 4 ? w >>> 0 : w & (size === 2 ? 0xffff : 0xff);
    }
    return 0;
  }
  write(off: number, _size: 1 | 2 | 4, value: number): void {
    if (off === 0) {
      this.msip = value & 1;
      this.hart?.setInterruptPending(3, this.msip === 1); // MSIP, Privileged ISA 3.1.9
    } else if ((off === 0x4000 || off === 0x4004) && this.hart) {
      const old = this.hart.mtimecmp;
      this.hart.mtimecmp = off === 0x4000
        ? (old & 0xffff_ffff_0000_0000n) | BigInt(value >>> 0)
        : (old & 0xffff_ffffn) | (BigInt(value >>> 0) << 32n);
    }
  }
}

export interface BareRunOptions {
  memory?: number;
  maxInsns?: number;
  timeoutSeconds?: number;
  trace?: boolean;
  /** CPU engine (default interp). */
  engine?: EngineName;
  write?(fd: 1 | 2, data: Uint8Array): void;
}

export interface BareRunResult {
  /** 0 pass, 1 failed (code = test number), 3 timeout/limit, 4 unsupported guest behaviour. */
  status: 0 | 1 | 3 | 4;
  /** Exit code reported by the program (tohost >> 1), when it exited. */
  code?: number;
  message: string;
  instret: number;
  seconds: number;
  /** The engine's --stats lines ('' for the interpreter). */
  engineStats?: string;
}

/** Loads and runs a bare-metal ELF. Throws ElfError/ElfLoadError/UsageError for an unusable file. */
export function runBareElf(bytes: Uint8Array, name: string, opts: BareRunOptions = {}): BareRunResult {
  const elf = parseElf(bytes, name, { machine: EM_RISCV });
  const tohost = elf.symbol("tohost");
  if (tohost === undefined) {
    throw new UsageError(`run-elf: ${name} has no 'tohost' symbol: a bare-metal program must define tohost/fromhost (HTIF) to report its result`);
  }
  const fromhost = elf.symbol("fromhost");
  const span = loadSpan(elf);
  let size = opts.memory ?? 64 << 20;
  if (span.low < RAM_BASE) {
    throw new ElfLoadError(name, `is linked at 0x${span.low.toString(16)}, below RAM at 0x80000000 (link it with -Ttext=0x80000000 or a linker script)`);
  }
  size = Math.max(size, Math.ceil((span.high - RAM_BASE) / 4096) * 4096);
  const memory = new GuestMemory({ base: RAM_BASE, size, shared: false, engineBytes: engineBytes(opts.engine) });
  const loaded = loadElf(elf, memory);
  const bus = new IoBus("mmio");
  const timer = new BareTimer();
  const clint = new BareClint(timer);
  bus.map(CLINT_BASE, CLINT_SIZE, clint);
  const hart = new Hart({ memory, bus, hartId: 0, timer });
  clint.hart = hart;
  const dbt = useEngine(hart, opts.engine);
  const write = opts.write ?? ((fd: 1 | 2, d: Uint8Array) => (fd === 1 ? process.stdout : process.stderr).write(d));
  const htif = new Htif({ memory, tohost: Number(tohost), fromhost: fromhost === undefined ? undefined : Number(fromhost), write });
  hart.priv = PRIV_M;
  hart.setPc(loaded.entry);
  hart.setX(10, 0n); // a0 = hart id, a1 = no device tree (the conventions of a firmware hand-off)
  hart.setX(11, 0n);

  const maxInsns = opts.maxInsns ?? Number.POSITIVE_INFINITY;
  const deadline = performance.now() + (opts.timeoutSeconds ?? 60) * 1000;
  const t0 = performance.now();
  const done = (r: Omit<BareRunResult, "instret" | "seconds">): BareRunResult =>
    ({ ...r, instret: hart.instret, seconds: (performance.now() - t0) / 1000, engineStats: engineStats(dbt) });
  for (;;) {
    const left = maxInsns - hart.instret;
    if (left <= 0) return done({ status: 3, message: `stopped after --max-insns ${maxInsns} instructions without an HTIF exit (pc 0x${hart.getPc().toString(16)})` });
    let reason: ExitReason;
    if (opts.trace) {
      const pc = hart.getPc();
      const p = Number(pc);
      const word = memory.contains(p, 4) ? memory.readU32(p) : undefined;
      const low = word === undefined ? "????????" : (word & 3) === 3 ? word.toString(16).padStart(8, "0") : (word & 0xffff).toString(16).padStart(4, "0");
      process.stderr.write(`${hart.instret} ${pc.toString(16).padStart(16, "0")} ${low}\n`);
      reason = hart.run(1);
    } else {
      reason = hart.run(Math.min(SLICE, left));
    }
    const ev = htif.poll();
    if (ev.kind === "exit") {
      return ev.code === 0
        ? done({ status: 0, code: 0, message: "PASS" })
        : done({ status: 1, code: ev.code, message: `FAIL: test ${ev.code} failed (tohost = ${ev.code} << 1 | 1)` });
    }
    if (ev.kind === "error") return done({ status: 4, message: ev.message });
    if (reason === ExitReason.Wfi) {
      // Nothing can wake the hart but the timer: jump virtual time to its next deadline.
      const next = hart.nextTimerDeadline();
      const now = timer.now();
      if (!Number.isFinite(next)) {
        // No timer armed, no devices: nothing can ever raise an interrupt, so this would hang.
        return done({ status: 3, message: `the program waits in wfi at pc 0x${hart.getPc().toString(16)} with no timer armed: nothing can wake it (stopped after ${hart.instret} instructions)` });
      }
      if (next > now) timer.skipped += next - now;
    } else if (reason === ExitReason.Trap) {
      return done({ status: 4, message: `unexpected host exit for exception cause ${hart.exitCause} (tval 0x${hart.exitTval.toString(16)}) at pc 0x${hart.getPc().toString(16)}` });
    }
    if (performance.now() > deadline) {
      return done({ status: 3, message: `timed out after ${opts.timeoutSeconds ?? 60} s without an HTIF exit (pc 0x${hart.getPc().toString(16)}, ${hart.instret} instructions)` });
    }
  }
}

function positiveNumber(text: string | undefined, flag: string, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`run-elf: ${flag} '${text}' is not a positive ${integer ? "integer" : "number"}`);
  }
  return n;
}

export const command: Command = {
  name: "run-elf",
  summary: "run a bare-metal RV64 ELF (HTIF tohost/fromhost) in M-mode",
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs("run-elf", argv, {
      "max-insns": { type: "string" },
      timeout: { type: "string" },
      memory: { type: "string" },
      stats: { type: "boolean" },
      trace: { type: "boolean" },
      engine: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError("run-elf: give exactly one PROGRAM.elf (see 'typevisor run-elf --help')");
    const file = positionals[0]!;
    const maxInsns = positiveNumber(values["max-insns"], "--max-insns", true);
    const timeoutSeconds = positiveNumber(values.timeout, "--timeout", false);
    const memory = values.memory === undefined ? undefined : parseSize(values.memory, "run-elf --memory");
    if (memory !== undefined && (memory < 4096 || memory % 4096 !== 0 || memory > 2 ** 31)) {
      throw new UsageError(`run-elf: --memory ${values.memory} must be a multiple of 4K between 4K and 2G`);
    }
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(`run-elf: cannot read ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : String(e)}`);
    }
    let r: BareRunResult;
    try {
      r = runBareElf(bytes, file, { maxInsns, timeoutSeconds, memory, trace: values.trace, engine: parseEngine("run-elf", values.engine) });
    } catch (e) {
      if (e instanceof ElfError || e instanceof ElfLoadError) throw new UsageError(`run-elf: ${e.message}`);
      throw e;
    }
    process.stderr.write(`run-elf: ${r.message}\n`);
    if (values.stats) {
      const mips = r.seconds > 0 ? r.instret / r.seconds / 1e6 : 0;
      process.stderr.write(`run-elf: ${r.instret} instructions in ${r.seconds.toFixed(3)} s (${mips.toFixed(1)} MIPS)\n`);
      process.stderr.write(r.engineStats ?? "");
    }
    return r.status;
  },
};
