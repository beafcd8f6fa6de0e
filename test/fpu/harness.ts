// Helpers for the FPU unit tests: instruction encoders (Unprivileged ISA ch. 34 opcode map,
// R-type OP-FP and R4-type fused multiply-add) and a bare FpContext.
import { executeFp, type FpContext } from "../../src/riscv/fpu/index.js";

export const RNE = 0,
  RTZ = 1,
  RDN = 2,
  RUP = 3,
  RMM = 4,
  DYN = 7;
export const NX = 1,
  UF = 2,
  OF = 4,
  DZ = 8,
  NV = 16;
export const S = 0,
  D = 1;

/** OP-FP: funct5 | fmt | rs2 | rs1 | funct3(rm) | rd | 0x53. */
export function opFp(funct5: number, fmt: number, rd: number, rs1: number, rs2: number, rm: number): number {
  return ((funct5 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53) >>> 0;
}

/** R4-type: rs3 | fmt | rs2 | rs1 | rm | rd | opcode (0x43 fmadd, 0x47 fmsub, 0x4b fnmsub, 0x4f fnmadd). */
export function r4(opcode: number, fmt: number, rd: number, rs1: number, rs2: number, rs3: number, rm: number): number {
  return ((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode) >>> 0;
}

export const FADD = 0x00,
  FSUB = 0x01,
  FMUL = 0x02,
  FDIV = 0x03,
  FSGNJ = 0x04,
  FMINMAX = 0x05,
  FCVT_FF = 0x08;
export const FSQRT = 0x0b,
  FCMP = 0x14,
  FCVT_IF = 0x18,
  FCVT_FI = 0x1a,
  FMV_XF = 0x1c,
  FMV_FX = 0x1e;
export const FMADD = 0x43,
  FMSUB = 0x47,
  FNMSUB = 0x4b,
  FNMADD = 0x4f;

export interface Ctx extends FpContext {
  fflags: number;
  frm: number;
}

export function newCtx(frm = 0): Ctx {
  const fi = new Int32Array(64);
  return { x: new Int32Array(64), fi, f: new Float64Array(fi.buffer), frm, fflags: 0 };
}

const dv = new DataView(new ArrayBuffer(8));

export function setD(ctx: Ctx, r: number, v: number): void {
  ctx.f[r] = v;
}
export function setDBits(ctx: Ctx, r: number, bits: bigint): void {
  ctx.fi[2 * r] = Number(bits & 0xffffffffn) | 0;
  ctx.fi[2 * r + 1] = Number((bits >> 32n) & 0xffffffffn) | 0;
}
export function getDBits(ctx: Ctx, r: number): bigint {
  return (BigInt(ctx.fi[2 * r + 1]! >>> 0) << 32n) | BigInt(ctx.fi[2 * r]! >>> 0);
}
/** A NaN-boxed binary32 value. */
export function setS(ctx: Ctx, r: number, v: number): void {
  dv.setFloat32(0, v, true);
  setSBits(ctx, r, dv.getUint32(0, true));
}
export function setSBits(ctx: Ctx, r: number, bits: number): void {
  ctx.fi[2 * r] = bits | 0;
  ctx.fi[2 * r + 1] = -1;
}
/** The binary32 bits of f[r]; asserts the register is NaN-boxed. */
export function getSBits(ctx: Ctx, r: number): number {
  if (ctx.fi[2 * r + 1] !== -1)
    throw new Error(`f${r} is not NaN-boxed: upper word 0x${(ctx.fi[2 * r + 1]! >>> 0).toString(16)}`);
  return ctx.fi[2 * r]! >>> 0;
}
export function getS(ctx: Ctx, r: number): number {
  dv.setUint32(0, getSBits(ctx, r), true);
  return dv.getFloat32(0, true);
}
export function setX(ctx: Ctx, r: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  ctx.x[2 * r] = Number(u & 0xffffffffn) | 0;
  ctx.x[2 * r + 1] = Number(u >> 32n) | 0;
}
export function getX(ctx: Ctx, r: number): bigint {
  return BigInt.asIntN(64, (BigInt(ctx.x[2 * r + 1]! >>> 0) << 32n) | BigInt(ctx.x[2 * r]! >>> 0));
}

export function exec(ctx: Ctx, insn: number): void {
  if (!executeFp(ctx, insn)) throw new Error(`executeFp rejected 0x${insn.toString(16)}`);
}

/** Runs a binary64 two-operand op f10 = op(f11, f12) in mode rm; returns [value, fflags]. */
export function d2(funct5: number, a: number, b: number, rm: number): [number, number] {
  const ctx = newCtx();
  setD(ctx, 11, a);
  setD(ctx, 12, b);
  exec(ctx, opFp(funct5, D, 10, 11, funct5 === FSQRT ? 0 : 12, rm));
  return [ctx.f[10]!, ctx.fflags];
}

export function s2(funct5: number, a: number, b: number, rm: number): [number, number] {
  const ctx = newCtx();
  setS(ctx, 11, a);
  setS(ctx, 12, b);
  exec(ctx, opFp(funct5, S, 10, 11, funct5 === FSQRT ? 0 : 12, rm));
  return [getS(ctx, 10), ctx.fflags];
}

export function dFma(opcode: number, a: number, b: number, c: number, rm: number): [number, number] {
  const ctx = newCtx();
  setD(ctx, 11, a);
  setD(ctx, 12, b);
  setD(ctx, 13, c);
  exec(ctx, r4(opcode, D, 10, 11, 12, 13, rm));
  return [ctx.f[10]!, ctx.fflags];
}

export function sFma(opcode: number, a: number, b: number, c: number, rm: number): [number, number] {
  const ctx = newCtx();
  setS(ctx, 11, a);
  setS(ctx, 12, b);
  setS(ctx, 13, c);
  exec(ctx, r4(opcode, S, 10, 11, 12, 13, rm));
  return [getS(ctx, 10), ctx.fflags];
}

/** Object.is-style equality that tells -0 from +0, for assert messages. */
export function same(a: number, b: number): boolean {
  return Object.is(a, b);
}

export const CANON_D = 0x7ff8000000000000n;
export const CANON_S = 0x7fc00000;
export const SNAN_D = 0x7ff0000000000001n;
export const SNAN_S = 0x7f800001;
export const MAX_D = Number.MAX_VALUE;
export const MAX_S = 3.4028234663852886e38;
