// RV64I base integer instructions (Unprivileged ISA ch. 2 and 5) on the interpreter, checked at edges.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runAsm, toolchainMissing, sx } from "./asm.js";

const skip = toolchainMissing();

test("arithmetic and logic wrap at 64 bits and sign-extend W forms", { skip }, () => {
  const { hart } = runAsm(`
    li a0, -1
    addi a1, a0, 1          # -1 + 1 = 0 (carry out of the high word)
    li a2, 0x7fffffffffffffff
    addi a3, a2, 1          # overflow to INT64_MIN
    li t0, 0x7fffffff
    addiw a4, t0, 1         # 32-bit overflow sign-extends
    sub a5, zero, a2        # -INT64_MAX
    lui a6, 0x80000         # sign-extended to 0xffffffff80000000
    slt a7, a5, a2
    sltu s2, a5, a2         # as unsigned, -INT64_MAX > INT64_MAX
    sltiu s3, zero, -1      # 0 < 0xffff...ffff
    xori s4, a0, 0x555
    andi s5, a2, -16
    ori s6, zero, -2048
    subw s7, zero, t0
    addw s8, t0, t0
    ebreak
  `);
  assert.equal(hart.getX(11), 0n);
  assert.equal(hart.getX(13), 0x8000000000000000n);
  assert.equal(hart.getX(14), 0xffffffff80000000n);
  assert.equal(sx(hart.getX(15)), -0x7fffffffffffffffn);
  assert.equal(hart.getX(16), 0xffffffff80000000n);
  assert.equal(hart.getX(17), 1n);
  assert.equal(hart.getX(18), 0n);
  assert.equal(hart.getX(19), 1n);
  assert.equal(hart.getX(20), 0xfffffffffffffaaan);
  assert.equal(hart.getX(21), 0x7ffffffffffffff0n);
  assert.equal(sx(hart.getX(22)), -2048n);
  assert.equal(sx(hart.getX(23)), -0x7fffffffn);
  assert.equal(hart.getX(24), 0xfffffffffffffffen);
  assert.equal(hart.getX(0), 0n);
});

test("shifts by 0, 31, 32 and 63, and W shifts use only 5 bits", { skip }, () => {
  const { hart } = runAsm(`
    li t0, 0x8000000000000001
    slli a0, t0, 63
    srli a1, t0, 63
    srai a2, t0, 63
    srai a3, t0, 32
    slli a4, t0, 0
    li t1, 32
    sll a5, t0, t1
    srl a6, t0, t1
    li t2, 0x80000001
    sraiw a7, t2, 31
    srliw s2, t2, 31
    slliw s3, t2, 31
    li t3, 63
    sllw s4, t2, t3         # shift amount 63 & 31 = 31
    sraw s5, t2, t3
    srl s6, t0, t3
    sra s7, t0, t3
    ebreak
  `);
  assert.equal(hart.getX(10), 0x8000000000000000n);
  assert.equal(hart.getX(11), 1n);
  assert.equal(hart.getX(12), 0xffffffffffffffffn);
  assert.equal(hart.getX(13), 0xffffffff80000000n);
  assert.equal(hart.getX(14), 0x8000000000000001n);
  assert.equal(hart.getX(15), 0x0000000100000000n);
  assert.equal(hart.getX(16), 0x80000000n);
  assert.equal(hart.getX(17), 0xffffffffffffffffn);
  assert.equal(hart.getX(18), 1n);
  assert.equal(hart.getX(19), 0xffffffff80000000n);
  assert.equal(hart.getX(20), 0xffffffff80000000n);
  assert.equal(hart.getX(21), 0xffffffffffffffffn);
  assert.equal(hart.getX(22), 1n);
  assert.equal(hart.getX(23), 0xffffffffffffffffn);
});

test("branches, jal/jalr links and auipc", { skip }, () => {
  const { hart } = runAsm(`
    li a0, 0
    li t0, -1
    li t1, 1
    blt t0, t1, 1f
    addi a0, a0, 1     # skipped
1:  bltu t0, t1, 2f    # not taken: 0xfff... > 1 unsigned
    addi a0, a0, 2
2:  bge t1, t0, 3f
    addi a0, a0, 4     # skipped
3:  bgeu t0, t1, 4f
    addi a0, a0, 8     # skipped
4:  beq t0, t0, 5f
    addi a0, a0, 16
5:  bne t0, t0, 6f
    addi a0, a0, 32
6:  .option push
    .option norvc
    jal ra, 7f
    addi a0, a0, 64    # skipped
7:  auipc a1, 0
    la t2, 8f
    jalr a2, 1(t2)     # bit 0 of the target is cleared
    addi a0, a0, 128   # skipped
8:  .option pop
    ebreak
  `);
  assert.equal(hart.getX(10), 34n);
  const auipc = hart.getX(11);
  assert.equal(hart.getX(1), auipc - 4n); // link = address after the 4-byte jal
  assert.equal(hart.getX(12), hart.getX(7) - 4n); // link of jalr = the skipped addi
  assert.equal(hart.getPc(), hart.getX(7)); // stopped at the ebreak at label 8
});
