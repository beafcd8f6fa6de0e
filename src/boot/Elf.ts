// ELF64 parsing (System V gABI, "ELF-64 Object File Format"; RISC-V psABI for EM_RISCV = 243).
// Used by run-elf (bare-metal programs), the Linux boot loader (ELF kernels) and the user-mode ABI
// layer (typevisor exec). Every offset and size read from the file is checked against its length,
// so a truncated or hostile file gives an ElfError naming the file, never an exception from a view.

export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_RISCV = 243;
export const EM_X86_64 = 62;

export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_STACK = 0x6474e551;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_DYNSYM = 11;

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

export interface SectionHeader {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: number;
  /** STT_* (low 4 bits of st_info). */
  type: number;
  /** STB_* (high 4 bits of st_info). */
  bind: number;
  shndx: number;
}

export interface ElfFile {
  /** The name used in error messages (usually the path). */
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly type: number;
  readonly machine: number;
  readonly flags: number;
  readonly entry: bigint;
  /** Offset of the program header table in the file, and the entry size/count (for AT_PHDR etc.). */
  readonly phoff: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly programHeaders: readonly ProgramHeader[];
  readonly sections: readonly SectionHeader[];
  /** Path of the program interpreter (PT_INTERP), if any. */
  readonly interpreter: string | undefined;
  /** Symbols from .symtab (or .dynsym when stripped), parsed on first use. */
  symbols(): readonly ElfSymbol[];
  /** Value of the named symbol, or undefined. */
  symbol(name: string): bigint | undefined;
  /** The file bytes of a segment (filesz bytes). */
  segmentData(ph: ProgramHeader): Uint8Array;
}

export class ElfError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "ElfError";
  }
}

export interface ElfExpectations {
  /** Required e_machine (default EM_RISCV). */
  machine?: number;
}

/** Parses an ELF64 little-endian file. Throws ElfError with a clear message for anything else. */
export function parseElf(bytes: Uint8Array, name: string, expect: ElfExpectations = {}): ElfFile {
  const fail = (problem: string): never => {
    throw new ElfError(name, problem);
  };
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    fail("not an ELF file (no \\x7fELF magic)");
  }
  if (bytes.length < 64) fail(`truncated ELF header (${bytes.length} bytes, need 64)`);
  if (bytes[4] !== 2) fail(`ELF class ${bytes[4]} is not ELFCLASS64: a 32-bit program can't run on an RV64 hart`);
  if (bytes[5] !== 1) fail("not a little-endian ELF file");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number) => dv.getBigUint64(o, true);
  const num = (v: bigint, what: string): number => {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} 0x${v.toString(16)} is absurdly large`);
    return Number(v);
  };
  const type = u16(16);
  const machine = u16(18);
  const wanted = expect.machine ?? EM_RISCV;
  if (machine !== wanted) {
    const names: Record<number, string> = {
      [EM_RISCV]: "RISC-V",
      [EM_X86_64]: "x86-64",
      183: "AArch64",
      40: "ARM",
      3: "i386",
    };
    fail(`ELF machine is ${names[machine] ?? machine}, expected ${names[wanted] ?? wanted}`);
  }
  if (type !== ET_EXEC && type !== ET_DYN) fail(`ELF type ${type} is not an executable (ET_EXEC or ET_DYN)`);
  const entry = u64(24);
  const phoff = num(u64(32), "program header offset");
  const shoff = num(u64(40), "section header offset");
  const flags = u32(48);
  const phentsize = u16(54);
  const phnum = u16(56);
  const shentsize = u16(58);
  const shnum = u16(60);
  const shstrndx = u16(62);

  const inFile = (off: number, len: number) => off >= 0 && len >= 0 && off + len <= bytes.length;
  const programHeaders: ProgramHeader[] = [];
  if (phnum > 0) {
    if (phentsize < 56) fail(`program header entry size ${phentsize} is too small`);
    if (!inFile(phoff, phnum * phentsize)) fail("program header table lies outside the file (truncated?)");
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * phentsize;
      const ph: ProgramHeader = {
        type: u32(o),
        flags: u32(o + 4),
        offset: num(u64(o + 8), "segment offset"),
        vaddr: u64(o + 16),
        paddr: u64(o + 24),
        filesz: num(u64(o + 32), "segment file size"),
        memsz: num(u64(o + 40), "segment memory size"),
        align: num(u64(o + 48), "segment alignment"),
      };
      if (ph.type === PT_LOAD || ph.type === PT_INTERP) {
        if (!inFile(ph.offset, ph.filesz))
          fail(
            `segment ${i} (offset 0x${ph.offset.toString(16)}, ${ph.filesz} bytes) lies outside the ${bytes.length}-byte file: the file is truncated or corrupt; fetch it again`,
          );
        if (ph.filesz > ph.memsz) fail(`segment ${i} has a file size larger than its memory size`);
      }
      programHeaders.push(ph);
    }
  }

  const sections: SectionHeader[] = [];
  if (shnum > 0 && shoff !== 0) {
    if (shentsize < 64) fail(`section header entry size ${shentsize} is too small`);
    if (!inFile(shoff, shnum * shentsize)) fail("section header table lies outside the file (truncated?)");
    const raw: Omit<SectionHeader, "name">[] = [];
    const nameOffs: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * shentsize;
      nameOffs.push(u32(o));
      raw.push({
        type: u32(o + 4),
        flags: u64(o + 8),
        addr: u64(o + 16),
        offset: num(u64(o + 24), "section offset"),
        size: num(u64(o + 32), "section size"),
        link: u32(o + 40),
        entsize: num(u64(o + 56), "section entry size"),
      });
    }
    const strtab = shstrndx < raw.length ? raw[shstrndx] : undefined;
    for (let i = 0; i < raw.length; i++) {
      const s = raw[i]!;
      const nm =
        strtab && inFile(strtab.offset, strtab.size)
          ? cString(bytes, strtab.offset + nameOffs[i]!, strtab.offset + strtab.size)
          : "";
      sections.push({ name: nm, ...s });
    }
  }

  let interpreter: string | undefined;
  const interp = programHeaders.find((p) => p.type === PT_INTERP);
  if (interp) interpreter = cString(bytes, interp.offset, interp.offset + interp.filesz);

  let syms: ElfSymbol[] | undefined;
  const symbols = (): ElfSymbol[] => {
    if (syms) return syms;
    syms = [];
    const tab = sections.find((s) => s.type === SHT_SYMTAB) ?? sections.find((s) => s.type === SHT_DYNSYM);
    if (!tab) return syms;
    const str = sections[tab.link];
    if (!str || !inFile(tab.offset, tab.size) || !inFile(str.offset, str.size)) return syms;
    const ent = tab.entsize || 24;
    if (ent < 24) return syms;
    for (let o = tab.offset; o + 24 <= tab.offset + tab.size; o += ent) {
      const info = bytes[o + 4]!;
      syms.push({
        name: cString(bytes, str.offset + u32(o), str.offset + str.size),
        type: info & 15,
        bind: info >> 4,
        shndx: u16(o + 6),
        value: u64(o + 8),
        size: Number(u64(o + 16) & 0xffffffffn),
      });
    }
    return syms;
  };

  return {
    name,
    bytes,
    type,
    machine,
    flags,
    entry,
    phoff,
    phentsize,
    phnum,
    programHeaders,
    sections,
    interpreter,
    symbols,
    symbol(n: string) {
      return symbols().find((s) => s.name === n && s.shndx !== 0)?.value;
    },
    segmentData(ph: ProgramHeader) {
      return bytes.subarray(ph.offset, ph.offset + ph.filesz);
    },
  };
}

/** A NUL-terminated string starting at `start`, not reading past `limit`. */
function cString(bytes: Uint8Array, start: number, limit: number): string {
  let end = start;
  const max = Math.min(limit, bytes.length);
  while (end < max && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}
