// RISC-V Platform-Level Interrupt Controller, as specified by "RISC-V Platform-Level Interrupt
// Controller Specification" 1.0.0 (riscv-plic-spec), with the memory map QEMU's virt board and
// SiFive's PLIC use (compatible "sifive,plic-1.0.0", "riscv,plic0"):
//
//   0x000000 + 4*s            source s priority            (spec §3)
//   0x001000 + 4*(s/32)       pending bits, read-only      (spec §4)
//   0x002000 + 0x80*c         enable bits of context c     (spec §5)
//   0x200000 + 0x1000*c       priority threshold of c      (spec §6)
//   0x200004 + 0x1000*c       claim / complete of c        (spec §7, §8)
//
// Every hart has two contexts: 2*h for M-mode (drives mip.MEIP) and 2*h+1 for S-mode (mip.SEIP),
// as QEMU's virt describes them with interrupts-extended = <&intc 11 &intc 9> per hart.
//
// Gateways are level-triggered (spec §9 "interrupt gateways"): a source whose line is high becomes
// pending unless it is already claimed; completing a source whose line is still high makes it
// pending again, so a device that keeps its line up is not lost.
import type { BusDevice } from "../memory/IoBus.js";
import type { IrqLine } from "../memory/IrqLine.js";

export const PLIC_SIZE = 0x600000;
const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x200000;
const CONTEXT_STRIDE = 0x1000;

/** The PLIC's registers and latches, for snapshots (JSON-safe). */
export interface PlicSavedState {
  priority: number[];
  level: number[];
  pending: number[];
  claimed: number[];
  enable: number[];
  threshold: number[];
  outputLevel: number[];
}

export class Plic implements BusDevice {
  readonly name = "plic";
  /** Number of interrupt sources, including the reserved source 0. */
  readonly sources: number;
  private readonly words: number;
  private readonly priority: Uint32Array;
  private readonly level: Uint8Array;
  private readonly pending: Uint32Array;
  private readonly claimed: Uint32Array;
  private readonly enable: Uint32Array; // contexts * words
  private readonly threshold: Uint32Array;
  private readonly outputLevel: Uint8Array;

  /**
   * @param ndev highest source number (riscv,ndev), at most 1023.
   * @param contexts one output per context; called when that context's interrupt line changes.
   */
  constructor(
    ndev: number,
    private readonly contexts: ((level: boolean) => void)[],
  ) {
    if (ndev < 1 || ndev > 1023) throw new RangeError(`PLIC: ndev ${ndev} must be 1..1023`);
    this.sources = ndev + 1;
    this.words = Math.ceil(this.sources / 32);
    this.priority = new Uint32Array(this.sources);
    this.level = new Uint8Array(this.sources);
    this.pending = new Uint32Array(this.words);
    this.claimed = new Uint32Array(this.words);
    this.enable = new Uint32Array(this.words * contexts.length);
    this.threshold = new Uint32Array(contexts.length);
    this.outputLevel = new Uint8Array(contexts.length);
  }

  /** The interrupt line of source `s` (1..ndev) for a device to drive. */
  irqLine(s: number): IrqLine {
    if (s < 1 || s >= this.sources) throw new RangeError(`PLIC: no interrupt source ${s}`);
    return { set: (level: boolean) => this.setLevel(s, level) };
  }

  setLevel(s: number, level: boolean): void {
    this.level[s] = level ? 1 : 0;
    const w = s >>> 5;
    const bit = 1 << (s & 31);
    if (level) {
      if ((this.claimed[w]! & bit) === 0) this.pending[w]! |= bit;
    } else {
      this.pending[w]! &= ~bit;
    }
    this.update();
  }

  /** Snapshot state (the outputs are saved too: the harts' MEIP/SEIP bits are restored with the harts). */
  saveState(): PlicSavedState {
    return {
      priority: Array.from(this.priority),
      level: Array.from(this.level),
      pending: Array.from(this.pending),
      claimed: Array.from(this.claimed),
      enable: Array.from(this.enable),
      threshold: Array.from(this.threshold),
      outputLevel: Array.from(this.outputLevel),
    };
  }

  restoreState(s: PlicSavedState): void {
    const put = (dst: Uint32Array | Uint8Array, src: number[], what: string) => {
      if (src.length !== dst.length)
        throw new RangeError(`PLIC state: ${what} has ${src.length} entries, this PLIC ${dst.length}`);
      dst.set(src);
    };
    put(this.priority, s.priority, "priority");
    put(this.level, s.level, "level");
    put(this.pending, s.pending, "pending");
    put(this.claimed, s.claimed, "claimed");
    put(this.enable, s.enable, "enable");
    put(this.threshold, s.threshold, "threshold");
    put(this.outputLevel, s.outputLevel, "outputLevel");
  }

  /** True if context `c`'s output (its hart's MEIP/SEIP) is asserted. */
  contextPending(c: number): boolean {
    return this.outputLevel[c] === 1;
  }

  /** Highest-priority pending and enabled source above the threshold of context `c`, or 0. */
  private best(c: number): number {
    let bestId = 0;
    let bestPrio = this.threshold[c]!;
    const base = c * this.words;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w]! & this.enable[base + w]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const s = w * 32 + b;
        const p = this.priority[s]!;
        // Ties go to the lowest source id (spec §3), so only strictly greater priority wins.
        if (p > bestPrio) {
          bestPrio = p;
          bestId = s;
        }
      }
    }
    return bestId;
  }

  private update(): void {
    for (let c = 0; c < this.contexts.length; c++) {
      const on = this.best(c) !== 0 ? 1 : 0;
      if (on !== this.outputLevel[c]) {
        this.outputLevel[c] = on;
        this.contexts[c]!(on === 1);
      }
    }
  }

  private claim(c: number): number {
    const s = this.best(c);
    if (s !== 0) {
      const w = s >>> 5;
      const bit = 1 << (s & 31);
      this.pending[w]! &= ~bit;
      this.claimed[w]! |= bit;
      this.update();
    }
    return s;
  }

  private complete(c: number, s: number): void {
    // Spec §8: a completion for a source not enabled for this context is silently ignored.
    if (s <= 0 || s >= this.sources) return;
    const w = s >>> 5;
    const bit = 1 << (s & 31);
    if ((this.enable[c * this.words + w]! & bit) === 0) return;
    this.claimed[w]! &= ~bit;
    if (this.level[s]) this.pending[w]! |= bit;
    this.update();
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (size !== 4 || (offset & 3) !== 0) return 0; // the PLIC only defines 32-bit accesses
    if (offset < PENDING_BASE) {
      const s = offset >>> 2;
      return s < this.sources ? this.priority[s]! : 0;
    }
    if (offset < ENABLE_BASE) {
      const w = (offset - PENDING_BASE) >>> 2;
      return w < this.words ? this.pending[w]! >>> 0 : 0;
    }
    if (offset < CONTEXT_BASE) {
      const c = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
      if (c >= this.contexts.length || w >= this.words) return 0;
      return this.enable[c * this.words + w]! >>> 0;
    }
    const c = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (c >= this.contexts.length) return 0;
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) return this.threshold[c]!;
    if (reg === 4) return this.claim(c);
    return 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) return;
    if (offset < PENDING_BASE) {
      const s = offset >>> 2;
      if (s > 0 && s < this.sources) this.priority[s] = value & 7; // 3 priority bits, as QEMU virt
      this.update();
      return;
    }
    if (offset < ENABLE_BASE) return; // pending bits are read-only
    if (offset < CONTEXT_BASE) {
      const c = Math.floor((offset - ENABLE_BASE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE_BASE) % ENABLE_STRIDE) >>> 2;
      if (c >= this.contexts.length || w >= this.words) return;
      // Source 0 does not exist (spec §3): its enable bit is hardwired to zero.
      this.enable[c * this.words + w] = w === 0 ? value & ~1 : value;
      this.update();
      return;
    }
    const c = Math.floor((offset - CONTEXT_BASE) / CONTEXT_STRIDE);
    if (c >= this.contexts.length) return;
    const reg = (offset - CONTEXT_BASE) % CONTEXT_STRIDE;
    if (reg === 0) {
      this.threshold[c] = value & 7;
      this.update();
    } else if (reg === 4) {
      this.complete(c, value >>> 0);
    }
  }
}
