// Loads an ELF's PT_LOAD segments into guest RAM (System V gABI "Program Loading": each PT_LOAD
// segment occupies [p_paddr, p_paddr + p_memsz); the first p_filesz bytes come from the file, the
// rest (.bss) is zero). Bare-metal programs and kernels are linked at physical addresses, so the
// physical address p_paddr is used; callers that load at virtual addresses (user-mode ABI) can ask
// for p_vaddr instead.
import { PT_LOAD, type ElfFile } from "./Elf.js";
import type { GuestMemory } from "../memory/GuestMemory.js";
import { gpa } from "../memory/Address.js";

export interface LoadedElf {
  /** Entry point (e_entry). */
  entry: bigint;
  /** Lowest and highest+1 address covered by a PT_LOAD segment. */
  low: number;
  high: number;
}

export class ElfLoadError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "ElfLoadError";
  }
}

/** The [low, high) address span of an ELF's PT_LOAD segments (for sizing RAM before loading). */
export function loadSpan(elf: ElfFile, useVaddr = false): { low: number; high: number } {
  let low = Number.POSITIVE_INFINITY;
  let high = 0;
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD || ph.memsz === 0) continue;
    const a = Number(useVaddr ? ph.vaddr : ph.paddr);
    low = Math.min(low, a);
    high = Math.max(high, a + ph.memsz);
  }
  if (high === 0) throw new ElfLoadError(elf.name, "has no loadable (PT_LOAD) segment");
  return { low, high };
}

/**
 * Copies every PT_LOAD segment into `memory` and zero-fills its .bss part. A segment outside RAM
 * is an error naming the segment and the RAM window, so that a program linked for another board
 * (e.g. at 0x10000 instead of 0x80000000) gets an actionable message.
 */
export function loadElf(elf: ElfFile, memory: GuestMemory, useVaddr = false): LoadedElf {
  const { low, high } = loadSpan(elf, useVaddr);
  elf.programHeaders.forEach((ph, i) => {
    if (ph.type !== PT_LOAD || ph.memsz === 0) return;
    const addr = Number(useVaddr ? ph.vaddr : ph.paddr);
    if (!memory.contains(gpa(addr), ph.memsz)) {
      throw new ElfLoadError(
        elf.name,
        `segment ${i} at 0x${addr.toString(16)}..0x${(addr + ph.memsz).toString(16)} lies outside guest RAM ` +
          `0x${memory.base.toString(16)}..0x${memory.end.toString(16)} (link the program for RAM at ` +
          `0x${memory.base.toString(16)}, or give more memory)`,
      );
    }
    memory.write(gpa(addr), elf.segmentData(ph));
    if (ph.memsz > ph.filesz) {
      const off = memory.offsetOf(gpa(addr + ph.filesz), ph.memsz - ph.filesz);
      memory.bytes.fill(0, off, off + ph.memsz - ph.filesz);
    }
  });
  return { entry: elf.entry, low, high };
}
