// The ELF parser reads real RISC-V executables and refuses everything else with a message naming the problem.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseElf, ElfError, PT_LOAD, ET_EXEC, EM_X86_64 } from "../../src/boot/Elf.js";

const hasCc = spawnSync("riscv64-linux-gnu-gcc", ["--version"]).status === 0;

test("parses a static RISC-V executable: entry, PT_LOAD segments and symbols", (t) => {
  if (!hasCc) return t.skip("riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)");
  const dir = mkdtempSync(join(tmpdir(), "tv-elf-"));
  writeFileSync(join(dir, "p.S"), ".globl _start\n_start: j _start\n.data\n.globl tohost\ntohost: .dword 0\n");
  const r = spawnSync("riscv64-linux-gnu-gcc", [
    "-nostdlib",
    "-static",
    "-Wl,-Ttext=0x80000000",
    "-o",
    join(dir, "p"),
    join(dir, "p.S"),
  ]);
  assert.equal(r.status, 0, String(r.stderr));
  const elf = parseElf(readFileSync(join(dir, "p")), "p");
  assert.equal(elf.type, ET_EXEC);
  assert.equal(elf.entry, 0x80000000n);
  assert.ok(elf.programHeaders.some((p) => p.type === PT_LOAD && p.vaddr === 0x80000000n));
  assert.equal(elf.symbol("_start"), 0x80000000n);
  assert.ok(elf.symbol("tohost")! > 0x80000000n);
  assert.equal(elf.symbol("nonexistent"), undefined);
});

test("refuses non-ELF, 32-bit, wrong-machine and truncated files with clear errors", () => {
  assert.throws(
    () => parseElf(new TextEncoder().encode("#!/bin/sh\necho hi\n"), "script.sh"),
    /script\.sh: not an ELF file/,
  );
  const hdr = new Uint8Array(64);
  hdr.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  assert.throws(() => parseElf(hdr, "a32"), /not ELFCLASS64/);
  hdr[4] = 2;
  const dv = new DataView(hdr.buffer);
  dv.setUint16(16, ET_EXEC, true);
  dv.setUint16(18, EM_X86_64, true);
  assert.throws(() => parseElf(hdr, "amd64"), /machine is x86-64, expected RISC-V/);
  dv.setUint16(18, 243, true);
  dv.setBigUint64(32, 64n, true); // phoff
  dv.setUint16(54, 56, true);
  dv.setUint16(56, 3, true); // three headers that are not in the file
  assert.throws(
    () => parseElf(hdr, "trunc"),
    (e: unknown) => e instanceof ElfError && /outside the file/.test(e.message),
  );
  assert.throws(() => parseElf(hdr.subarray(0, 20), "short"), /truncated ELF header/);
});
