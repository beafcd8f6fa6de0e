// RVC (Unprivileged ISA ch. 16): every RV64C form expands to the 32-bit instruction binutils encodes for
// the same operands, and reserved encodings raise illegal instruction with tval = the 16-bit pattern.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assemble, machine, runAsm, toolchainMissing } from "./asm.js";
import { compressedTable } from "../../src/riscv/Compressed.js";

const skip = toolchainMissing();

// [compressed form, its 32-bit expansion per table 16.5-16.7]
const PAIRS: [string, string][] = [
  ["c.addi4spn a0, sp, 1020", "addi a0, sp, 1020"],
  ["c.addi4spn s1, sp, 4", "addi s1, sp, 4"],
  ["c.fld fa0, 248(a1)", "fld fa0, 248(a1)"],
  ["c.lw a2, 124(a3)", "lw a2, 124(a3)"],
  ["c.ld a4, 248(a5)", "ld a4, 248(a5)"],
  ["c.fsd fs0, 8(s1)", "fsd fs0, 8(s1)"],
  ["c.sw s0, 64(a0)", "sw s0, 64(a0)"],
  ["c.sd a5, 128(a4)", "sd a5, 128(a4)"],
  ["c.nop", "addi x0, x0, 0"],
  ["c.addi t0, -32", "addi t0, t0, -32"],
  ["c.addi a0, 31", "addi a0, a0, 31"],
  ["c.addiw a0, 31", "addiw a0, a0, 31"],
  ["c.addiw s3, -1", "addiw s3, s3, -1"],
  ["c.li t1, -1", "addi t1, x0, -1"],
  ["c.addi16sp sp, -512", "addi sp, sp, -512"],
  ["c.addi16sp sp, 496", "addi sp, sp, 496"],
  ["c.lui s2, 0xfffe0", "lui s2, 0xfffe0"],
  ["c.lui t0, 31", "lui t0, 31"],
  ["c.srli a0, 63", "srli a0, a0, 63"],
  ["c.srai s1, 33", "srai s1, s1, 33"],
  ["c.andi a2, -1", "andi a2, a2, -1"],
  ["c.sub s0, a5", "sub s0, s0, a5"],
  ["c.xor s0, a5", "xor s0, s0, a5"],
  ["c.or a1, a2", "or a1, a1, a2"],
  ["c.and a3, a4", "and a3, a3, a4"],
  ["c.subw s1, s0", "subw s1, s1, s0"],
  ["c.addw a0, a1", "addw a0, a0, a1"],
  ["c.j .+2046", "jal x0, .+2046"],
  ["c.j .-2048", "jal x0, .-2048"],
  ["c.beqz a0, .+254", "beq a0, x0, .+254"],
  ["c.bnez s1, .-256", "bne s1, x0, .-256"],
  ["c.slli t2, 63", "slli t2, t2, 63"],
  ["c.fldsp ft0, 504(sp)", "fld ft0, 504(sp)"],
  ["c.lwsp ra, 252(sp)", "lw ra, 252(sp)"],
  ["c.ldsp s11, 504(sp)", "ld s11, 504(sp)"],
  ["c.jr ra", "jalr x0, 0(ra)"],
  ["c.mv a0, t6", "add a0, x0, t6"],
  ["c.ebreak", "ebreak"],
  ["c.jalr t0", "jalr ra, 0(t0)"],
  ["c.add a1, a2", "add a1, a1, a2"],
  ["c.fsdsp fs11, 504(sp)", "fsd fs11, 504(sp)"],
  ["c.swsp t6, 252(sp)", "sw t6, 252(sp)"],
  ["c.sdsp s0, 504(sp)", "sd s0, 504(sp)"],
];

test("every RV64C form expands to binutils' encoding of the equivalent 32-bit instruction", { skip }, () => {
  const short = assemble(`.option rvc\n${PAIRS.map((p) => p[0]).join("\n")}\n`);
  const long = assemble(`.option norvc\n${PAIRS.map((p) => p[1]).join("\n")}\n`);
  const t = compressedTable();
  const dv16 = new DataView(short.buffer, short.byteOffset);
  const dv32 = new DataView(long.buffer, long.byteOffset);
  for (let i = 0; i < PAIRS.length; i++) {
    const h = dv16.getUint16(2 * i, true);
    const w = dv32.getUint32(4 * i, true);
    assert.equal((t[h]! >>> 0).toString(16), w.toString(16), `${PAIRS[i]![0]} (0x${h.toString(16)})`);
  }
});

test("reserved compressed encodings raise illegal instruction with the 16-bit tval", () => {
  const reserved: [number, string][] = [
    [0x0000, "all-zero"],
    [0x0004, "c.addi4spn nzuimm=0"],
    [0x8000, "quadrant 0 funct3=100"],
    [0x4002, "c.lwsp rd=0"],
    [0x6002, "c.ldsp rd=0"],
    [0x8002, "c.jr rs1=0"],
    [0x2001, "c.addiw rd=0"],
    [0x6281, "c.lui nzimm=0"],
    [0x6101, "c.addi16sp nzimm=0"],
    [0x9c41, "c.subw/addw reserved funct2"],
  ];
  for (const [h, what] of reserved) {
    const m = machine(new Uint8Array([h & 0xff, h >>> 8]));
    m.hart.exitMask = 1 << 2;
    assert.equal(m.hart.run(10), 1, what);
    assert.equal(m.hart.exitCause, 2, what);
    assert.equal(m.hart.exitTval, BigInt(h), what);
    assert.equal(m.hart.getPc(), 0x80000000n, what);
  }
});

test("compressed code runs: links are pc+2, loads and stores through sp", { skip }, () => {
  const { hart } = runAsm(`
    .option rvc
    la sp, stack_top
    c.li a0, 5
    c.addi a0, -3
    c.mv a1, a0
    c.slli a1, 62
    c.srai a1, 61
    c.sdsp a1, 8(sp)
    c.ldsp a2, 8(sp)
    c.swsp a0, 16(sp)
    c.lwsp a3, 16(sp)
    la t0, target
    c.jalr t0
    c.li a4, 9          # skipped
target:
    c.ebreak
    .align 4
    .space 64
stack_top:
    .space 64
  `);
  assert.equal(hart.getX(10), 2n);
  assert.equal(hart.getX(11), 0xfffffffffffffffcn); // 2 << 62 >> 61 (arithmetic)
  assert.equal(hart.getX(12), 0xfffffffffffffffcn);
  assert.equal(hart.getX(13), 2n);
  assert.equal(hart.getX(14), 0n);
  const ret = hart.getX(1);
  assert.equal(hart.getX(5) - ret, 2n); // ra = address of the skipped c.li = target - 2
});
