// The instruction set the hart executes, as one declarative table (the 32-bit encodings of RV64GC
// plus Zba/Zbb/Zbs; compressed instructions are expanded to these by Compressed.ts before decoding).
// Each row gives the encoding as a bit pattern (Unprivileged ISA 20191213 chapter 24 "RV32/64G
// Instruction Set Listings", Bitmanip 1.0.0 chapter 2; Privileged ISA 1.12 chapter 9), which register
// files its operands use, whether funct3 is a rounding mode, and whether the binary translator emits
// WebAssembly for it or leaves it to the interpreter (trap-and-emulate, docs/DBT.md).
//
// Who uses it: the translator derives "can I translate this instruction" and the registers an
// instruction reads and writes from it (src/dbt/PageTranslator.ts); the interpreter's hand-written
// hot loop (Hart.slice, kept dense on purpose) is checked against it encoding by encoding in
// test/riscv/opcodes.test.ts (every row executes, every encoding outside the rows of an opcode is an
// illegal instruction), so the interpreter, the table and the translator agree by construction
// rather than because a lockstep run happened to cover an instruction.
//
// What the table does not decide: whether a CSR number exists or is accessible (Csr.ts and the
// hart's csrRead/csrWrite), privilege rules of xRET/WFI/SFENCE.VMA (mstatus.TSR/TW/TVM), mstatus.FS
// = Off making F/D illegal, and a dynamic rounding mode (rm = 7) with an invalid frm: those depend on
// state, not on the encoding.

/** Register file of one operand: integer, floating-point, or none. */
export type RegFile = "x" | "f" | "-";

export interface Opcode {
  readonly name: string;
  /** Bits of the encoding that are fixed, and their values. */
  readonly mask: number;
  readonly match: number;
  readonly rd: RegFile;
  readonly rs1: RegFile;
  readonly rs2: RegFile;
  readonly rs3: RegFile;
  /** funct3 is a rounding mode: 5 and 6 are reserved (illegal), 7 = dynamic (frm). */
  readonly rm: boolean;
  /** The binary translator emits WebAssembly for it (else it exits to the interpreter). */
  readonly translated: boolean;
  /** Translated only when rounding to nearest, ties to even (rm = 0, or rm = 7 with frm = 0). */
  readonly rneOnly: boolean;
}

/**
 * One row: the pattern lists bits 31..0 ('0', '1', '.' for an operand or immediate bit; spaces only
 * for reading); `regs` is rd rs1 rs2 rs3 as four RegFile letters; flags: 'T' translated, 'R' rm, 'N' translated for round-to-nearest-even only.
 */
function row(name: string, pattern: string, regs: string, flags = ""): Opcode {
  const bits = pattern.replace(/ /g, "");
  if (bits.length !== 32 || !/^[01.]+$/.test(bits))
    throw new Error(`opcode table: bad pattern for ${name}: ${pattern}`);
  let mask = 0,
    match = 0;
  for (let i = 0; i < 32; i++) {
    const c = bits[31 - i];
    if (c !== ".") {
      mask |= 1 << i;
      if (c === "1") match |= 1 << i;
    }
  }
  const f = (k: number): RegFile => regs[k] as RegFile;
  return {
    name,
    mask,
    match,
    rd: f(0),
    rs1: f(1),
    rs2: f(2),
    rs3: f(3),
    rm: flags.includes("R"),
    translated: flags.includes("T"),
    rneOnly: flags.includes("N"),
  };
}

/** funct3 as three bits. */
const b3 = (n: number): string => n.toString(2).padStart(3, "0");

const rows: Opcode[] = [
  // RV64I (Unprivileged 2, 5)
  row("lui", "......................... 0110111", "x---", "T"),
  row("auipc", "......................... 0010111", "x---", "T"),
  row("jal", "......................... 1101111", "x---", "T"),
  row("jalr", "................. 000 ..... 1100111", "xx--", "T"),
  ...["beq", "bne", "", "", "blt", "bge", "bltu", "bgeu"].flatMap((n, f3) =>
    n === "" ? [] : [row(n, `................. ${b3(f3)} ..... 1100011`, "-xx-", "T")],
  ),
  ...["lb", "lh", "lw", "ld", "lbu", "lhu", "lwu"].map((n, f3) =>
    row(n, `................. ${b3(f3)} ..... 0000011`, "xx--", "T"),
  ),
  ...["sb", "sh", "sw", "sd"].map((n, f3) => row(n, `................. ${b3(f3)} ..... 0100011`, "-xx-", "T")),
  ...["addi", "", "slti", "sltiu", "xori", "", "ori", "andi"].flatMap((n, f3) =>
    n === "" ? [] : [row(n, `................. ${b3(f3)} ..... 0010011`, "xx--", "T")],
  ),
  row("slli", "000000 ...... ..... 001 ..... 0010011", "xx--", "T"),
  row("srli", "000000 ...... ..... 101 ..... 0010011", "xx--", "T"),
  row("srai", "010000 ...... ..... 101 ..... 0010011", "xx--", "T"),
  row("addiw", "................. 000 ..... 0011011", "xx--", "T"),
  row("slliw", "0000000 ..... ..... 001 ..... 0011011", "xx--", "T"),
  row("srliw", "0000000 ..... ..... 101 ..... 0011011", "xx--", "T"),
  row("sraiw", "0100000 ..... ..... 101 ..... 0011011", "xx--", "T"),
  ...["add", "sll", "slt", "sltu", "xor", "srl", "or", "and"].map((n, f3) =>
    row(n, `0000000 ..... ..... ${b3(f3)} ..... 0110011`, "xxx-", "T"),
  ),
  row("sub", "0100000 ..... ..... 000 ..... 0110011", "xxx-", "T"),
  row("sra", "0100000 ..... ..... 101 ..... 0110011", "xxx-", "T"),
  row("addw", "0000000 ..... ..... 000 ..... 0111011", "xxx-", "T"),
  row("sllw", "0000000 ..... ..... 001 ..... 0111011", "xxx-", "T"),
  row("srlw", "0000000 ..... ..... 101 ..... 0111011", "xxx-", "T"),
  row("subw", "0100000 ..... ..... 000 ..... 0111011", "xxx-", "T"),
  row("sraw", "0100000 ..... ..... 101 ..... 0111011", "xxx-", "T"),
  // FENCE is a no-op on an in-order hart whose translated code runs one hart at a time; FENCE.I
  // (Zifencei) leaves translated code: the page it is on may just have been rewritten.
  row("fence", "................. 000 ..... 0001111", "----", "T"),
  row("fence.i", "................. 001 ..... 0001111", "----"),
  // SYSTEM (Privileged 3.3, 4.2.1; Zicsr): all leave translated code.
  row("ecall", "0000000 00000 00000 000 00000 1110011", "----"),
  row("ebreak", "0000000 00001 00000 000 00000 1110011", "----"),
  row("sret", "0001000 00010 00000 000 00000 1110011", "----"),
  row("mret", "0011000 00010 00000 000 00000 1110011", "----"),
  row("wfi", "0001000 00101 00000 000 00000 1110011", "----"),
  row("sfence.vma", "0001001 ..... ..... 000 00000 1110011", "-xx-"),
  row("csrrw", "................. 001 ..... 1110011", "xx--"),
  row("csrrs", "................. 010 ..... 1110011", "xx--"),
  row("csrrc", "................. 011 ..... 1110011", "xx--"),
  row("csrrwi", "................. 101 ..... 1110011", "x---"),
  row("csrrsi", "................. 110 ..... 1110011", "x---"),
  row("csrrci", "................. 111 ..... 1110011", "x---"),
  // M (Unprivileged 7)
  ...["mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu"].map((n, f3) =>
    row(n, `0000001 ..... ..... ${b3(f3)} ..... 0110011`, "xxx-", "T"),
  ),
  ...["mulw", "", "", "", "divw", "divuw", "remw", "remuw"].flatMap((n, f3) =>
    n === "" ? [] : [row(n, `0000001 ..... ..... ${b3(f3)} ..... 0111011`, "xxx-", "T")],
  ),
  // A (Unprivileged 8): AMOs are translated (through the store mirror); LR/SC keep their reservation
  // in the interpreter.
  ...(
    [
      ["w", "010"],
      ["d", "011"],
    ] as const
  ).flatMap(([s, f3]) => [
    row(`lr.${s}`, `00010 .. 00000 ..... ${f3} ..... 0101111`, "xx--"),
    row(`sc.${s}`, `00011 .. ..... ..... ${f3} ..... 0101111`, "xxx-"),
    ...(
      [
        ["amoswap", "00001"],
        ["amoadd", "00000"],
        ["amoxor", "00100"],
        ["amoand", "01100"],
        ["amoor", "01000"],
        ["amomin", "10000"],
        ["amomax", "10100"],
        ["amominu", "11000"],
        ["amomaxu", "11100"],
      ] as const
    ).map(([n, f5]) => row(`${n}.${s}`, `${f5} .. ..... ..... ${f3} ..... 0101111`, "xxx-", "T")),
  ]),
  // F and D loads/stores (11.5, 12.3): bit moves, translated.
  row("flw", "................. 010 ..... 0000111", "fx--", "T"),
  row("fld", "................. 011 ..... 0000111", "fx--", "T"),
  row("fsw", "................. 010 ..... 0100111", "-xf-", "T"),
  row("fsd", "................. 011 ..... 0100111", "-xf-", "T"),
  // F and D computation (11.6-11.7, 12.4-12.5), fmt S = 00, D = 01 in bits 26:25. Translated: the
  // double-precision forms whose result needs no rounding (bit moves, compares and exact
  // conversions, with an exactness check in the generated code) and FADD/FSUB/FMUL/FDIV.D when
  // rounding to nearest-even (native f64 arithmetic, the inexact flag from an error-free
  // transformation, everything that could raise another flag left to the interpreter's softfloat).
  ...(
    [
      ["s", "0"],
      ["d", "1"],
    ] as const
  ).flatMap(([s, fmt]) => {
    const d = s === "d";
    return [
      row(`fadd.${s}`, `000000${fmt} ..... ..... ... ..... 1010011`, "fff-", d ? "RTN" : "R"),
      row(`fsub.${s}`, `000010${fmt} ..... ..... ... ..... 1010011`, "fff-", d ? "RTN" : "R"),
      row(`fmul.${s}`, `000100${fmt} ..... ..... ... ..... 1010011`, "fff-", d ? "RTN" : "R"),
      row(`fdiv.${s}`, `000110${fmt} ..... ..... ... ..... 1010011`, "fff-", d ? "RTN" : "R"),
      row(`fsqrt.${s}`, `010110${fmt} 00000 ..... ... ..... 1010011`, "ff--", "R"),
      row(`fsgnj.${s}`, `001000${fmt} ..... ..... 000 ..... 1010011`, "fff-", d ? "T" : ""),
      row(`fsgnjn.${s}`, `001000${fmt} ..... ..... 001 ..... 1010011`, "fff-", d ? "T" : ""),
      row(`fsgnjx.${s}`, `001000${fmt} ..... ..... 010 ..... 1010011`, "fff-", d ? "T" : ""),
      row(`fmin.${s}`, `001010${fmt} ..... ..... 000 ..... 1010011`, "fff-"),
      row(`fmax.${s}`, `001010${fmt} ..... ..... 001 ..... 1010011`, "fff-"),
      row(
        d ? "fcvt.d.s" : "fcvt.s.d",
        d ? "0100001 00000 ..... ... ..... 1010011" : "0100000 00001 ..... ... ..... 1010011",
        "ff--",
        "R",
      ),
      row(`fle.${s}`, `101000${fmt} ..... ..... 000 ..... 1010011`, "xff-", d ? "T" : ""),
      row(`flt.${s}`, `101000${fmt} ..... ..... 001 ..... 1010011`, "xff-", d ? "T" : ""),
      row(`feq.${s}`, `101000${fmt} ..... ..... 010 ..... 1010011`, "xff-", d ? "T" : ""),
      ...["w", "wu", "l", "lu"].flatMap((t, k) => [
        row(
          `fcvt.${t}.${s}`,
          `110000${fmt} ${b3(k).padStart(5, "0")} ..... ... ..... 1010011`,
          "xf--",
          d && t === "l" ? "RT" : "R",
        ),
        row(
          `fcvt.${s}.${t}`,
          `110100${fmt} ${b3(k).padStart(5, "0")} ..... ... ..... 1010011`,
          "fx--",
          d && t === "l" ? "RT" : "R",
        ),
      ]),
      row(d ? "fmv.x.d" : "fmv.x.w", `111000${fmt} 00000 ..... 000 ..... 1010011`, "xf--", d ? "T" : ""),
      row(`fclass.${s}`, `111000${fmt} 00000 ..... 001 ..... 1010011`, "xf--"),
      row(d ? "fmv.d.x" : "fmv.w.x", `111100${fmt} 00000 ..... 000 ..... 1010011`, "fx--", d ? "T" : ""),
      row(`fmadd.${s}`, `.....0${fmt} ..... ..... ... ..... 1000011`, "ffff", "R"),
      row(`fmsub.${s}`, `.....0${fmt} ..... ..... ... ..... 1000111`, "ffff", "R"),
      row(`fnmsub.${s}`, `.....0${fmt} ..... ..... ... ..... 1001011`, "ffff", "R"),
      row(`fnmadd.${s}`, `.....0${fmt} ..... ..... ... ..... 1001111`, "ffff", "R"),
    ];
  }),
  // Zba
  row("add.uw", "0000100 ..... ..... 000 ..... 0111011", "xxx-", "T"),
  ...["sh1add", "sh2add", "sh3add"].flatMap((n, k) => [
    row(n, `0010000 ..... ..... ${b3(2 * k + 2)} ..... 0110011`, "xxx-", "T"),
    row(`${n}.uw`, `0010000 ..... ..... ${b3(2 * k + 2)} ..... 0111011`, "xxx-", "T"),
  ]),
  row("slli.uw", "000010 ...... ..... 001 ..... 0011011", "xx--", "T"),
  // Zbb
  row("andn", "0100000 ..... ..... 111 ..... 0110011", "xxx-", "T"),
  row("orn", "0100000 ..... ..... 110 ..... 0110011", "xxx-", "T"),
  row("xnor", "0100000 ..... ..... 100 ..... 0110011", "xxx-", "T"),
  ...["clz", "ctz", "cpop"].flatMap((n, k) => [
    row(n, `0110000 000${k >> 1}${k & 1} ..... 001 ..... 0010011`, "xx--", "T"),
    row(`${n}w`, `0110000 000${k >> 1}${k & 1} ..... 001 ..... 0011011`, "xx--", "T"),
  ]),
  ...["min", "minu", "max", "maxu"].map((n, k) =>
    row(n, `0000101 ..... ..... ${b3(4 + k)} ..... 0110011`, "xxx-", "T"),
  ),
  row("sext.b", "0110000 00100 ..... 001 ..... 0010011", "xx--", "T"),
  row("sext.h", "0110000 00101 ..... 001 ..... 0010011", "xx--", "T"),
  row("zext.h", "0000100 00000 ..... 100 ..... 0111011", "xx--", "T"),
  row("rol", "0110000 ..... ..... 001 ..... 0110011", "xxx-", "T"),
  row("ror", "0110000 ..... ..... 101 ..... 0110011", "xxx-", "T"),
  row("rolw", "0110000 ..... ..... 001 ..... 0111011", "xxx-", "T"),
  row("rorw", "0110000 ..... ..... 101 ..... 0111011", "xxx-", "T"),
  row("rori", "011000 ...... ..... 101 ..... 0010011", "xx--", "T"),
  row("roriw", "0110000 ..... ..... 101 ..... 0011011", "xx--", "T"),
  row("orc.b", "0010100 00111 ..... 101 ..... 0010011", "xx--", "T"),
  row("rev8", "0110101 11000 ..... 101 ..... 0010011", "xx--", "T"),
  // Zbs
  row("bclr", "0100100 ..... ..... 001 ..... 0110011", "xxx-", "T"),
  row("bext", "0100100 ..... ..... 101 ..... 0110011", "xxx-", "T"),
  row("binv", "0110100 ..... ..... 001 ..... 0110011", "xxx-", "T"),
  row("bset", "0010100 ..... ..... 001 ..... 0110011", "xxx-", "T"),
  row("bclri", "010010 ...... ..... 001 ..... 0010011", "xx--", "T"),
  row("bexti", "010010 ...... ..... 101 ..... 0010011", "xx--", "T"),
  row("binvi", "011010 ...... ..... 001 ..... 0010011", "xx--", "T"),
  row("bseti", "001010 ...... ..... 001 ..... 0010011", "xx--", "T"),
];

/** Every instruction the hart executes, in the order above. */
export const OPCODES: readonly Opcode[] = rows;

/** Rows by major opcode (bits 6:0), so a lookup scans a few dozen rows at most. */
const byMajor: Opcode[][] = Array.from({ length: 128 }, () => []);
for (const o of rows) {
  if ((o.mask & 0x7f) !== 0x7f) throw new Error(`opcode table: ${o.name} does not fix the major opcode`);
  byMajor[o.match & 0x7f]!.push(o);
}
for (const list of byMajor) {
  for (let i = 0; i < list.length; i++)
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i]!,
        b = list[j]!,
        common = a.mask & b.mask;
      if ((a.match & common) === (b.match & common)) throw new Error(`opcode table: ${a.name} and ${b.name} overlap`);
    }
}

/**
 * The row of a 32-bit (or expanded compressed) instruction, or undefined if it is not one the hart
 * executes (an illegal instruction; reserved rounding modes 5 and 6 included).
 */
export function lookupOpcode(insn: number): Opcode | undefined {
  const list = byMajor[insn & 0x7f]!;
  for (let i = 0; i < list.length; i++) {
    const o = list[i]!;
    if ((insn & o.mask) === o.match) {
      if (o.rm) {
        const rm = (insn >>> 12) & 7;
        if (rm === 5 || rm === 6) return undefined;
      }
      return o;
    }
  }
  return undefined;
}
