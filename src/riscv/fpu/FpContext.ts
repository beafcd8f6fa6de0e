// What the floating-point unit needs from a hart (Unprivileged ISA ch. 11 "F", ch. 12 "D").
// The hart implements this interface; the FPU executes the OP-FP and fused multiply-add major
// opcodes on it. Loads and stores (FLW/FLD/FSW/FSD and their compressed forms) stay in the hart,
// since they go through the MMU.
export interface FpContext {
  /** Integer registers as int32 pairs: x[2*i] = low 32 bits, x[2*i+1] = high 32 bits. Never write x0. */
  readonly x: Int32Array;
  /** FP registers as raw 64-bit patterns: fi[2*i] = low 32 bits, fi[2*i+1] = high (singles are NaN-boxed). */
  readonly fi: Int32Array;
  /** The same bytes as fi, viewed as doubles. */
  readonly f: Float64Array;
  /** fcsr.frm (3 bits) and fcsr.fflags (5 bits: NV DZ OF UF NX = 16 8 4 2 1). */
  frm: number;
  fflags: number;
}
// executeFp(ctx, insn) (in ./index.ts) returns false when insn is not a valid F/D encoding
// (including a reserved rounding mode, static or dynamic): the hart then raises illegal-instruction.
// The caller checks mstatus.FS != Off before calling and marks FS Dirty after a successful call.
