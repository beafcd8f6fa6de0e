// Shared by the conformance and run-elf tests: builds the assembly programs in programs/ with the
// Debian RISC-V cross compiler into a temporary directory, and tells whether the hart exists yet.
// (Not a test file: it defines no tests.)
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { IoBus } from "../../src/memory/IoBus.js";
import { Hart } from "../../src/riscv/Hart.js";

/** The programs/ folder in the source tree (the .S files are not copied to dist/). */
export const programsDir = fileURLToPath(new URL("../../../test/riscv-conformance/programs/", import.meta.url));
export const cliBin = fileURLToPath(new URL("../../../bin/typevisor.js", import.meta.url));

export const CC = "riscv64-linux-gnu-gcc";

export function haveTool(cmd: string, arg = "--version"): boolean {
  const r = spawnSync(cmd, [arg], { stdio: "ignore" });
  return r.status === 0;
}

let outDir: string | undefined;
export function buildDir(): string {
  outDir ??= mkdtempSync(join(tmpdir(), "tv-conformance-"));
  return outDir;
}

/**
 * Assembles and links programs/NAME.S for RAM at 0x80000000. `oracle` builds the variant for
 * QEMU (-DORACLE_QEMU: a few documented QEMU 7.2 deviations from the spec are accepted there).
 * Returns the ELF path; throws with the compiler's message on failure.
 */
export function buildProgram(name: string, oracle = false): string {
  const out = join(buildDir(), `${name}${oracle ? ".qemu" : ""}.elf`);
  const args = [
    "-nostdlib",
    "-nostartfiles",
    "-static",
    "-march=rv64gc_zba_zbb_zbs",
    "-mabi=lp64d",
    "-Wl,--build-id=none",
    "-Wl,--no-warn-rwx-segments",
    "-T",
    join(programsDir, "link.ld"),
    "-I",
    programsDir,
    "-o",
    out,
    join(programsDir, `${name}.S`),
  ];
  if (oracle) args.unshift("-DORACLE_QEMU");
  const r = spawnSync(CC, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building ${name}.S failed:\n${r.stderr}`);
  return out;
}

/** Why the hart can't run programs yet, or undefined when it can. */
export function hartMissing(): string | undefined {
  try {
    const memory = new GuestMemory({ base: 0x8000_0000, size: 1 << 16, shared: false });
    new Hart({ memory, bus: new IoBus() });
    return undefined;
  } catch (e) {
    return `the hart is not available: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** Runs an ELF on QEMU's spike board (HTIF exit code = tohost >> 1). */
export function runOnQemu(elf: string, timeoutMs = 20_000): { status: number | null; output: string } {
  const r = spawnSync("qemu-system-riscv64", ["-machine", "spike", "-bios", "none", "-nographic", "-kernel", elf], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
