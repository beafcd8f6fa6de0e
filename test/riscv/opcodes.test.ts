// The opcode table (src/riscv/Opcodes.ts) against the interpreter's hand-written decoder (Hart.slice):
// for every major opcode, every combination of the encoding bits any row of that opcode fixes is
// executed once, and the interpreter must raise an illegal-instruction exception exactly when no row
// matches. So the table, from which the translator derives what it can translate, is the set of
// instructions the interpreter executes, encoding by encoding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { IoBus } from "../../src/memory/IoBus.js";
import { ExitReason, Hart, PRIV_M } from "../../src/riscv/Hart.js";
import { OPCODES, lookupOpcode } from "../../src/riscv/Opcodes.js";
import { Cause } from "../../src/riscv/Trap.js";
import { ManualTimer, RAM_BASE } from "./asm.js";
import { gpa } from "../../src/memory/Address.js";

const MSTATUS = 0x300,
  FS_DIRTY = 3n << 13n;
const RD = 5,
  RS1 = 6;

function hart(): Hart {
  const memory = new GuestMemory({ base: RAM_BASE, size: 1 << 20, shared: false });
  const bus = new IoBus("test");
  bus.log = () => {};
  const h = new Hart({ memory, bus, hartId: 0, timer: new ManualTimer() });
  h.exitMask = -1; // every exception comes back to the test
  return h;
}

/** Whether the interpreter raises illegal instruction for `insn` (M-mode, FS dirty, frm = RNE). */
function illegal(h: Hart, insn: number): boolean {
  h.memory.writeU32(gpa(RAM_BASE), insn >>> 0);
  h.priv = PRIV_M;
  h.writeCsr(MSTATUS, FS_DIRTY);
  h.frm = 0;
  h.setX(RS1, BigInt(RAM_BASE + 0x8000)); // loads, stores and AMOs touch RAM, 8-byte aligned
  h.setPc(BigInt(RAM_BASE));
  const r = h.run(1);
  return r === ExitReason.Trap && h.exitCause === Cause.IllegalInsn;
}

/** Encoding bits fixed by some row of each major opcode, among 31:20 and 14:12 (rd and rs1 stay RD, RS1). */
function decisionBits(major: number): number[] {
  let m = 0;
  for (const o of OPCODES) if ((o.match & 0x7f) === major) m |= o.mask;
  const bits: number[] = [];
  for (let b = 12; b < 32; b++) if ((m >>> b) & 1 && (b < 15 || b >= 20)) bits.push(b);
  return bits;
}

const majors = [...new Set(OPCODES.map((o) => o.match & 0x7f))].sort((a, b) => a - b);

test("every encoding the opcode table lists executes; every other one of its opcodes is illegal", () => {
  const h = hart();
  let checked = 0;
  for (const major of majors) {
    const bits = decisionBits(major);
    assert.ok(bits.length <= 16, `opcode 0x${major.toString(16)}: ${bits.length} decision bits`);
    for (let k = 0; k < 1 << bits.length; k++) {
      let insn = major | (RD << 7) | (RS1 << 15);
      bits.forEach((b, i) => {
        if ((k >>> i) & 1) insn |= 1 << b;
      });
      const f3 = (insn >>> 12) & 7;
      // CSR accesses: whether the CSR exists and is accessible is Csr.ts's business, not the table's.
      if (major === 0x73 && f3 !== 0 && f3 !== 4) continue;
      const row = lookupOpcode(insn);
      assert.equal(
        illegal(h, insn),
        row === undefined,
        `0x${(insn >>> 0).toString(16).padStart(8, "0")}: the table says ${row?.name ?? "illegal"}, the interpreter ${row === undefined ? "executes it" : "raises illegal instruction"}`,
      );
      checked++;
    }
  }
  // SYSTEM instructions with rd = rs1 = 0 (ecall, ebreak, xRET, wfi, sfence.vma need them so).
  for (let k = 0; k < 1 << 12; k++) {
    const insn = (k << 20) | 0x73;
    const row = lookupOpcode(insn);
    assert.equal(
      illegal(h, insn),
      row === undefined,
      `0x${(insn >>> 0).toString(16)}: table ${row?.name ?? "illegal"}`,
    );
    checked++;
  }
  assert.ok(checked > 50_000, `only ${checked} encodings checked`);
});

test("major opcodes without a row are illegal", () => {
  const h = hart();
  for (let major = 3; major < 128; major += 4) {
    if (majors.includes(major)) continue;
    assert.ok(illegal(h, major | (RD << 7) | (RS1 << 15)), `opcode 0x${major.toString(16)} has no row but executes`);
  }
});

test("the table has the rows the spec lists for RV64GC + Zba/Zbb/Zbs, each named once", () => {
  const names = OPCODES.map((o) => o.name);
  assert.equal(new Set(names).size, names.length);
  // RV64I 52, Zifencei 1, Zicsr 6, M 13, A 22, F 30, D 32, Zba 8, Zbb 24 (on RV64), Zbs 8, sret/mret/wfi/sfence.vma 4.
  assert.equal(names.length, 52 + 1 + 6 + 13 + 22 + 30 + 32 + 8 + 24 + 8 + 4);
  for (const n of ["add", "lr.d", "sc.w", "fmadd.d", "fcvt.lu.s", "sh3add.uw", "rev8", "bexti", "sfence.vma"])
    assert.ok(names.includes(n), n);
});
