// loadElf: PT_LOAD segments land at their addresses, .bss is zeroed, and a segment outside RAM is
// an error that names the segment, the RAM window and the fix. Uses the differential fuzzer's ELF
// writer for a two-segment executable (code at 0x401000, data at 0x600000).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseElf } from "../../src/boot/Elf.js";
import { loadElf, loadSpan, ElfLoadError } from "../../src/boot/ElfLoader.js";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { buildProgram, CODE_VADDR, DATA_VADDR } from "../differential/TestProgram.js";
import { SCRATCH_BYTES } from "../differential/Generator.js";
import { gpa } from "../../src/memory/Address.js";

function sampleElf() {
  const init = {
    x: Array(32).fill(0x1234n),
    f: Array(32).fill(0n),
    fcsr: 0,
    scratch: new Uint8Array(SCRATCH_BYTES).fill(0xab),
  };
  return buildProgram([[{ word: 0x00000013, size: 4, text: "nop" }]], [init]);
}

test("loadElf copies every PT_LOAD segment to its address and zero-fills the rest of memsz", () => {
  const p = sampleElf();
  // Give the data segment (program header 1) a 4 KiB .bss: p_memsz = p_filesz + 4096.
  const dv = new DataView(p.elf.buffer, p.elf.byteOffset, p.elf.byteLength);
  const filesz = Number(dv.getBigUint64(64 + 56 + 32, true));
  dv.setBigUint64(64 + 56 + 40, BigInt(filesz + 4096), true);
  const elf = parseElf(p.elf, "sample.elf");
  const span = loadSpan(elf);
  assert.equal(span.high, DATA_VADDR + filesz + 4096);
  assert.equal(span.low, CODE_VADDR);
  const m = new GuestMemory({ base: 0x40_0000, size: 0x40_0000, shared: false });
  m.bytes.fill(0xee);
  const loaded = loadElf(elf, m);
  assert.equal(loaded.entry, BigInt(CODE_VADDR));
  assert.equal(m.readU32(gpa(p.sequenceStart[0]!)), 0x00000013);
  assert.equal(m.readU8(gpa(DATA_VADDR)), 0xab);
  assert.ok(
    m.read(gpa(DATA_VADDR + filesz), 4096).every((b) => b === 0),
    ".bss is zero",
  );
  assert.equal(m.readU8(gpa(span.high)), 0xee); // nothing written past the last segment
});

test("loadElf rejects a segment outside RAM with a message naming it and the RAM window", () => {
  const elf = parseElf(sampleElf().elf, "sample.elf");
  const m = new GuestMemory({ base: 0x8000_0000, size: 1 << 20, shared: false });
  assert.throws(
    () => loadElf(elf, m),
    (e: unknown) => {
      assert.ok(e instanceof ElfLoadError);
      assert.match(
        e.message,
        /^sample\.elf: segment 0 at 0x401000\.\.0x[0-9a-f]+ lies outside guest RAM 0x80000000\.\.0x80100000/,
      );
      return true;
    },
  );
});
