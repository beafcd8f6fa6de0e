// The "C" standard extension (Unprivileged ISA 20191213, ch. 16 "RVC"), RV64 forms.
//
// Every 16-bit instruction is an abbreviation of exactly one 32-bit instruction (16.1), so the hart
// expands it through a table built once (65536 entries, one per 16-bit pattern) and executes the
// 32-bit form with an instruction length of 2. That keeps the execute stage single and makes the
// per-instruction cost of RVC a single typed-array load. Quadrant 3 (low bits 11) is not RVC and
// reserved or illegal encodings map to 0, which the hart reports as illegal instruction with
// tval = the 16-bit pattern (Privileged ISA 3.1.16).
//
// HINT encodings (16.7, table 16.3: e.g. C.NOP with imm != 0, C.LI/C.LUI/C.MV/C.ADD/C.SLLI with rd = x0)
// are legal and expand to their natural (no-op) 32-bit form.

function encI(op: number, rd: number, f3: number, rs1: number, imm: number): number {
  return ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op | 0;
}
function encS(op: number, f3: number, rs1: number, rs2: number, imm: number): number {
  return (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op | 0;
}
function encR(op: number, f7: number, rd: number, f3: number, rs1: number, rs2: number): number {
  return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op | 0;
}
function encB(f3: number, rs1: number, rs2: number, imm: number): number {
  return (
    (((imm >> 12) & 1) << 31) |
    (((imm >> 5) & 0x3f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (f3 << 12) |
    (((imm >> 1) & 0xf) << 8) |
    (((imm >> 11) & 1) << 7) |
    0x63 |
    0
  );
}
function encJ(rd: number, imm: number): number {
  return (
    (((imm >> 20) & 1) << 31) |
    (((imm >> 1) & 0x3ff) << 21) |
    (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) |
    (rd << 7) |
    0x6f |
    0
  );
}

const bit = (h: number, n: number): number => (h >>> n) & 1;
const bits = (h: number, hi: number, lo: number): number => (h >>> lo) & ((1 << (hi - lo + 1)) - 1);
/** Sign-extends the low `n` bits of v. */
const sext = (v: number, n: number): number => (v << (32 - n)) >> (32 - n);

const OP_IMM = 0x13,
  OP_IMM_32 = 0x1b,
  OP = 0x33,
  OP_32 = 0x3b,
  LOAD = 0x03,
  STORE = 0x23;
const LOAD_FP = 0x07,
  STORE_FP = 0x27,
  JALR = 0x67,
  LUI = 0x37;

/** Returns the 32-bit instruction `h` abbreviates, or 0 if `h` is reserved/illegal in RV64C. */
export function expandCompressed(h: number): number {
  const op = h & 3;
  const f3 = h >>> 13;
  const rdp = bits(h, 4, 2) + 8; // rd'/rs2' (16.2: x8-x15 / f8-f15)
  const rs1p = bits(h, 9, 7) + 8;
  const rd = bits(h, 11, 7);
  const rs2 = bits(h, 6, 2);
  const imm6 = sext((bit(h, 12) << 5) | bits(h, 6, 2), 6);
  if (op === 0) {
    switch (f3) {
      case 0: {
        // C.ADDI4SPN; nzuimm = 0 (including the all-zero word) is reserved
        const imm = (bits(h, 12, 11) << 4) | (bits(h, 10, 7) << 6) | (bit(h, 6) << 2) | (bit(h, 5) << 3);
        return imm === 0 ? 0 : encI(OP_IMM, rdp, 0, 2, imm);
      }
      case 1:
        return encI(LOAD_FP, rdp, 3, rs1p, (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6)); // C.FLD
      case 2:
        return encI(LOAD, rdp, 2, rs1p, (bits(h, 12, 10) << 3) | (bit(h, 6) << 2) | (bit(h, 5) << 6)); // C.LW
      case 3:
        return encI(LOAD, rdp, 3, rs1p, (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6)); // C.LD
      case 4:
        return 0; // reserved
      case 5:
        return encS(STORE_FP, 3, rs1p, rdp, (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6)); // C.FSD
      case 6:
        return encS(STORE, 2, rs1p, rdp, (bits(h, 12, 10) << 3) | (bit(h, 6) << 2) | (bit(h, 5) << 6)); // C.SW
      default:
        return encS(STORE, 3, rs1p, rdp, (bits(h, 12, 10) << 3) | (bits(h, 6, 5) << 6)); // C.SD
    }
  }
  if (op === 1) {
    switch (f3) {
      case 0:
        return encI(OP_IMM, rd, 0, rd, imm6); // C.ADDI / C.NOP (HINTs included)
      case 1:
        return rd === 0 ? 0 : encI(OP_IMM_32, rd, 0, rd, imm6); // C.ADDIW; rd = 0 reserved
      case 2:
        return encI(OP_IMM, rd, 0, 0, imm6); // C.LI
      case 3: {
        if (rd === 2) {
          // C.ADDI16SP
          const imm = sext(
            (bit(h, 12) << 9) | (bit(h, 6) << 4) | (bit(h, 5) << 6) | (bits(h, 4, 3) << 7) | (bit(h, 2) << 5),
            10,
          );
          return imm === 0 ? 0 : encI(OP_IMM, 2, 0, 2, imm);
        }
        // C.LUI; nzimm = 0 reserved
        if (imm6 === 0) return 0;
        return (imm6 << 12) | (rd << 7) | LUI | 0;
      }
      case 4: {
        const sub = bits(h, 11, 10);
        const shamt = (bit(h, 12) << 5) | bits(h, 6, 2);
        if (sub === 0) return encI(OP_IMM, rs1p, 5, rs1p, shamt); // C.SRLI
        if (sub === 1) return encI(OP_IMM, rs1p, 5, rs1p, shamt | 0x400); // C.SRAI
        if (sub === 2) return encI(OP_IMM, rs1p, 7, rs1p, imm6); // C.ANDI
        const f2 = bits(h, 6, 5);
        if (bit(h, 12) === 0) {
          switch (f2) {
            case 0:
              return encR(OP, 0x20, rs1p, 0, rs1p, rdp); // C.SUB
            case 1:
              return encR(OP, 0, rs1p, 4, rs1p, rdp); // C.XOR
            case 2:
              return encR(OP, 0, rs1p, 6, rs1p, rdp); // C.OR
            default:
              return encR(OP, 0, rs1p, 7, rs1p, rdp); // C.AND
          }
        }
        if (f2 === 0) return encR(OP_32, 0x20, rs1p, 0, rs1p, rdp); // C.SUBW
        if (f2 === 1) return encR(OP_32, 0, rs1p, 0, rs1p, rdp); // C.ADDW
        return 0; // reserved
      }
      case 5: {
        // C.J
        const imm = sext(
          (bit(h, 12) << 11) |
            (bit(h, 11) << 4) |
            (bits(h, 10, 9) << 8) |
            (bit(h, 8) << 10) |
            (bit(h, 7) << 6) |
            (bit(h, 6) << 7) |
            (bits(h, 5, 3) << 1) |
            (bit(h, 2) << 5),
          12,
        );
        return encJ(0, imm);
      }
      default: {
        // C.BEQZ / C.BNEZ
        const imm = sext(
          (bit(h, 12) << 8) | (bits(h, 11, 10) << 3) | (bits(h, 6, 5) << 6) | (bits(h, 4, 3) << 1) | (bit(h, 2) << 5),
          9,
        );
        return encB(f3 === 6 ? 0 : 1, rs1p, 0, imm);
      }
    }
  }
  if (op === 2) {
    switch (f3) {
      case 0:
        return encI(OP_IMM, rd, 1, rd, (bit(h, 12) << 5) | rs2); // C.SLLI
      case 1:
        return encI(LOAD_FP, rd, 3, 2, (bit(h, 12) << 5) | (bits(h, 6, 5) << 3) | (bits(h, 4, 2) << 6)); // C.FLDSP
      case 2:
        return rd === 0 ? 0 : encI(LOAD, rd, 2, 2, (bit(h, 12) << 5) | (bits(h, 6, 4) << 2) | (bits(h, 3, 2) << 6)); // C.LWSP
      case 3:
        return rd === 0 ? 0 : encI(LOAD, rd, 3, 2, (bit(h, 12) << 5) | (bits(h, 6, 5) << 3) | (bits(h, 4, 2) << 6)); // C.LDSP
      case 4: {
        if (bit(h, 12) === 0) {
          if (rs2 === 0) return rd === 0 ? 0 : encI(JALR, 0, 0, rd, 0); // C.JR; rs1 = 0 reserved
          return encR(OP, 0, rd, 0, 0, rs2); // C.MV
        }
        if (rs2 === 0) {
          if (rd === 0) return 0x00100073; // C.EBREAK
          return encI(JALR, 1, 0, rd, 0); // C.JALR
        }
        return encR(OP, 0, rd, 0, rd, rs2); // C.ADD
      }
      case 5:
        return encS(STORE_FP, 3, 2, rs2, (bits(h, 12, 10) << 3) | (bits(h, 9, 7) << 6)); // C.FSDSP
      case 6:
        return encS(STORE, 2, 2, rs2, (bits(h, 12, 9) << 2) | (bits(h, 8, 7) << 6)); // C.SWSP
      default:
        return encS(STORE, 3, 2, rs2, (bits(h, 12, 10) << 3) | (bits(h, 9, 7) << 6)); // C.SDSP
    }
  }
  return 0; // quadrant 3 is not a 16-bit instruction
}

let table: Int32Array | undefined;

/** The expansion of every 16-bit pattern (0 = illegal), shared by all harts. */
export function compressedTable(): Int32Array {
  if (!table) {
    table = new Int32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = (h & 3) === 3 ? 0 : expandCompressed(h);
  }
  return table;
}
