// Builds the control-plane test guest (guest.S) with Debian's RISC-V cross gcc.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const hasCrossGcc = spawnSync("riscv64-linux-gnu-gcc", ["--version"]).status === 0;

/** Path of the built guest as a raw binary (linked at 0x80200000, where the virt board loads a raw kernel). */
export function buildGuest(source = "guest.S"): string {
  const src = fileURLToPath(new URL(`../../../test/control/${source}`, import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "tv-guest-"));
  const elf = join(dir, "guest.elf");
  const out = join(dir, "guest.bin");
  const r = spawnSync(
    "riscv64-linux-gnu-gcc",
    ["-nostdlib", "-static", "-march=rv64gc", "-mabi=lp64d", "-Wl,-Ttext=0x80200000", "-o", elf, src],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`building the test guest failed: ${r.stderr}`);
  const o = spawnSync("riscv64-linux-gnu-objcopy", ["-O", "binary", "-j", ".text", elf, out], { encoding: "utf8" });
  if (o.status !== 0) throw new Error(`objcopy of the test guest failed: ${o.stderr}`);
  return out;
}

/** Path of a freestanding C guest (linked at 0x80200000, its top-level asm entry first) as a raw binary. */
export function buildCGuest(source: string, defines: string[] = []): string {
  const src = fileURLToPath(new URL(`../../../test/control/${source}`, import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "tv-guest-"));
  const elf = join(dir, "guest.elf");
  const out = join(dir, "guest.bin");
  // --no-relax: nothing sets gp, so no gp-relative accesses.
  const r = spawnSync(
    "riscv64-linux-gnu-gcc",
    [
      "-nostdlib",
      "-static",
      "-ffreestanding",
      "-fno-pie",
      "-no-pie",
      "-O2",
      "-fno-toplevel-reorder",
      "-fno-reorder-functions",
      "-march=rv64gc",
      "-mabi=lp64d",
      "-mcmodel=medany",
      "-Wl,--no-relax",
      "-Wl,-Ttext=0x80200000",
      "-Wl,-e,_start",
      ...defines.map((d) => `-D${d}`),
      "-o",
      elf,
      src,
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`building the test guest ${source} failed: ${r.stderr}`);
  const o = spawnSync(
    "riscv64-linux-gnu-objcopy",
    ["-O", "binary", "-j", ".text", "-j", ".rodata", "-j", ".data", "-j", ".sdata", elf, out],
    { encoding: "utf8" },
  );
  if (o.status !== 0) throw new Error(`objcopy of ${source} failed: ${o.stderr}`);
  return out;
}

/** Path of a static riscv64 Linux program built from a C source of test/control (glibc, -O2). */
export function buildLinuxProgram(source: string): string {
  const src = fileURLToPath(new URL(`../../../test/control/${source}`, import.meta.url));
  const out = join(mkdtempSync(join(tmpdir(), "tv-prog-")), source.replace(/\.c$/, ""));
  const r = spawnSync("riscv64-linux-gnu-gcc", ["-static", "-O2", "-o", out, src], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building ${source} failed: ${r.stderr}`);
  return out;
}
