// The debug trigger module (RISC-V Debug Specification 1.0, ch. 5 "Sdtrig"): two triggers, each
// either disabled (type 15) or an mcontrol6 address trigger (type 6, 5.7.7) on instruction fetch
// (execute), load or store, whose action is a breakpoint exception (action 0). What is implemented:
// - tselect selects trigger 0 or 1 (WARL: other values read back as the last legal one); tinfo
//   reads version 1 and types 6 and 15; tdata1 legalizes every field to what exists here: match
//   0 (equal), 2 (>=) or 3 (<), select 0 (address), size 0 (any), action 0, chain 0, no dmode,
//   privilege bits m/s/u/vs/vu, hit0; tdata2 is the compare address; tdata3 and tcontrol read 0;
// - reentrancy (5.4): tcontrol is not implemented, so a trigger does not match in M-mode while
//   mstatus.MIE = 0 (nor in S/VS-mode while SIE is 0 when breakpoints are delegated there): the
//   hart asks allowed() through Hart.triggerHit;
// - timing "before" (hit0 = 1): the breakpoint is taken with xepc = the instruction and xtval = the
//   matching address (the pc for execute), before the instruction has any effect.
// While a trigger is armed the hart checks every fetch (it runs one instruction per slice and
// bypasses the binary translator) or every load/store (its load/store fast caches stay empty);
// with no trigger armed nothing is checked.
import { CSR_TDATA1, CSR_TDATA2, CSR_TINFO, CSR_TSELECT } from "./Csr.js";

const NTRIG = 2;
const TYPE_MCONTROL6 = 6,
  TYPE_DISABLED = 15;
/** mcontrol6 bits in the low word: load 0, store 1, execute 2, u 3, s 4, m 6, match 10:7, vu 23, vs 24, hit0 22. */
const LOAD = 1,
  STORE = 2,
  EXECUTE = 4,
  U = 1 << 3,
  S = 1 << 4,
  M = 1 << 6,
  VU = 1 << 23,
  VS = 1 << 24,
  HIT0 = 1 << 22;
const KEEP = LOAD | STORE | EXECUTE | U | S | M | VU | VS | HIT0;

/** Which privilege a match is checked for (the tdata1 bit of that mode). */
export const TRIG_M = M,
  TRIG_S = S,
  TRIG_U = U,
  TRIG_VS = VS,
  TRIG_VU = VU;
/** Access kinds (the tdata1 bits). */
export const TRIG_LOAD = LOAD,
  TRIG_STORE = STORE,
  TRIG_EXECUTE = EXECUTE;

export class Sdtrig {
  /** Result of read(). */
  lo = 0;
  hi = 0;
  /** Some trigger watches instruction fetches / loads or stores. */
  execArmed = false;
  lsArmed = false;
  private sel = 0;
  private readonly ctlLo = new Int32Array(NTRIG);
  private readonly ctlHi = new Int32Array(NTRIG).fill(TYPE_DISABLED << 28);
  private readonly adrLo = new Int32Array(NTRIG);
  private readonly adrHi = new Int32Array(NTRIG);

  reset(): void {
    this.sel = 0;
    this.ctlLo.fill(0);
    this.ctlHi.fill(TYPE_DISABLED << 28);
    this.adrLo.fill(0);
    this.adrHi.fill(0);
    this.rearm();
  }

  /** Reads trigger CSR n (0x7a0-0x7a8); false for the numbers in that range that do not exist. */
  read(n: number): boolean {
    this.hi = 0;
    switch (n) {
      case CSR_TSELECT:
        this.lo = this.sel;
        return true;
      case CSR_TDATA1:
        this.lo = this.ctlLo[this.sel]!;
        this.hi = this.ctlHi[this.sel]!;
        return true;
      case CSR_TDATA2:
        this.lo = this.adrLo[this.sel]!;
        this.hi = this.adrHi[this.sel]!;
        return true;
      case CSR_TINFO:
        this.lo = (1 << 24) | (1 << TYPE_MCONTROL6) | (1 << TYPE_DISABLED); // version 1, types 6 and 15
        return true;
      case 0x7a6:
      case 0x7a7:
        return false; // reserved (mcontext is 0x7a8)
      default:
        this.lo = 0; // tdata3, tcontrol, mcontext: read-only zero
        return true;
    }
  }

  /** Writes trigger CSR n (WARL: every field legalized to what this module implements). */
  write(n: number, lo: number, hi: number): boolean {
    switch (n) {
      case CSR_TSELECT:
        if (lo >>> 0 < NTRIG && hi === 0) this.sel = lo;
        return true;
      case CSR_TDATA1: {
        const i = this.sel;
        if (hi >>> 28 === TYPE_MCONTROL6) {
          const match = (lo >>> 7) & 15;
          this.ctlLo[i] = (lo & KEEP) | ((match === 2 || match === 3 ? match : 0) << 7);
          this.ctlHi[i] = TYPE_MCONTROL6 << 28;
        } else {
          this.ctlLo[i] = 0;
          this.ctlHi[i] = TYPE_DISABLED << 28;
        }
        this.rearm();
        return true;
      }
      case CSR_TDATA2:
        this.adrLo[this.sel] = lo;
        this.adrHi[this.sel] = hi;
        return true;
      case 0x7a6:
      case 0x7a7:
        return false;
      default:
        return true;
    }
  }

  private rearm(): void {
    let ex = false,
      ls = false;
    for (let i = 0; i < NTRIG; i++) {
      if (this.ctlHi[i]! >>> 28 !== TYPE_MCONTROL6) continue;
      const c = this.ctlLo[i]!;
      if ((c & (M | S | U | VS | VU)) === 0) continue;
      if ((c & EXECUTE) !== 0) ex = true;
      if ((c & (LOAD | STORE)) !== 0) ls = true;
    }
    this.execArmed = ex;
    this.lsArmed = ls;
  }

  /**
   * Whether a trigger fires for an access of `kind` (TRIG_EXECUTE/LOAD/STORE) to virtual address
   * (hi:lo) in the mode whose tdata1 bit is `mode`; sets that trigger's hit0 ("before").
   */
  hit(kind: number, lo: number, hi: number, mode: number): boolean {
    for (let i = 0; i < NTRIG; i++) {
      const c = this.ctlLo[i]!;
      if (this.ctlHi[i]! >>> 28 !== TYPE_MCONTROL6 || (c & kind) === 0 || (c & mode) === 0) continue;
      const tlo = this.adrLo[i]!,
        thi = this.adrHi[i]!;
      const lt = hi !== thi ? hi >>> 0 < thi >>> 0 : lo >>> 0 < tlo >>> 0;
      const match = (c >>> 7) & 15;
      const ok = match === 0 ? lo === tlo && hi === thi : match === 2 ? !lt : lt;
      if (ok) {
        this.ctlLo[i] = c | HIT0;
        return true;
      }
    }
    return false;
  }
}
