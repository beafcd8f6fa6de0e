// `typevisor run-elf`: runs a bare-metal RV64 program (riscv-tests style) on one hart in M-mode with
// RAM at 0x8000_0000 and the HTIF tohost/fromhost protocol (src/devices/Htif.ts) for output and exit.
// A small CLINT (SiFive layout, as on Spike and QEMU's spike/virt boards) at 0x0200_0000 gives the
// program msip and mtimecmp (Privileged ISA 3.2.1 "Machine Timer Registers").
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { Command } from "../Command.js";
import { UsageError, parseCommandArgs, parseSize } from "../Command.js";
import { parseElf, ElfError, EM_RISCV, type ElfFile } from "../../boot/Elf.js";
import { loadElf, loadSpan, ElfLoadError } from "../../boot/ElfLoader.js";
import { Htif } from "../../devices/Htif.js";
import { Aclint, CLINT_SIZE } from "../../devices/Aclint.js";
import { Irq } from "../../riscv/Trap.js";
import { GuestMemory } from "../../memory/GuestMemory.js";
import { IoBus } from "../../memory/IoBus.js";
import { Hart, ExitReason, PRIV_M, type MachineTimer } from "../../riscv/Hart.js";
import { ENGINE_USAGE, engineBytes, engineStats, useEngine, type EngineName } from "../../dbt/Engine.js";
import { engineOptionsFromEnv, parseEngine, setEngineTiering } from "../EngineSetup.js";
import { attachDbt, type DbtOptions } from "../../dbt/Dbt.js";
import { DBT_ENGINE_BYTES } from "../../dbt/EngineArea.js";
import { lockstep, compareHarts, type ChunkVerdict } from "../../dbt/Lockstep.js";
import { gpa } from "../../memory/Address.js";

const RAM_BASE = 0x8000_0000;
const CLINT_BASE = 0x0200_0000;
/** Instructions per run() slice between two tohost polls. */
const SLICE = 1 << 14;
/** --lockstep without a value: instructions per comparison. */
const LOCKSTEP_CHUNK = 1000;
const LOCKSTEP_CHUNK_MAX = 10_000_000;

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
  --lockstep[=CHUNK]  run the program on two machines, one translating (dbt, pages translated
                  after 2 dispatches) and one interpreting, comparing pc, registers and instret
                  every CHUNK instructions (1..${LOCKSTEP_CHUNK_MAX}, default ${LOCKSTEP_CHUNK}) and RAM at the end;
                  prints the first divergence and exits 1, or 'lockstep: N instructions, no
                  divergence' and the program's own status. Time is counted in instructions.
  --lockstep-ram  with --lockstep: compare RAM after every chunk too (slow on large --memory)

Exit status: 0 pass, 1 the program reported a failure, 2 bad arguments or not a usable RV64 ELF,
3 timeout / instruction limit, 4 the program did something the runner does not support.`;

/** A machine timer whose clock the runner can move forward past a wfi (`skipped`). */
interface SkippingTimer extends MachineTimer {
  skipped: number;
}

/** Virtual time: wall clock plus whatever was skipped while the hart waited in wfi. */
class BareTimer implements SkippingTimer {
  readonly frequency = 10_000_000;
  private readonly t0 = performance.now();
  skipped = 0;
  now(): number {
    return Math.floor((performance.now() - this.t0) * 10_000) + this.skipped;
  }
}

/**
 * Lockstep time: one tick per instruction, frozen during a chunk and set by the runner before each
 * (`tick(instret)`). The wall clock would differ between the two machines, and instret read in the
 * middle of a run() is stale by a different amount on each engine; a clock that only moves at
 * chunk boundaries gives both harts the same mtime and makes timer interrupts pending at a run()
 * entry, where both engines take them.
 */
class ChunkTimer implements SkippingTimer {
  readonly frequency = 10_000_000;
  skipped = 0;
  private value = 0;
  now(): number {
    return this.value;
  }
  tick(instret: number): void {
    this.value = instret + this.skipped;
  }
}

export interface BareRunOptions {
  memory?: number;
  maxInsns?: number;
  timeoutSeconds?: number;
  trace?: boolean;
  /** CPU engine (default interp here; the CLI passes DEFAULT_ENGINE). */
  engine?: EngineName;
  /** Translator options (the command passes the TYPEVISOR_DBT_* knobs of its environment). */
  engineOptions?: DbtOptions;
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

interface BareMachine {
  memory: GuestMemory;
  bus: IoBus;
  hart: Hart;
  htif: Htif;
}

/** The ELF parsed and checked for what run-elf needs (HTIF symbols, RAM at 0x80000000). */
function parseBareElf(bytes: Uint8Array, name: string): ElfFile {
  const elf = parseElf(bytes, name, { machine: EM_RISCV });
  if (elf.symbol("tohost") === undefined) {
    throw new UsageError(
      `run-elf: ${name} has no 'tohost' symbol: a bare-metal program must define tohost/fromhost (HTIF) to report its result`,
    );
  }
  const span = loadSpan(elf);
  if (span.low < RAM_BASE) {
    throw new ElfLoadError(
      name,
      `is linked at 0x${span.low.toString(16)}, below RAM at 0x80000000 (link it with -Ttext=0x80000000 or a linker script)`,
    );
  }
  return elf;
}

/** One machine (RAM, CLINT, HTIF) with the ELF loaded and the hart at e_entry in M-mode. */
function bareMachine(
  elf: ElfFile,
  memorySize: number | undefined,
  engineArea: number,
  timer: MachineTimer,
  write: (fd: 1 | 2, data: Uint8Array) => void,
): BareMachine {
  const span = loadSpan(elf);
  const size = Math.max(memorySize ?? 64 << 20, Math.ceil((span.high - RAM_BASE) / 4096) * 4096);
  const memory = new GuestMemory({ base: RAM_BASE, size, shared: false, engineBytes: engineArea });
  const loaded = loadElf(elf, memory);
  const bus = new IoBus("mmio");
  let hart: Hart | undefined;
  // The board's ACLINT model with one hart: MSIP, MTIMECMP, MTIME (Privileged ISA 3.2.1).
  const clint = new Aclint(timer, [
    {
      setMsip: (level) => hart?.setInterruptPending(Irq.MSI, level),
      getMtimecmp: () => hart?.mtimecmp ?? 0n,
      setMtimecmp: (v) => {
        if (hart) hart.mtimecmp = v;
      },
    },
  ]);
  bus.map(CLINT_BASE, CLINT_SIZE, clint);
  hart = new Hart({ memory, bus, hartId: 0, timer });
  const fromhost = elf.symbol("fromhost");
  const htif = new Htif({
    memory,
    tohost: Number(elf.symbol("tohost")),
    fromhost: fromhost === undefined ? undefined : Number(fromhost),
    write,
  });
  hart.priv = PRIV_M;
  hart.setPc(loaded.entry);
  hart.setX(10, 0n); // a0 = hart id, a1 = no device tree (the conventions of a firmware hand-off)
  hart.setX(11, 0n);
  return { memory, bus, hart, htif };
}

function defaultWrite(fd: 1 | 2, d: Uint8Array): void {
  (fd === 1 ? process.stdout : process.stderr).write(d);
}

/** The run's result for an HTIF exit code. */
function exitStatus(code: number): { status: 0 | 1; code: number; message: string } {
  return code === 0
    ? { status: 0, code: 0, message: "PASS" }
    : { status: 1, code, message: `FAIL: test ${code} failed (tohost = ${code} << 1 | 1)` };
}

type BareEnd = Omit<BareRunResult, "instret" | "seconds">;

/**
 * The host's part after a run() slice: a pending HTIF command, a wfi (jump the timer to its next
 * deadline) or an exception handed to the host. Returns how the run ends, or undefined to go on.
 */
function serviceHost(m: BareMachine, timer: SkippingTimer, reason: ExitReason): BareEnd | undefined {
  const { hart } = m;
  const ev = m.htif.poll();
  if (ev.kind === "exit") return exitStatus(ev.code);
  if (ev.kind === "error") return { status: 4, message: ev.message };
  if (reason === ExitReason.Wfi) {
    // Nothing can wake the hart but the timer: jump virtual time to its next deadline.
    const next = hart.nextTimerDeadline();
    const now = timer.now();
    if (!Number.isFinite(next)) {
      // No timer armed, no devices: nothing can ever raise an interrupt, so this would hang.
      return {
        status: 3,
        message: `the program waits in wfi at pc 0x${hart.getPc().toString(16)} with no timer armed: nothing can wake it (stopped after ${hart.instret} instructions)`,
      };
    }
    if (next > now) timer.skipped += next - now;
  } else if (reason === ExitReason.Trap) {
    return {
      status: 4,
      message: `unexpected host exit for exception cause ${hart.exitCause} (tval 0x${hart.exitTval.toString(16)}) at pc 0x${hart.getPc().toString(16)}`,
    };
  }
  return undefined;
}

/** Loads and runs a bare-metal ELF. Throws ElfError/ElfLoadError/UsageError for an unusable file. */
export function runBareElf(bytes: Uint8Array, name: string, opts: BareRunOptions = {}): BareRunResult {
  const elf = parseBareElf(bytes, name);
  const timer = new BareTimer();
  const m = bareMachine(elf, opts.memory, engineBytes(opts.engine), timer, opts.write ?? defaultWrite);
  const { memory, hart } = m;
  const dbt = useEngine(hart, opts.engine, opts.engineOptions);

  const maxInsns = opts.maxInsns ?? Number.POSITIVE_INFINITY;
  const deadline = performance.now() + (opts.timeoutSeconds ?? 60) * 1000;
  const t0 = performance.now();
  const done = (r: BareEnd): BareRunResult => ({
    ...r,
    instret: hart.instret,
    seconds: (performance.now() - t0) / 1000,
    engineStats: engineStats(dbt),
  });
  for (;;) {
    const left = maxInsns - hart.instret;
    if (left <= 0)
      return done({
        status: 3,
        message: `stopped after --max-insns ${maxInsns} instructions without an HTIF exit (pc 0x${hart.getPc().toString(16)})`,
      });
    let reason: ExitReason;
    if (opts.trace) {
      const pc = hart.getPc();
      const p = Number(pc);
      const word = memory.contains(gpa(p), 4) ? memory.readU32(gpa(p)) : undefined;
      const low =
        word === undefined
          ? "????????"
          : (word & 3) === 3
            ? word.toString(16).padStart(8, "0")
            : (word & 0xffff).toString(16).padStart(4, "0");
      process.stderr.write(`${hart.instret} ${pc.toString(16).padStart(16, "0")} ${low}\n`);
      reason = hart.run(1);
    } else {
      reason = hart.run(Math.min(SLICE, left));
    }
    const end = serviceHost(m, timer, reason);
    if (end !== undefined) return done(end);
    if (performance.now() > deadline) {
      return done(timedOut(hart, opts.timeoutSeconds));
    }
  }
}

function timedOut(hart: Hart, seconds: number | undefined): BareEnd {
  return {
    status: 3,
    message: `timed out after ${seconds ?? 60} s without an HTIF exit (pc 0x${hart.getPc().toString(16)}, ${hart.instret} instructions)`,
  };
}

export interface LockstepRunOptions extends Omit<BareRunOptions, "engine" | "trace"> {
  /** Instructions between two comparisons (default 1000). */
  chunk?: number;
  /** Compare RAM after every chunk, not only at the end. */
  compareRamEveryChunk?: boolean;
}

export interface LockstepRunResult extends BareRunResult {
  /** The first difference between the translating and the interpreting machine, if any. */
  divergence: string | undefined;
}

interface Output {
  fd: 1 | 2;
  data: Uint8Array;
}

/** Describes how two machines' console output of one chunk differs, or undefined if it does not. */
function outputDiffers(a: Output[], b: Output[]): string | undefined {
  const text = (o: Output[]) => JSON.stringify(o.map((x) => `${x.fd}:${Buffer.from(x.data).toString("latin1")}`));
  const ta = text(a),
    tb = text(b);
  return ta === tb ? undefined : `console output differs: dbt ${ta} interp ${tb}`;
}

/**
 * `run-elf --lockstep`: the program on two machines, one with the translator attached (pages
 * translated after 2 dispatches unless TYPEVISOR_DBT_HOT says otherwise, so that little runs
 * interpreted), one interpreting, compared after every chunk (Lockstep.ts) and RAM at the end. The
 * host (HTIF, wfi, time) serves both identically between chunks; their console output is printed
 * once, when both machines produced the same.
 */
export function runBareElfLockstep(bytes: Uint8Array, name: string, opts: LockstepRunOptions = {}): LockstepRunResult {
  const elf = parseBareElf(bytes, name);
  const write = opts.write ?? defaultWrite;
  const outA: Output[] = [],
    outB: Output[] = [];
  // HTIF reuses its putchar buffer: keep a copy.
  const collect = (into: Output[]) => (fd: 1 | 2, d: Uint8Array) => {
    into.push({ fd, data: d.slice() });
  };
  const ta = new ChunkTimer(),
    tb = new ChunkTimer();
  const a = bareMachine(elf, opts.memory, DBT_ENGINE_BYTES, ta, collect(outA));
  const b = bareMachine(elf, opts.memory, 0, tb, collect(outB));
  b.bus.log = () => {}; // the translating machine already reports each stray MMIO access once
  const dbt = attachDbt(a.hart, { hotThreshold: 2, ...opts.engineOptions });
  const deadline = performance.now() + (opts.timeoutSeconds ?? 60) * 1000;
  const t0 = performance.now();
  let end: BareEnd | undefined;
  const r = lockstep(a.hart, b.hart, {
    chunk: opts.chunk ?? LOCKSTEP_CHUNK,
    maxInsns: opts.maxInsns ?? Number.POSITIVE_INFINITY,
    compareRam: opts.compareRamEveryChunk,
    onChunk: (reason): ChunkVerdict => {
      ta.tick(a.hart.instret);
      tb.tick(b.hart.instret);
      const ea = serviceHost(a, ta, reason),
        eb = serviceHost(b, tb, reason);
      ta.tick(a.hart.instret);
      tb.tick(b.hart.instret);
      const out = outputDiffers(outA, outB);
      if (out !== undefined) return { divergence: out };
      for (const o of outB) write(o.fd, o.data);
      outA.length = outB.length = 0;
      if (ea?.message !== eb?.message)
        return {
          divergence: `the host saw different things: dbt '${ea?.message ?? "nothing"}' interp '${eb?.message ?? "nothing"}'`,
        };
      end = ea ?? (performance.now() > deadline ? timedOut(b.hart, opts.timeoutSeconds) : undefined);
      return end === undefined ? "continue" : "stop";
    },
    onExit: () => true, // onChunk served every exit (HTIF, wfi, host traps) and decides when to stop
  });
  let divergence = r.divergence;
  if (divergence === undefined) {
    const ram = compareHarts(a.hart, b.hart, true);
    if (ram !== undefined) divergence = `at the end (${r.insns} instructions): ${ram}`;
  }
  end ??= {
    status: 3,
    message: `stopped after --max-insns ${opts.maxInsns} instructions without an HTIF exit (pc 0x${b.hart.getPc().toString(16)})`,
  };
  const result = { instret: b.hart.instret, seconds: (performance.now() - t0) / 1000, engineStats: engineStats(dbt) };
  if (divergence !== undefined)
    return { ...result, status: 1, message: `lockstep: divergence ${divergence}`, divergence };
  return { ...result, ...end, message: `${end.message}\nlockstep: ${r.insns} instructions, no divergence`, divergence };
}

function positiveNumber(text: string | undefined, flag: string, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`run-elf: ${flag} '${text}' is not a positive ${integer ? "integer" : "number"}`);
  }
  return n;
}

/** The CHUNK of --lockstep[=CHUNK]. */
function lockstepChunk(text: string | undefined): number {
  if (text === undefined) return LOCKSTEP_CHUNK;
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < 1 || n > LOCKSTEP_CHUNK_MAX) {
    throw new UsageError(
      `run-elf: --lockstep=${text}: CHUNK must be a whole number of instructions from 1 to ${LOCKSTEP_CHUNK_MAX} (e.g. --lockstep=${LOCKSTEP_CHUNK})`,
    );
  }
  return n;
}

export const command: Command = {
  name: "run-elf",
  summary: "run a bare-metal RV64 ELF (HTIF tohost/fromhost) in M-mode",
  usage,
  async run(argv) {
    // --lockstep takes an optional value, which parseArgs cannot express: split --lockstep=CHUNK off
    // before parsing ('--lockstep 500' stays a flag and a positional, as a bare flag must).
    let chunkText: string | undefined;
    const args = argv.map((a) => {
      if (!a.startsWith("--lockstep=")) return a;
      chunkText = a.slice("--lockstep=".length);
      return "--lockstep";
    });
    const { values, positionals } = parseCommandArgs("run-elf", args, {
      "max-insns": { type: "string" },
      timeout: { type: "string" },
      memory: { type: "string" },
      stats: { type: "boolean" },
      trace: { type: "boolean" },
      engine: { type: "string" },
      lockstep: { type: "boolean" },
      "lockstep-ram": { type: "boolean" },
    });
    if (positionals.length !== 1)
      throw new UsageError("run-elf: give exactly one PROGRAM.elf (see 'typevisor run-elf --help')");
    const file = positionals[0]!;
    const maxInsns = positiveNumber(values["max-insns"], "--max-insns", true);
    const timeoutSeconds = positiveNumber(values.timeout, "--timeout", false);
    const memory = values.memory === undefined ? undefined : parseSize(values.memory, "run-elf --memory");
    if (memory !== undefined && (memory < 4096 || memory % 4096 !== 0 || memory > 2 ** 31)) {
      throw new UsageError(`run-elf: --memory ${values.memory} must be a multiple of 4K between 4K and 2G`);
    }
    const chunk = values.lockstep ? lockstepChunk(chunkText) : undefined;
    if (values["lockstep-ram"] && !values.lockstep)
      throw new UsageError("run-elf: --lockstep-ram only applies to a lockstep run; add --lockstep");
    if (values.lockstep && values.engine !== undefined) {
      throw new UsageError("run-elf: --lockstep runs both engines (dbt against interp); drop --engine");
    }
    if (values.lockstep && values.trace)
      throw new UsageError(
        "run-elf: --trace and --lockstep cannot be combined; trace the interpreter alone (drop --lockstep)",
      );
    const engine = parseEngine("run-elf", values.engine);
    const engineOptions = engineOptionsFromEnv();
    setEngineTiering(false);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(
        `run-elf: cannot read ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : String(e)}`,
      );
    }
    let r: BareRunResult;
    try {
      r =
        chunk !== undefined
          ? runBareElfLockstep(bytes, file, {
              maxInsns,
              timeoutSeconds,
              memory,
              chunk,
              compareRamEveryChunk: values["lockstep-ram"],
              engineOptions,
            })
          : runBareElf(bytes, file, { maxInsns, timeoutSeconds, memory, trace: values.trace, engine, engineOptions });
    } catch (e) {
      if (e instanceof ElfError || e instanceof ElfLoadError) throw new UsageError(`run-elf: ${e.message}`);
      throw e;
    }
    process.stderr.write(`run-elf: ${r.message}\n`);
    if (values.stats) {
      const mips = r.seconds > 0 ? r.instret / r.seconds / 1e6 : 0;
      process.stderr.write(
        `run-elf: ${r.instret} instructions in ${r.seconds.toFixed(3)} s (${mips.toFixed(1)} MIPS)\n`,
      );
      process.stderr.write(r.engineStats ?? "");
    }
    return r.status;
  },
};
