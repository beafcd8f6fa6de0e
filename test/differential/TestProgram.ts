// Wraps generated instruction sequences into one static RV64 Linux ELF executable (System V gABI;
// written directly, no assembler needed). For each sequence the program:
//   1. points BASE (x9) at the sequence's record in the data segment,
//   2. loads fcsr, f0..f31 and every x register but BASE from the record,
//   3. runs the sequence,
//   4. stores x1..x31, f0..f31 and fcsr back into the record (the scratch memory is already there),
//   5. write(1, record, RECORD_BYTES).
// and finally exit(0). A record is [ scratch 256 B | x0..x31 | f0..f31 | fcsr | pad ].
// With passes > 1 the whole batch runs again: the second pass starts from the first pass's final
// states (the dump overwrote the records), which is still deterministic, and makes every sequence
// hot code for a binary translator.
import { BASE, SCRATCH_BYTES, type Insn } from "./Generator.js";

export const CODE_VADDR = 0x40_1000;
export const DATA_VADDR = 0x60_0000;
export const X_OFF = SCRATCH_BYTES;
export const F_OFF = X_OFF + 32 * 8;
export const FCSR_OFF = F_OFF + 32 * 8;
export const RECORD_BYTES = FCSR_OFF + 16;

export interface InitialState {
  x: bigint[]; // 32 entries (x[0] and x[BASE] ignored)
  f: bigint[]; // 32 entries
  fcsr: number;
  scratch: Uint8Array; // SCRATCH_BYTES
}

export interface BuiltProgram {
  elf: Uint8Array;
  /** Address of the first instruction of each sequence (for disassembly on a mismatch). */
  sequenceStart: number[];
  sequenceEnd: number[];
  records: number;
}

const T = 5; // t0: temporary used by the prologue/epilogue

export function buildProgram(sequences: readonly Insn[][], init: readonly InitialState[], passes = 1): BuiltProgram {
  const code: number[] = []; // bytes
  const emit32 = (w: number) => code.push(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, (w >>> 24) & 0xff);
  const emit16 = (w: number) => code.push(w & 0xff, (w >>> 8) & 0xff);
  const I = (op: number, f3: number, rd: number, rs1: number, imm: number) =>
    emit32((((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0);
  const S = (op: number, f3: number, rs1: number, rs2: number, imm: number) =>
    emit32(((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op) >>> 0);
  const li = (rd: number, v: number) => {
    // v < 2^31
    const lo = ((v & 0xfff) << 20) >> 20;
    const hi = ((v - lo) >>> 12) & 0xfffff;
    emit32(((hi << 12) | (rd << 7) | 0x37) >>> 0);
    I(0x13, 0, rd, rd, lo);
  };
  const counterOff = sequences.length * RECORD_BYTES;
  const data = new Uint8Array(counterOff + 8);
  const dv = new DataView(data.buffer);
  const sequenceStart: number[] = [];
  const sequenceEnd: number[] = [];
  dv.setBigUint64(counterOff, BigInt(passes), true);

  sequences.forEach((seq, n) => {
    const rec = n * RECORD_BYTES;
    const st = init[n]!;
    data.set(st.scratch, rec);
    for (let r = 0; r < 32; r++) dv.setBigUint64(rec + X_OFF + 8 * r, BigInt.asUintN(64, st.x[r]!), true);
    for (let r = 0; r < 32; r++) dv.setBigUint64(rec + F_OFF + 8 * r, BigInt.asUintN(64, st.f[r]!), true);
    dv.setBigUint64(rec + FCSR_OFF, BigInt(st.fcsr), true);

    li(BASE, DATA_VADDR + rec);
    I(0x03, 3, T, BASE, FCSR_OFF); // ld t0, fcsr
    I(0x73, 1, 0, T, 0x003); // csrw fcsr, t0
    for (let r = 0; r < 32; r++) I(0x07, 3, r, BASE, F_OFF + 8 * r); // fld
    for (let r = 1; r < 32; r++) if (r !== BASE) I(0x03, 3, r, BASE, X_OFF + 8 * r); // ld
    sequenceStart.push(CODE_VADDR + code.length);
    for (const insn of seq) (insn.size === 4 ? emit32 : emit16)(insn.word);
    sequenceEnd.push(CODE_VADDR + code.length);
    for (let r = 1; r < 32; r++) S(0x23, 3, BASE, r, X_OFF + 8 * r); // sd
    for (let r = 0; r < 32; r++) S(0x27, 3, BASE, r, F_OFF + 8 * r); // fsd
    I(0x73, 2, T, 0, 0x003); // csrr t0, fcsr
    S(0x23, 3, BASE, T, FCSR_OFF);
    I(0x13, 0, 10, 0, 1); // a0 = 1
    I(0x13, 0, 11, BASE, 0); // a1 = record
    I(0x13, 0, 12, 0, RECORD_BYTES); // a2
    I(0x13, 0, 17, 0, 64); // a7 = SYS_write
    emit32(0x00000073); // ecall
  });
  // pass counter: if (--counter != 0) goto start
  li(T, DATA_VADDR + counterOff);
  I(0x03, 3, 6, T, 0); // ld t1, 0(t0)
  I(0x13, 0, 6, 6, -1); // addi t1, t1, -1
  S(0x23, 3, T, 6, 0); // sd t1, 0(t0)
  emit32((((8 >> 1) & 0xf) << 8) | (6 << 15) | 0x63); // beqz t1, +8
  const back = -code.length;
  if (back < -(1 << 20)) throw new Error("differential program: code too large for the pass loop");
  emit32(
    (((back >> 20) & 1) << 31) |
      (((back >> 1) & 0x3ff) << 21) |
      (((back >> 11) & 1) << 20) |
      (((back >> 12) & 0xff) << 12) |
      0x6f,
  );
  I(0x13, 0, 10, 0, 0);
  I(0x13, 0, 17, 0, 93); // exit(0)
  emit32(0x00000073);
  void emit16;

  // ELF: header, two PT_LOAD program headers, code at file offset 0x1000, data page-aligned after.
  const codeOff = 0x1000;
  const dataOff = codeOff + Math.ceil(code.length / 0x1000) * 0x1000;
  if (CODE_VADDR + code.length > DATA_VADDR) throw new Error("differential program: code too large for the layout");
  const file = new Uint8Array(dataOff + data.length);
  const f = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELFCLASS64, little-endian, SYSV
  f.setUint16(16, 2, true); // ET_EXEC
  f.setUint16(18, 243, true); // EM_RISCV
  f.setUint32(20, 1, true);
  f.setBigUint64(24, BigInt(CODE_VADDR), true); // e_entry
  f.setBigUint64(32, 64n, true); // e_phoff
  f.setUint32(48, 0x5, true); // EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE
  f.setUint16(52, 64, true);
  f.setUint16(54, 56, true);
  f.setUint16(56, 2, true);
  f.setUint16(58, 64, true);
  const ph = (o: number, flags: number, off: number, vaddr: number, size: number) => {
    f.setUint32(o, 1, true);
    f.setUint32(o + 4, flags, true);
    f.setBigUint64(o + 8, BigInt(off), true);
    f.setBigUint64(o + 16, BigInt(vaddr), true);
    f.setBigUint64(o + 24, BigInt(vaddr), true);
    f.setBigUint64(o + 32, BigInt(size), true);
    f.setBigUint64(o + 40, BigInt(size), true);
    f.setBigUint64(o + 48, 0x1000n, true);
  };
  ph(64, 5, codeOff, CODE_VADDR, code.length); // R+X
  ph(64 + 56, 6, dataOff, DATA_VADDR, data.length); // R+W
  file.set(code, codeOff);
  file.set(data, dataOff);
  return { elf: file, sequenceStart, sequenceEnd, records: sequences.length };
}
