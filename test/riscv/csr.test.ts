// Zicsr access rules (Privileged ISA 2.1: privilege bits [9:8], read-only bits [11:10]), counters and
// their enables (3.1.11, 4.1.5), and the WARL behaviour of mstatus, satp, mepc, medeleg, mip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, machine, runAsm, toolchainMissing, type Machine } from "./asm.js";
import { ExitReason, PRIV_M, PRIV_S, PRIV_U } from "../../src/riscv/Hart.js";
import { gpa } from "../../src/memory/Address.js";

const skip = toolchainMissing();

/** Runs one instruction (plus ebreak) at `priv`; returns the exception cause or -1 if it completed. */
function tryInsn(insn: string, priv: number, setup?: (m: Machine) => void): { cause: number; m: Machine } {
  const m = machine(assemble(`.option norvc\n ${insn}\n ebreak\n`));
  m.hart.exitMask = 0xffff_ffff;
  m.hart.priv = priv;
  setup?.(m);
  assert.equal(m.hart.run(10), ExitReason.Trap);
  return { cause: m.hart.exitCause === 3 ? -1 : m.hart.exitCause, m };
}

test("CSR privilege and read-only checks", { skip }, () => {
  assert.equal(tryInsn("csrr a0, mstatus", PRIV_S).cause, 2);
  assert.equal(tryInsn("csrr a0, sstatus", PRIV_U).cause, 2);
  assert.equal(tryInsn("csrr a0, sstatus", PRIV_S).cause, -1);
  assert.equal(tryInsn("csrw mhartid, a0", PRIV_M).cause, 2);
  assert.equal(tryInsn("csrrs a0, mhartid, x0", PRIV_M).cause, -1, "csrrs with rs1=x0 does not write");
  assert.equal(tryInsn("csrrci a0, mvendorid, 0", PRIV_M).cause, -1, "csrrci with uimm=0 does not write");
  assert.equal(tryInsn("csrrsi a0, mhartid, 1", PRIV_M).cause, 2);
  assert.equal(tryInsn("csrw cycle, a0", PRIV_M).cause, 2);
  assert.equal(tryInsn("csrr a0, 0x7ff", PRIV_M).cause, 2, "unimplemented CSR");
  assert.equal(tryInsn("csrr a0, pmpcfg1", PRIV_M).cause, 2, "odd pmpcfg does not exist on RV64");
  const { m } = tryInsn("csrw 0x5ff, a0", PRIV_M);
  assert.equal(m.hart.exitTval, BigInt(m.memory.readU32(gpa(0x80000000))), "tval = the CSR instruction");
});

test("counter enables gate cycle/time/instret below M", { skip }, () => {
  assert.equal(tryInsn("rdcycle a0", PRIV_S).cause, 2);
  assert.equal(tryInsn("rdcycle a0", PRIV_S, (m) => m.hart.writeCsr(0x306, 1n)).cause, -1);
  assert.equal(tryInsn("rdcycle a0", PRIV_U, (m) => m.hart.writeCsr(0x306, 1n)).cause, 2, "scounteren.CY = 0");
  assert.equal(
    tryInsn("rdcycle a0", PRIV_U, (m) => {
      m.hart.writeCsr(0x306, 1n);
      m.hart.writeCsr(0x106, 1n);
    }).cause,
    -1,
  );
  assert.equal(tryInsn("rdtime a0", PRIV_S, (m) => m.hart.writeCsr(0x306, 1n)).cause, 2, "TM bit not set");
  const t = tryInsn("rdtime a0", PRIV_S, (m) => {
    m.hart.writeCsr(0x306, 2n);
    m.timer.t = 12345;
  });
  assert.equal(t.cause, -1);
  assert.equal(t.m.hart.getX(10), 12345n);
  assert.equal(tryInsn("csrr a0, hpmcounter3", PRIV_M).cause, -1);
  assert.equal(tryInsn("csrr a0, hpmcounter3", PRIV_S).cause, 2);
});

test("instret and cycle count retired instructions; a minstret write replaces the increment", { skip }, () => {
  const { hart } = runAsm(`
    .option norvc
    nop
    nop
    csrr a0, instret      # 2 instructions retired before this one
    csrr a1, minstret
    li t0, 100
    csrw minstret, t0
    csrr a2, minstret
    csrr a3, hpmcounter3
    csrr a4, mhpmcounter4
    ebreak
  `);
  assert.equal(hart.getX(10), 2n);
  assert.equal(hart.getX(11), 3n);
  assert.equal(hart.getX(12), 100n);
  assert.equal(hart.getX(13), 0n);
  assert.equal(hart.getX(14), 0n);
  assert.equal(hart.instret, 103); // 100 + csrr a2, a3, a4; ebreak traps and does not retire
});

test("WARL fields: mstatus, sstatus view, satp modes, mepc, medeleg, mideleg, mip, mtvec, misa", () => {
  const m = machine(new Uint8Array(0));
  const h = m.hart;
  h.writeCsr(0x300, 0xffff_ffff_ffff_ffffn);
  const ms = h.readCsr(0x300);
  assert.equal((ms >> 32n) & 0xfn, 0xan, "UXL = SXL = 2");
  assert.equal(ms >> 63n, 1n, "SD with FS = Dirty");
  assert.equal((ms >> 9n) & 3n, 0n, "VS read-only 0");
  assert.equal((ms >> 15n) & 3n, 0n, "XS read-only 0");
  h.writeCsr(0x300, 2n << 11n);
  assert.equal((h.readCsr(0x300) >> 11n) & 3n, 3n, "MPP = 2 (reserved) keeps the old value");
  h.writeCsr(0x300, 0n);
  h.writeCsr(0x100, 0xffff_ffff_ffff_ffffn);
  const ss = h.readCsr(0x100);
  assert.equal(h.readCsr(0x300) & 0x1888n, 0n, "sstatus cannot set MIE/MPIE/MPP");
  assert.equal(ss & 0x2n, 2n);
  assert.equal((ss >> 32n) & 3n, 2n, "sstatus.UXL = 2");
  h.writeCsr(0x180, (1n << 60n) | 5n); // mode 1 (Sv32) is not supported on RV64: ignored
  assert.equal(h.readCsr(0x180), 0n);
  h.writeCsr(0x180, (8n << 60n) | (0xffffn << 44n) | 0x1234n);
  assert.equal(h.readCsr(0x180), (8n << 60n) | (0xffffn << 44n) | 0x1234n);
  h.writeCsr(0x341, 0x80000003n);
  assert.equal(h.readCsr(0x341), 0x80000002n);
  h.writeCsr(0x302, 0xffffn);
  assert.equal(h.readCsr(0x302), 0xb3ffn, "medeleg: ecall from M and reserved causes are read-only 0");
  h.writeCsr(0x303, 0xffffn);
  assert.equal(h.readCsr(0x303), 0x222n);
  h.writeCsr(0x344, 0xffffn);
  assert.equal(h.readCsr(0x344), 0x222n, "only SSIP/STIP/SEIP are software-writable");
  h.writeCsr(0x144, 0n);
  assert.equal(h.readCsr(0x344), 0x220n, "sip clears SSIP when delegated");
  h.writeCsr(0x305, 0x80000003n);
  assert.equal(h.readCsr(0x305), 0x80000000n, "mtvec reserved mode falls back to direct");
  h.writeCsr(0x301, 0n);
  assert.equal(h.readCsr(0x301), (2n << 62n) | 0x14112dn, "misa: RV64 IMAFDCSU, not writable");
  assert.equal(h.readCsr(0xf14), 0n);
});

test("fcsr is illegal with FS = Off and marks FS Dirty when written", { skip }, () => {
  assert.equal(tryInsn("csrr a0, fcsr", PRIV_M).cause, 2);
  const r = tryInsn("fsflags a0, a1", PRIV_M, (m) => {
    m.hart.writeCsr(0x300, 1n << 13n);
    m.hart.setX(11, 0x1fn);
  });
  assert.equal(r.cause, -1);
  assert.equal((r.m.hart.readCsr(0x300) >> 13n) & 3n, 3n);
  assert.equal(r.m.hart.readCsr(0x001), 0x1fn);
  assert.equal(r.m.hart.readCsr(0x300) >> 63n, 1n, "SD");
});

test("satp and sfence.vma trap in S-mode under TVM; stimecmp needs STCE and mcounteren.TM", { skip }, () => {
  const tvm = (m: Machine) => m.hart.writeCsr(0x300, 1n << 20n);
  assert.equal(tryInsn("csrr a0, satp", PRIV_S, tvm).cause, 2);
  assert.equal(tryInsn("sfence.vma", PRIV_S, tvm).cause, 2);
  assert.equal(tryInsn("sfence.vma", PRIV_U).cause, 2);
  assert.equal(tryInsn("csrr a0, satp", PRIV_S).cause, -1);
  assert.equal(tryInsn("csrr a0, stimecmp", PRIV_S).cause, 2);
  assert.equal(tryInsn("csrr a0, stimecmp", PRIV_S, (m) => m.hart.writeCsr(0x30a, 1n << 63n)).cause, 2);
  assert.equal(
    tryInsn("csrr a0, stimecmp", PRIV_S, (m) => {
      m.hart.writeCsr(0x30a, 1n << 63n);
      m.hart.writeCsr(0x306, 2n);
    }).cause,
    -1,
  );
});

test("csrs/csrc mip modify the software SEIP bit only, not the PLIC's line (Privileged ISA 3.1.9)", { skip }, () => {
  // OpenSBI's IPI handler sets mip.SSIP with csrs while a device interrupt may be pending: the
  // line's SEIP must not be latched into the software bit (a Linux SMP guest then took an endless
  // storm of external interrupts with nothing to claim).
  const { m } = tryInsn("csrs mip, a0", PRIV_M, (m) => {
    m.hart.setX(10, 0x2n);
    m.hart.setInterruptPending(9, true); // the PLIC's S-mode context output
  });
  assert.equal(m.hart.readCsr(0x344), 0x202n, "SSIP set, SEIP read as the line's level");
  m.hart.setInterruptPending(9, false);
  assert.equal(m.hart.readCsr(0x344), 0x2n, "SEIP drops with the line");
  const c = tryInsn("csrc mip, a0", PRIV_M, (m) => {
    m.hart.setX(10, 0x2n);
    m.hart.writeCsr(0x344, 0x200n); // software's own SEIP
    m.hart.setInterruptPending(9, true);
  }).m;
  c.hart.setInterruptPending(9, false);
  assert.equal(c.hart.readCsr(0x344), 0x200n, "the software SEIP stays set after csrc of another bit");
});
