// Test helper: assembles RISC-V source with binutils (riscv64-linux-gnu-as/ld/objcopy) into a flat
// binary linked at a given address, and builds a small machine (RAM + bus + hart) to run it on.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { IoBus } from "../../src/memory/IoBus.js";
import { Hart, PRIV_M, type MachineTimer } from "../../src/riscv/Hart.js";
import { gpa } from "../../src/memory/Address.js";

export const RAM_BASE = 0x8000_0000;

// TYPEVISOR_TEST_ENGINE=dbt: every machine() gets the binary translator attached (pages translated on
// first dispatch), so these hart tests also check the translator (test/dbt/hartTests.test.ts runs them so).
const dbt = process.env["TYPEVISOR_TEST_ENGINE"] === "dbt" ? await import("../../src/dbt/Dbt.js") : undefined;

let available: boolean | undefined;
/** Why the toolchain can't be used, or undefined if it can. */
export function toolchainMissing(): string | undefined {
  if (available === undefined) {
    try {
      execFileSync("riscv64-linux-gnu-as", ["--version"], { stdio: "ignore" });
      available = true;
    } catch {
      available = false;
    }
  }
  return available ? undefined : "riscv64-linux-gnu-as not installed (apt-get install binutils-riscv64-linux-gnu)";
}

/** Assembles `src` (rv64gc + Zba/Zbb/Zbs) and links it at `base`; returns the flat image. */
export function assemble(src: string, base = RAM_BASE): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "tv-asm-"));
  try {
    writeFileSync(join(dir, "t.S"), `.option norelax\n.globl _start\n_start:\n${src}\n`);
    execFileSync("riscv64-linux-gnu-as", ["-march=rv64gc_zba_zbb_zbs", "-o", join(dir, "t.o"), join(dir, "t.S")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    execFileSync(
      "riscv64-linux-gnu-ld",
      ["--no-relax", `-Ttext=0x${base.toString(16)}`, "-e", "_start", "-o", join(dir, "t.elf"), join(dir, "t.o")],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    execFileSync("riscv64-linux-gnu-objcopy", ["-O", "binary", join(dir, "t.elf"), join(dir, "t.bin")]);
    return new Uint8Array(readFileSync(join(dir, "t.bin")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A timer the test controls. */
export class ManualTimer implements MachineTimer {
  readonly frequency = 10_000_000;
  t = 0;
  now(): number {
    return this.t;
  }
}

export interface Machine {
  memory: GuestMemory;
  bus: IoBus;
  hart: Hart;
  timer: ManualTimer;
}

/** RAM at 0x8000_0000 (default 4 MiB) with `code` loaded at its start; hart in M-mode at pc = RAM_BASE. */
export function machine(code: Uint8Array, ramSize = 4 << 20, opts: { hypervisor?: boolean } = {}): Machine {
  const memory = new GuestMemory({
    base: RAM_BASE,
    size: ramSize,
    shared: false,
    engineBytes: dbt ? dbt.DBT_ENGINE_BYTES : 0,
  });
  memory.write(gpa(RAM_BASE), code);
  const bus = new IoBus("test");
  bus.log = () => {};
  const timer = new ManualTimer();
  const hart = new Hart({ memory, bus, hartId: 0, timer, hypervisor: opts.hypervisor });
  if (dbt) dbt.attachDbt(hart, { hotThreshold: 1 });
  hart.priv = PRIV_M;
  hart.setPc(BigInt(RAM_BASE));
  return { memory, bus, hart, timer };
}

/**
 * Assembles `src`, runs it until it executes `ebreak` (cause 3 is handed to the host) and returns the
 * machine. Throws if it does not stop within `budget` instructions.
 */
export function runAsm(src: string, budget = 1_000_000): Machine {
  const m = machine(assemble(src));
  m.hart.exitMask = 1 << 3;
  const r = m.hart.run(budget);
  if (r !== 1 /* Trap */ || m.hart.exitCause !== 3) {
    throw new Error(
      `program did not reach ebreak: exit ${r}, cause ${m.hart.exitCause}, pc 0x${m.hart.getPc().toString(16)}`,
    );
  }
  return m;
}

/** Signed view of a 64-bit register value. */
export function sx(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}
