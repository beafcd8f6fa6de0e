// The debug trigger module's CSRs (RISC-V Debug Specification 1.0, ch. 5 "Sdtrig"), in its
// smallest conforming form: the CSRs exist (so `csrw tselect, x0` and trigger probes by debuggers,
// Linux and conformance suites no longer trap as illegal instructions) and report that no trigger
// is implemented at any index:
// - tselect is WARL and holds 0 (there is no trigger to select), 5.7.1;
// - tdata1 reads 0: type 0, "there is no trigger at this tselect", 5.7.2; tdata2/tdata3 read 0;
//   writes to them are ignored (the type field is WARL and can only hold 0);
// - tinfo reads 1: "the currently selected trigger doesn't exist" (info = bit 0), 5.7.5;
// - tcontrol and mcontext are read-only zero.
// Address/data breakpoints (mcontrol6) are not implemented: they would put a comparison on every
// fetch, load and store of the interpreter and the translator.
import { CSR_TINFO } from "./Csr.js";

export class Sdtrig {
  /** Result of read(). */
  lo = 0;
  hi = 0;

  /** Reads trigger CSR n (0x7a0-0x7a8); false for the numbers in that range that do not exist. */
  read(n: number): boolean {
    if (n === 0x7a6 || n === 0x7a7) return false; // reserved (mcontext is 0x7a8)
    this.lo = n === CSR_TINFO ? 1 : 0;
    this.hi = 0;
    return true;
  }

  /** Writes trigger CSR n: every field is WARL with a single legal value, so the write is ignored. */
  write(n: number, _lo: number, _hi: number): boolean {
    return n !== 0x7a6 && n !== 0x7a7;
  }
}
