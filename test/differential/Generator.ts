// Random but valid RV64GC + Zba/Zbb/Zbs instruction sequences for differential testing against
// QEMU. Every instruction is encoded here directly (Unprivileged ISA ch. 34 "RV32/64G Instruction
// Set Listings", ch. 16 for RVC, Bit-Manipulation 1.0.0 for Zb*), with the constraints that make a
// sequence deterministic on any correct implementation:
// - memory accesses are naturally aligned and stay inside the 256-byte scratch area at BASE;
// - control flow only goes forward (branches and jumps skip 0..3 following instructions);
// - rounding modes are 0..4 or dynamic, and frm is only ever set to 0..4;
// - no counters, no timers, no system instructions.
// BASE (x9, s1) holds the scratch address and is never written; x9 is also the only base register
// the compressed loads/stores need (it is one of x8..x15).
import type { Random } from "./Random.js";

export const BASE = 9;
export const SCRATCH_BYTES = 256;

export interface Insn {
  /** Encoded instruction (16 or 32 bits). */
  word: number;
  size: 2 | 4;
  /** Human-readable form for failure reports. */
  text: string;
}

const XN = [
  "zero",
  "ra",
  "sp",
  "gp",
  "tp",
  "t0",
  "t1",
  "t2",
  "s0",
  "s1",
  "a0",
  "a1",
  "a2",
  "a3",
  "a4",
  "a5",
  "a6",
  "a7",
  "s2",
  "s3",
  "s4",
  "s5",
  "s6",
  "s7",
  "s8",
  "s9",
  "s10",
  "s11",
  "t3",
  "t4",
  "t5",
  "t6",
];
const fn = (i: number) => `f${i}`;
const RM = ["rne", "rtz", "rdn", "rup", "rmm", "?5", "?6", "dyn"];

export interface GeneratorOptions {
  /** Instruction classes to draw from (default: all). */
  classes?: readonly InsnClass[];
}

export type InsnClass = "int" | "m" | "a" | "fd" | "c" | "zb" | "mem" | "branch" | "loop";
export const ALL_CLASSES: readonly InsnClass[] = ["int", "m", "a", "fd", "c", "zb", "mem", "branch", "loop"];

/** The loop counter of a `loop` group (t6); no instruction inside the loop body may write it. */
const LOOP = 31;
let inLoop = false;

// --- encoders ----------------------------------------------------------------------------------
const r = (op: number, f3: number, f7: number, rd: number, rs1: number, rs2: number) =>
  ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const i = (op: number, f3: number, rd: number, rs1: number, imm: number) =>
  (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
const s = (op: number, f3: number, rs1: number, rs2: number, imm: number) =>
  ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op) >>> 0;
const b = (f3: number, rs1: number, rs2: number, off: number) =>
  ((((off >> 12) & 1) << 31) |
    (((off >> 5) & 0x3f) << 25) |
    (rs2 << 20) |
    (rs1 << 15) |
    (f3 << 12) |
    (((off >> 1) & 0xf) << 8) |
    (((off >> 11) & 1) << 7) |
    0x63) >>>
  0;
const jal = (rd: number, off: number) =>
  ((((off >> 20) & 1) << 31) |
    (((off >> 1) & 0x3ff) << 21) |
    (((off >> 11) & 1) << 20) |
    (((off >> 12) & 0xff) << 12) |
    (rd << 7) |
    0x6f) >>>
  0;
const r4 = (op: number, fmt: number, rm: number, rd: number, rs1: number, rs2: number, rs3: number) =>
  ((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | op) >>> 0;

const w4 = (word: number, text: string): Insn => ({ word, size: 4, text });
const w2 = (word: number, text: string): Insn => ({ word: word & 0xffff, size: 2, text });

/** A destination register: anything but x0 and BASE. */
function xd(rng: Random): number {
  for (;;) {
    const v = rng.int(32);
    if (v !== 0 && v !== BASE && !(inLoop && v === LOOP)) return v;
  }
}
/** A source register: anything (x0 and BASE included). */
const xs = (rng: Random) => rng.int(32);
/** A compressed-form register x8..x15 other than BASE, as its 3-bit field. */
function cr(rng: Random): number {
  for (;;) {
    const v = rng.int(8);
    if (v !== BASE - 8) return v;
  }
}
function simm(rng: Random, bits: number): number {
  const edge = rng.chance(0.2);
  if (edge) return rng.pick([0, 1, -1, (1 << (bits - 1)) - 1, -(1 << (bits - 1))]);
  return rng.int(1 << bits) - (1 << (bits - 1));
}

type Gen = (rng: Random) => Insn;

const R_INT: [string, number, number, number][] = [
  ["add", 0x33, 0, 0],
  ["sub", 0x33, 0, 0x20],
  ["sll", 0x33, 1, 0],
  ["slt", 0x33, 2, 0],
  ["sltu", 0x33, 3, 0],
  ["xor", 0x33, 4, 0],
  ["srl", 0x33, 5, 0],
  ["sra", 0x33, 5, 0x20],
  ["or", 0x33, 6, 0],
  ["and", 0x33, 7, 0],
  ["addw", 0x3b, 0, 0],
  ["subw", 0x3b, 0, 0x20],
  ["sllw", 0x3b, 1, 0],
  ["srlw", 0x3b, 5, 0],
  ["sraw", 0x3b, 5, 0x20],
];
const R_M: [string, number, number, number][] = [
  ["mul", 0x33, 0, 1],
  ["mulh", 0x33, 1, 1],
  ["mulhsu", 0x33, 2, 1],
  ["mulhu", 0x33, 3, 1],
  ["div", 0x33, 4, 1],
  ["divu", 0x33, 5, 1],
  ["rem", 0x33, 6, 1],
  ["remu", 0x33, 7, 1],
  ["mulw", 0x3b, 0, 1],
  ["divw", 0x3b, 4, 1],
  ["divuw", 0x3b, 5, 1],
  ["remw", 0x3b, 6, 1],
  ["remuw", 0x3b, 7, 1],
];
const R_ZB: [string, number, number, number][] = [
  ["add.uw", 0x3b, 0, 0x04],
  ["sh1add", 0x33, 2, 0x10],
  ["sh2add", 0x33, 4, 0x10],
  ["sh3add", 0x33, 6, 0x10],
  ["sh1add.uw", 0x3b, 2, 0x10],
  ["sh2add.uw", 0x3b, 4, 0x10],
  ["sh3add.uw", 0x3b, 6, 0x10],
  ["andn", 0x33, 7, 0x20],
  ["orn", 0x33, 6, 0x20],
  ["xnor", 0x33, 4, 0x20],
  ["max", 0x33, 6, 0x05],
  ["maxu", 0x33, 7, 0x05],
  ["min", 0x33, 4, 0x05],
  ["minu", 0x33, 5, 0x05],
  ["rol", 0x33, 1, 0x30],
  ["ror", 0x33, 5, 0x30],
  ["rolw", 0x3b, 1, 0x30],
  ["rorw", 0x3b, 5, 0x30],
  ["bclr", 0x33, 1, 0x24],
  ["bext", 0x33, 5, 0x24],
  ["binv", 0x33, 1, 0x34],
  ["bset", 0x33, 1, 0x14],
];
/** Unary Zbb: [name, opcode, funct3, imm12]. ctzw is left out: QEMU 7.2 counts past bit 31 when the
 * low word is zero (ctzw of 1 << 39 gives 39, not 32); conformance program bitmanip.S covers it. */
const U_ZB: [string, number, number, number][] = [
  ["clz", 0x13, 1, 0x600],
  ["ctz", 0x13, 1, 0x601],
  ["cpop", 0x13, 1, 0x602],
  ["sext.b", 0x13, 1, 0x604],
  ["sext.h", 0x13, 1, 0x605],
  ["clzw", 0x1b, 1, 0x600],
  ["cpopw", 0x1b, 1, 0x602],
  ["orc.b", 0x13, 5, 0x287],
  ["rev8", 0x13, 5, 0x6b8],
];
/** Shift-immediate Zb*: [name, opcode, funct3, funct6 (imm[11:6]), shamt bits]. */
const SH_ZB: [string, number, number, number, number][] = [
  ["slli.uw", 0x1b, 1, 0x02, 6],
  ["rori", 0x13, 5, 0x18, 6],
  ["roriw", 0x1b, 5, 0x18, 5],
  ["bclri", 0x13, 1, 0x12, 6],
  ["bexti", 0x13, 5, 0x12, 6],
  ["binvi", 0x13, 1, 0x1a, 6],
  ["bseti", 0x13, 1, 0x0a, 6],
];

const genRR =
  (table: [string, number, number, number][]): Gen =>
  (rng) => {
    const [name, op, f3, f7] = rng.pick(table);
    const rd = xd(rng),
      a = xs(rng),
      c = xs(rng);
    return w4(r(op, f3, f7, rd, a, c), `${name} ${XN[rd]}, ${XN[a]}, ${XN[c]}`);
  };

const genIntImm: Gen = (rng) => {
  const rd = xd(rng),
    a = xs(rng);
  switch (rng.int(12)) {
    case 0:
    case 1: {
      const imm = simm(rng, 12);
      const k = rng.pick([
        ["addi", 0],
        ["slti", 2],
        ["sltiu", 3],
        ["xori", 4],
        ["ori", 6],
        ["andi", 7],
      ] as const);
      return w4(i(0x13, k[1], rd, a, imm), `${k[0]} ${XN[rd]}, ${XN[a]}, ${imm}`);
    }
    case 2: {
      const imm = simm(rng, 12);
      return w4(i(0x1b, 0, rd, a, imm), `addiw ${XN[rd]}, ${XN[a]}, ${imm}`);
    }
    case 3: {
      const sh = rng.int(64);
      return w4(i(0x13, 1, rd, a, sh), `slli ${XN[rd]}, ${XN[a]}, ${sh}`);
    }
    case 4: {
      const sh = rng.int(64);
      return w4(i(0x13, 5, rd, a, sh), `srli ${XN[rd]}, ${XN[a]}, ${sh}`);
    }
    case 5: {
      const sh = rng.int(64);
      return w4(i(0x13, 5, rd, a, 0x400 | sh), `srai ${XN[rd]}, ${XN[a]}, ${sh}`);
    }
    case 6: {
      const sh = rng.int(32);
      return w4(i(0x1b, 1, rd, a, sh), `slliw ${XN[rd]}, ${XN[a]}, ${sh}`);
    }
    case 7: {
      const sh = rng.int(32);
      return w4(i(0x1b, 5, rd, a, sh), `srliw ${XN[rd]}, ${XN[a]}, ${sh}`);
    }
    case 8: {
      const sh = rng.int(32);
      return w4(i(0x1b, 5, rd, a, 0x400 | sh), `sraiw ${XN[rd]}, ${XN[a]}, ${sh}`);
    }
    case 9: {
      const imm = rng.u32() >>> 12;
      return w4(((imm << 12) | (rd << 7) | 0x37) >>> 0, `lui ${XN[rd]}, 0x${imm.toString(16)}`);
    }
    case 10: {
      const imm = rng.u32() >>> 12;
      return w4(((imm << 12) | (rd << 7) | 0x17) >>> 0, `auipc ${XN[rd]}, 0x${imm.toString(16)}`);
    }
    default:
      return genRR(R_INT)(rng);
  }
};

const genZb: Gen = (rng) => {
  const k = rng.int(3);
  if (k === 0) return genRR(R_ZB)(rng);
  const rd = xd(rng),
    a = xs(rng);
  if (k === 1) {
    const [name, op, f3, imm] = rng.pick(U_ZB);
    return w4(i(op, f3, rd, a, imm), `${name} ${XN[rd]}, ${XN[a]}`);
  }
  const [name, op, f3, f6, bits] = rng.pick(SH_ZB);
  const sh = rng.int(1 << bits);
  return w4(i(op, f3, rd, a, (f6 << 6) | sh), `${name} ${XN[rd]}, ${XN[a]}, ${sh}`);
};

const LOADS: [string, number, number][] = [
  ["lb", 0, 1],
  ["lh", 1, 2],
  ["lw", 2, 4],
  ["ld", 3, 8],
  ["lbu", 4, 1],
  ["lhu", 5, 2],
  ["lwu", 6, 4],
];
const STORES: [string, number, number][] = [
  ["sb", 0, 1],
  ["sh", 1, 2],
  ["sw", 2, 4],
  ["sd", 3, 8],
];
const genMem: Gen = (rng) => {
  const k = rng.int(6);
  if (k <= 2) {
    const [name, f3, size] = rng.pick(LOADS);
    const off = rng.int(SCRATCH_BYTES / size) * size;
    const rd = xd(rng);
    return w4(i(0x03, f3, rd, BASE, off), `${name} ${XN[rd]}, ${off}(s1)`);
  }
  if (k <= 4) {
    const [name, f3, size] = rng.pick(STORES);
    const off = rng.int(SCRATCH_BYTES / size) * size;
    const v = xs(rng);
    return w4(s(0x23, f3, BASE, v, off), `${name} ${XN[v]}, ${off}(s1)`);
  }
  const d = rng.chance(0.5);
  const size = d ? 8 : 4;
  const off = rng.int(SCRATCH_BYTES / size) * size;
  const f = rng.int(32);
  if (rng.chance(0.5)) return w4(i(0x07, d ? 3 : 2, f, BASE, off), `${d ? "fld" : "flw"} ${fn(f)}, ${off}(s1)`);
  return w4(s(0x27, d ? 3 : 2, BASE, f, off), `${d ? "fsd" : "fsw"} ${fn(f)}, ${off}(s1)`);
};

const AMOS: [string, number][] = [
  ["amoadd", 0x00],
  ["amoswap", 0x01],
  ["amoxor", 0x04],
  ["amoor", 0x08],
  ["amoand", 0x0c],
  ["amomin", 0x10],
  ["amomax", 0x14],
  ["amominu", 0x18],
  ["amomaxu", 0x1c],
];
/** An AMO needs its address in a register: `addi t, BASE, off` first, so this yields a pair. */
function genAmo(rng: Random): Insn[] {
  const d = rng.chance(0.5);
  const size = d ? 8 : 4;
  const off = rng.int(SCRATCH_BYTES / size) * size;
  const t = xd(rng);
  const set = w4(i(0x13, 0, t, BASE, off), `addi ${XN[t]}, s1, ${off}`);
  const aq = rng.int(2),
    rl = rng.int(2);
  const sfx = `${d ? ".d" : ".w"}${aq ? ".aq" : ""}${rl ? ".rl" : ""}`;
  const amo = (f5: number, rd: number, rs2: number) =>
    ((f5 << 27) | (aq << 26) | (rl << 25) | (rs2 << 20) | (t << 15) | ((d ? 3 : 2) << 12) | (rd << 7) | 0x2f) >>> 0;
  if (rng.chance(0.25)) {
    // LR immediately followed by SC to the same address: the SC must succeed (rd = 0).
    const rd1 = xd(rng),
      rd2 = xd(rng),
      v = xs(rng);
    if (v === t || rd1 === t) return [set, w4(amo(0x01, rd1, v), `amoswap${sfx} ${XN[rd1]}, ${XN[v]}, (${XN[t]})`)];
    return [
      set,
      w4(amo(0x02, rd1, 0), `lr${sfx} ${XN[rd1]}, (${XN[t]})`),
      w4(amo(0x03, rd2, v), `sc${sfx} ${XN[rd2]}, ${XN[v]}, (${XN[t]})`),
    ];
  }
  const [name, f5] = rng.pick(AMOS);
  const rd = xd(rng),
    v = xs(rng);
  return [set, w4(amo(f5, rd, v), `${name}${sfx} ${XN[rd]}, ${XN[v]}, (${XN[t]})`)];
}

const FP_BIN: [string, number][] = [
  ["fadd", 0x00],
  ["fsub", 0x01],
  ["fmul", 0x02],
  ["fdiv", 0x03],
];
const rmOf = (rng: Random) => rng.pick([0, 1, 2, 3, 4, 7, 7]);
const genFp: Gen = (rng) => {
  const fmt = rng.int(2); // 0 = S, 1 = D
  const sx = fmt ? ".d" : ".s";
  const rd = rng.int(32),
    a = rng.int(32),
    c = rng.int(32);
  const rm = rmOf(rng);
  const opf = (f5: number, f3: number, rdv: number, rs1: number, rs2: number) =>
    r(0x53, f3, (f5 << 2) | fmt, rdv, rs1, rs2);
  switch (rng.int(13)) {
    case 0:
    case 1:
    case 2: {
      const [n, f5] = rng.pick(FP_BIN);
      return w4(opf(f5, rm, rd, a, c), `${n}${sx} ${fn(rd)}, ${fn(a)}, ${fn(c)}, ${RM[rm]}`);
    }
    case 3:
      return w4(opf(0x0b, rm, rd, a, 0), `fsqrt${sx} ${fn(rd)}, ${fn(a)}, ${RM[rm]}`);
    case 4: {
      const k = rng.int(3);
      return w4(opf(0x04, k, rd, a, c), `${["fsgnj", "fsgnjn", "fsgnjx"][k]}${sx} ${fn(rd)}, ${fn(a)}, ${fn(c)}`);
    }
    case 5: {
      const k = rng.int(2);
      return w4(opf(0x05, k, rd, a, c), `${["fmin", "fmax"][k]}${sx} ${fn(rd)}, ${fn(a)}, ${fn(c)}`);
    }
    case 6: {
      const ops = [0x43, 0x47, 0x4b, 0x4f];
      const k = rng.int(4);
      const e = rng.int(32);
      return w4(
        r4(ops[k]!, fmt, rm, rd, a, c, e),
        `${["fmadd", "fmsub", "fnmsub", "fnmadd"][k]}${sx} ${fn(rd)}, ${fn(a)}, ${fn(c)}, ${fn(e)}, ${RM[rm]}`,
      );
    }
    case 7: {
      // float -> int
      const x = xd(rng);
      const k = rng.int(4);
      return w4(opf(0x18, rm, x, a, k), `fcvt.${["w", "wu", "l", "lu"][k]}${sx} ${XN[x]}, ${fn(a)}, ${RM[rm]}`);
    }
    case 8: {
      // int -> float
      const x = xs(rng);
      const k = rng.int(4);
      return w4(opf(0x1a, rm, rd, x, k), `fcvt${sx}.${["w", "wu", "l", "lu"][k]} ${fn(rd)}, ${XN[x]}, ${RM[rm]}`);
    }
    case 9: // between formats: fcvt.s.d (fmt S, rs2 = 1) / fcvt.d.s (fmt D, rs2 = 0)
      return w4(opf(0x08, rm, rd, a, fmt ? 0 : 1), `fcvt${sx}${fmt ? ".s" : ".d"} ${fn(rd)}, ${fn(a)}, ${RM[rm]}`);
    case 10: {
      const x = xd(rng);
      const k = rng.int(3);
      return w4(opf(0x14, k, x, a, c), `${["fle", "flt", "feq"][k]}${sx} ${XN[x]}, ${fn(a)}, ${fn(c)}`);
    }
    case 11: {
      const x = xd(rng);
      return rng.chance(0.5)
        ? w4(opf(0x1c, 1, x, a, 0), `fclass${sx} ${XN[x]}, ${fn(a)}`)
        : w4(opf(0x1c, 0, x, a, 0), `fmv.x.${fmt ? "d" : "w"} ${XN[x]}, ${fn(a)}`);
    }
    default: {
      if (rng.chance(0.3)) {
        // CSR side of the F extension (Zicsr on fcsr/frm/fflags, Unprivileged ISA 11.2)
        const x = xd(rng);
        switch (rng.int(4)) {
          case 0: {
            const m = rng.int(5);
            return w4(i(0x73, 5, x, m, 0x002), `csrrwi ${XN[x]}, frm, ${m}`);
          }
          case 1:
            return w4(i(0x73, 2, x, 0, 0x001), `csrr ${XN[x]}, fflags`);
          case 2: {
            const m = rng.int(32);
            return w4(i(0x73, 7, x, m, 0x001), `csrrci ${XN[x]}, fflags, ${m}`);
          }
          default:
            return w4(i(0x73, 2, x, 0, 0x003), `csrr ${XN[x]}, fcsr`);
        }
      }
      const x = xs(rng);
      return w4(opf(0x1e, 0, rd, x, 0), `fmv.${fmt ? "d" : "w"}.x ${fn(rd)}, ${XN[x]}`);
    }
  }
};

const genC: Gen = (rng) => {
  const cimm6 = () => {
    const v = simm(rng, 6);
    return { v, e: (((v >> 5) & 1) << 12) | ((v & 0x1f) << 2) };
  };
  switch (rng.int(14)) {
    case 0: {
      const rd = xd(rng);
      let { v, e } = cimm6();
      if (v === 0) {
        v = 1;
        e = 1 << 2;
      }
      return w2((rd << 7) | e | 0x01, `c.addi ${XN[rd]}, ${v}`);
    }
    case 1: {
      const rd = xd(rng);
      const { v, e } = cimm6();
      return w2((1 << 13) | (rd << 7) | e | 0x01, `c.addiw ${XN[rd]}, ${v}`);
    }
    case 2: {
      const rd = xd(rng);
      const { v, e } = cimm6();
      return w2((2 << 13) | (rd << 7) | e | 0x01, `c.li ${XN[rd]}, ${v}`);
    }
    case 3: {
      let rd = xd(rng);
      if (rd === 2) rd = 1;
      let { v, e } = cimm6();
      if (v === 0) {
        v = 1;
        e = 1 << 2;
      }
      return w2((3 << 13) | (rd << 7) | e | 0x01, `c.lui ${XN[rd]}, ${v & 0x3f}`);
    }
    case 4: {
      const rd = cr(rng);
      const k = rng.int(3);
      let sh = rng.int(64);
      if (sh === 0) sh = 1;
      const imm = k === 2 ? simm(rng, 6) : sh;
      return w2(
        (4 << 13) | (((imm >> 5) & 1) << 12) | (k << 10) | (rd << 7) | ((imm & 0x1f) << 2) | 0x01,
        `${["c.srli", "c.srai", "c.andi"][k]} ${XN[rd + 8]}, ${imm}`,
      );
    }
    case 5: {
      const rd = cr(rng),
        rs = rng.int(8);
      const k = rng.int(6);
      const w = k >= 4 ? 1 : 0;
      const f = k & 3;
      if (w && f > 1)
        return w2(
          (4 << 13) | (3 << 10) | (rd << 7) | (0 << 5) | (rs << 2) | 0x01,
          `c.sub ${XN[rd + 8]}, ${XN[rs + 8]}`,
        );
      return w2(
        (4 << 13) | (w << 12) | (3 << 10) | (rd << 7) | (f << 5) | (rs << 2) | 0x01,
        `${w ? ["c.subw", "c.addw"][f] : ["c.sub", "c.xor", "c.or", "c.and"][f]} ${XN[rd + 8]}, ${XN[rs + 8]}`,
      );
    }
    case 6: {
      const rd = xd(rng);
      let sh = rng.int(64);
      if (sh === 0) sh = 1;
      return w2((((sh >> 5) & 1) << 12) | (rd << 7) | ((sh & 0x1f) << 2) | 0x02, `c.slli ${XN[rd]}, ${sh}`);
    }
    case 7: {
      const rd = xd(rng);
      let rs = rng.int(32);
      if (rs === 0) rs = 1;
      return w2((4 << 13) | (rd << 7) | (rs << 2) | 0x02, `c.mv ${XN[rd]}, ${XN[rs]}`);
    }
    case 8: {
      const rd = xd(rng);
      let rs = rng.int(32);
      if (rs === 0) rs = 1;
      return w2((4 << 13) | (1 << 12) | (rd << 7) | (rs << 2) | 0x02, `c.add ${XN[rd]}, ${XN[rs]}`);
    }
    case 9:
    case 10: {
      // c.lw/c.ld/c.sw/c.sd, base register BASE (x9 = field 1)
      const d = rng.chance(0.5);
      const store = rng.chance(0.5);
      const rd = cr(rng);
      const off = d ? rng.int(32) * 8 : rng.int(32) * 4;
      const imm = d
        ? (((off >> 3) & 7) << 10) | (((off >> 6) & 3) << 5)
        : (((off >> 3) & 7) << 10) | (((off >> 2) & 1) << 6) | (((off >> 6) & 1) << 5);
      const f3 = (store ? 4 : 0) | (d ? 3 : 2);
      return w2(
        (f3 << 13) | imm | (1 << 7) | (rd << 2),
        `c.${store ? "s" : "l"}${d ? "d" : "w"} ${XN[rd + 8]}, ${off}(s1)`,
      );
    }
    case 11: {
      // c.fld / c.fsd
      const store = rng.chance(0.5);
      const rd = rng.int(8);
      const off = rng.int(32) * 8;
      return w2(
        ((store ? 5 : 1) << 13) | (((off >> 3) & 7) << 10) | (((off >> 6) & 3) << 5) | (1 << 7) | (rd << 2),
        `c.f${store ? "s" : "l"}d f${rd + 8}, ${off}(s1)`,
      );
    }
    default: {
      const rd = xd(rng);
      const { v, e } = cimm6();
      return w2((2 << 13) | (rd << 7) | e | 0x01, `c.li ${XN[rd]}, ${v}`);
    }
  }
};

const BR: [string, number][] = [
  ["beq", 0],
  ["bne", 1],
  ["blt", 4],
  ["bge", 5],
  ["bltu", 6],
  ["bgeu", 7],
];
/** A forward branch/jump over the next `skip` instructions of the sequence (patched in sequence()). */
interface Pending {
  index: number;
  skip: number;
  kind: "b" | "jal" | "cj" | "cb";
  f3: number;
  rs1: number;
  rs2: number;
  rd: number;
  name: string;
}

/** Generates `count` instructions (branches count as one; an AMO with its address setup as two or three). */
export function sequence(rng: Random, count: number, opts: GeneratorOptions = {}): Insn[] {
  const classes = opts.classes ?? ALL_CLASSES;
  const out: Insn[] = [];
  const pending: Pending[] = [];
  /** Indices where a branch may land: not inside an AMO group (its address setup must run). */
  const landing = new Set<number>();
  while (out.length < count) {
    landing.add(out.length);
    const cls = rng.pick(classes);
    switch (cls) {
      case "int":
        out.push(genIntImm(rng));
        break;
      case "m":
        out.push(genRR(R_M)(rng));
        break;
      case "zb":
        out.push(genZb(rng));
        break;
      case "mem":
        out.push(genMem(rng));
        break;
      case "fd":
        out.push(genFp(rng));
        break;
      case "c":
        out.push(genC(rng));
        break;
      case "a":
        out.push(...genAmo(rng));
        break;
      case "loop": {
        // A counted loop (backward branch) around a few straight-line instructions:
        //   addi t6, zero, K; body (never writes t6); addi t6, t6, -1; bne t6, zero, body
        const body = classes.filter((c) => c !== "branch" && c !== "loop");
        if (body.length === 0) break;
        const k = rng.range(2, 5);
        out.push(w4(i(0x13, 0, LOOP, 0, k), `addi t6, zero, ${k}`));
        inLoop = true;
        const first = out.length;
        const m = rng.range(2, 8);
        for (let j = 0; j < m; j++) {
          const c = rng.pick(body);
          if (c === "int") out.push(genIntImm(rng));
          else if (c === "m") out.push(genRR(R_M)(rng));
          else if (c === "zb") out.push(genZb(rng));
          else if (c === "mem") out.push(genMem(rng));
          else if (c === "fd") out.push(genFp(rng));
          else if (c === "c") out.push(genC(rng));
          else out.push(...genAmo(rng));
        }
        inLoop = false;
        out.push(w4(i(0x13, 0, LOOP, LOOP, -1), "addi t6, t6, -1"));
        let back = 0;
        for (let j = first; j < out.length; j++) back += out[j]!.size;
        out.push(w4(b(1, LOOP, 0, -back), `bne t6, zero, . - ${back}`));
        break;
      }
      case "branch": {
        const skip = rng.int(4);
        const k = rng.int(8);
        if (k < 5) {
          const [name, f3] = rng.pick(BR);
          pending.push({ index: out.length, skip, kind: "b", f3, rs1: xs(rng), rs2: xs(rng), rd: 0, name });
          out.push(w4(0, ""));
        } else if (k === 5) {
          pending.push({
            index: out.length,
            skip,
            kind: "jal",
            f3: 0,
            rs1: 0,
            rs2: 0,
            rd: rng.chance(0.5) ? 0 : xd(rng),
            name: "jal",
          });
          out.push(w4(0, ""));
        } else if (k === 6) {
          pending.push({ index: out.length, skip, kind: "cj", f3: 0, rs1: 0, rs2: 0, rd: 0, name: "c.j" });
          out.push(w2(0, ""));
        } else {
          pending.push({ index: out.length, skip, kind: "cb", f3: rng.int(2), rs1: cr(rng), rs2: 0, rd: 0, name: "" });
          out.push(w2(0, ""));
        }
        break;
      }
    }
  }
  // Patch branch offsets now that the sizes of the skipped instructions are known; a target past
  // the end lands on the first instruction after the sequence (the register dump).
  for (const p of pending) {
    let off = out[p.index]!.size;
    let k = p.index + 1;
    for (; k <= p.index + p.skip && k < out.length; k++) off += out[k]!.size;
    for (; k < out.length && !landing.has(k); k++) off += out[k]!.size;
    const t = `. + ${off}`;
    if (p.kind === "b") out[p.index] = w4(b(p.f3, p.rs1, p.rs2, off), `${p.name} ${XN[p.rs1]}, ${XN[p.rs2]}, ${t}`);
    else if (p.kind === "jal") out[p.index] = w4(jal(p.rd, off), `jal ${XN[p.rd]}, ${t}`);
    else if (p.kind === "cj") {
      const o = off;
      const e =
        (((o >> 11) & 1) << 12) |
        (((o >> 4) & 1) << 11) |
        (((o >> 8) & 3) << 9) |
        (((o >> 10) & 1) << 8) |
        (((o >> 6) & 1) << 7) |
        (((o >> 7) & 1) << 6) |
        (((o >> 1) & 7) << 3) |
        (((o >> 5) & 1) << 2);
      out[p.index] = w2((5 << 13) | e | 0x01, `c.j ${t}`);
    } else {
      const o = off;
      const e =
        (((o >> 8) & 1) << 12) |
        (((o >> 3) & 3) << 10) |
        (((o >> 6) & 3) << 5) |
        (((o >> 1) & 3) << 3) |
        (((o >> 5) & 1) << 2);
      out[p.index] = w2(
        ((6 + p.f3) << 13) | e | (p.rs1 << 7) | 0x01,
        `${p.f3 ? "c.bnez" : "c.beqz"} ${XN[p.rs1 + 8]}, ${t}`,
      );
    }
  }
  return out;
}

/** Interesting 64-bit integer register values. */
const X_EDGE = [
  0n,
  1n,
  0xffff_ffff_ffff_ffffn,
  0x8000_0000_0000_0000n,
  0x7fff_ffff_ffff_ffffn,
  0x8000_0000n,
  0x7fff_ffffn,
  0xffff_ffffn,
  0xffff_ffff_8000_0000n,
  0x1_0000_0000n,
  2n,
  31n,
  32n,
  63n,
  64n,
];
export function randomX(rng: Random): bigint {
  const k = rng.int(10);
  if (k < 3) return rng.pick(X_EDGE);
  if (k < 5) return BigInt.asUintN(64, BigInt(rng.int(512) - 256));
  return rng.u64();
}

/** Interesting FP register values: boxed singles, doubles, specials, and raw bit patterns. */
const F64_EDGE = [
  0n,
  0x8000_0000_0000_0000n,
  0x3ff0_0000_0000_0000n,
  0xbff0_0000_0000_0000n,
  0x7ff0_0000_0000_0000n,
  0xfff0_0000_0000_0000n,
  0x7ff8_0000_0000_0000n,
  0x7ff4_0000_0000_0000n,
  0x0000_0000_0000_0001n,
  0x000f_ffff_ffff_ffffn,
  0x7fef_ffff_ffff_ffffn,
  0x41e0_0000_0000_0000n,
  0x43e0_0000_0000_0000n,
  0xc3e0_0000_0000_0000n,
  0x3fe0_0000_0000_0000n,
];
const F32_EDGE = [
  0, 0x8000_0000, 0x3f80_0000, 0xbf80_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x7fa0_0000, 0x0000_0001,
  0x007f_ffff, 0x7f7f_ffff, 0x4f00_0000, 0x5f00_0000, 0xcf00_0000, 0x3f00_0000, 0x4040_0000,
];
export function randomF(rng: Random): bigint {
  const box = (v: number) => 0xffff_ffff_0000_0000n | BigInt(v >>> 0);
  switch (rng.int(8)) {
    case 0:
      return rng.pick(F64_EDGE);
    case 1:
      return box(rng.pick(F32_EDGE));
    case 2: {
      // a double of moderate magnitude
      const e = BigInt(1023 + rng.int(130) - 65);
      return (BigInt(rng.int(2)) << 63n) | (e << 52n) | (rng.u64() & 0xf_ffff_ffff_ffffn);
    }
    case 3:
    case 4: {
      // a boxed single of moderate magnitude
      const e = 127 + rng.int(60) - 30;
      return box(((rng.int(2) << 31) | (e << 23) | (rng.u32() & 0x7f_ffff)) >>> 0);
    }
    case 5:
      return box(rng.u32());
    case 6:
      return BigInt(rng.u32()); // not NaN-boxed: reads as the canonical NaN in single ops
    default:
      return rng.u64();
  }
}
