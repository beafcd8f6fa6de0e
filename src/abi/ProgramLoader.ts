// execve's loader (Linux fs/binfmt_elf.c and fs/binfmt_script.c behaviour): maps an ELF program's
// PT_LOAD segments into a fresh AddressSpace (a PIE at ELF_ET_DYN_BASE), maps its PT_INTERP
// program interpreter (ld-linux-riscv64-lp64d.so.1, looked up under --root) at an mmap address,
// sets up brk after the program's data, and builds the initial stack the System V ABI and
// the RISC-V psABI specify: argc, argv[], NULL, envp[], NULL, auxv pairs, then the strings.
// "#!" scripts are handed to their interpreter, as binfmt_script does.
import * as fs from "node:fs";
import { ET_DYN, PF_R, PF_W, PF_X, PT_LOAD, PT_PHDR, parseElf, type ElfFile } from "../boot/Elf.js";
import {
  type AddressSpace,
  ET_DYN_BASE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
  STACK_SIZE,
  STACK_TOP,
  pageDown,
  pageUp,
} from "./AddressSpace.js";
import { Errno, SyscallError, errnoOf } from "./Errno.js";
import { PAGE_SIZE } from "./FrameAllocator.js";
import type { GuestFs } from "./GuestFs.js";

// Auxiliary vector types (include/uapi/linux/auxvec.h).
export const AT_NULL = 0;
export const AT_PHDR = 3;
export const AT_PHENT = 4;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;
export const AT_BASE = 7;
export const AT_FLAGS = 8;
export const AT_ENTRY = 9;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_PLATFORM = 15;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_RANDOM = 25;
export const AT_HWCAP2 = 26;
export const AT_EXECFN = 31;

/** AT_HWCAP on riscv64: one bit per single-letter extension, bit (letter - 'A'): here RV64IMAFDC. */
export const HWCAP_IMAFDC = [..."IMAFDC"].reduce((m, c) => m | (1 << (c.charCodeAt(0) - 65)), 0);

export interface Identity {
  uid: number;
  gid: number;
}

export interface LoadedImage {
  space: AddressSpace;
  pc: number;
  sp: number;
  /** Canonical guest path of the executable (for /proc/self/exe). */
  exe: string;
  /** The name the process is known by (comm). */
  comm: string;
}

interface Mapped {
  bias: number;
  end: number;
  elf: ElfFile;
}

function fileProt(flags: number): number {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

/** A dynamically linked program whose PT_INTERP file does not exist (execve: ENOENT, as Linux). */
export class MissingInterpreterError extends SyscallError {
  constructor(readonly interpreter: string) {
    super(Errno.ENOENT, `program interpreter ${interpreter} not found`);
    this.name = "MissingInterpreterError";
  }
}

function readExecutable(gfs: GuestFs, cwd: string, path: string): { bytes: Uint8Array; guest: string } {
  const r = gfs.resolve(cwd, path, true);
  // One descriptor for the checks and the read, opened without following a host symlink under
  // --root (resolve() followed the guest's): what is checked is what runs.
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO must not block the open (it is refused below, as execve refuses it).
    fd = fs.openSync(r.host, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | gfs.hostNoFollow);
  } catch (e) {
    throw new SyscallError(errnoOf(e));
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw new SyscallError(Errno.EACCES);
    if (!st.isFile()) throw new SyscallError(Errno.EACCES);
    // Execute permission for someone (we run as the host user, who may be root: any x bit).
    if ((st.mode & 0o111) === 0) throw new SyscallError(Errno.EACCES);
    return { bytes: fs.readFileSync(fd), guest: r.guest };
  } catch (e) {
    throw new SyscallError(errnoOf(e));
  } finally {
    fs.closeSync(fd);
  }
}

function parseOrEnoexec(bytes: Uint8Array, name: string): ElfFile {
  try {
    return parseElf(bytes, name);
  } catch {
    throw new SyscallError(Errno.ENOEXEC);
  }
}

/** Maps every PT_LOAD of `elf` at `bias` (0 for ET_EXEC). */
function mapSegments(space: AddressSpace, elf: ElfFile, bias: number, name: string): number {
  let end = 0;
  let prevEnd = 0;
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD || ph.memsz === 0) continue;
    const va = Number(ph.vaddr) + bias;
    const segEnd = pageUp(va + ph.memsz);
    let start = pageDown(va);
    const inPage = va - start;
    if (ph.offset < inPage) throw new SyscallError(Errno.ENOEXEC);
    const prot = fileProt(ph.flags);
    // Two segments may share a page at their boundary: keep the first one's page, add the rest.
    if (start < prevEnd) start = prevEnd;
    if (segEnd > start) space.map(start, segEnd - start, prot, name);
    const data = elf.bytes.subarray(ph.offset - inPage, ph.offset + ph.filesz);
    space.populate(va - inPage, data, prot);
    prevEnd = Math.max(prevEnd, segEnd);
    end = Math.max(end, va + ph.memsz);
  }
  return end;
}

function loadSpan(elf: ElfFile): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = 0;
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD) continue;
    lo = Math.min(lo, pageDown(Number(ph.vaddr)));
    hi = Math.max(hi, pageUp(Number(ph.vaddr) + ph.memsz));
  }
  if (lo === Infinity) throw new SyscallError(Errno.ENOEXEC);
  return { lo, hi };
}

export interface LoadRequest {
  gfs: GuestFs;
  cwd: string;
  path: string;
  argv: Uint8Array[];
  envp: Uint8Array[];
  /** 16 random bytes for AT_RANDOM (glibc's stack protector and pointer guard). */
  random: Uint8Array;
  identity: Identity;
  /** The space to fill (a fresh one); on failure the caller destroys it. */
  space: AddressSpace;
}

/**
 * Loads a program into req.space. Throws SyscallError with execve's errno (ENOENT, EACCES, ENOEXEC,
 * E2BIG, ...) on failure.
 */
export function loadProgram(req: LoadRequest, depth = 0): LoadedImage {
  const { gfs, cwd, space } = req;
  const { bytes, guest } = readExecutable(gfs, cwd, req.path);
  if (bytes[0] === 0x23 && bytes[1] === 0x21) {
    // "#!interpreter [optional-arg]" (binfmt_script): argv becomes interp, [arg], path, argv[1..].
    if (depth >= 4) throw new SyscallError(Errno.ELOOP);
    let nl = bytes.indexOf(0x0a);
    if (nl < 0) nl = Math.min(bytes.length, 256);
    const line = Buffer.from(bytes.subarray(2, nl)).toString("utf8").trim();
    if (line.length === 0) throw new SyscallError(Errno.ENOEXEC);
    const sp = line.search(/[ \t]/);
    const interp = sp < 0 ? line : line.slice(0, sp);
    const arg = sp < 0 ? "" : line.slice(sp).trim();
    const enc = (s: string) => Buffer.from(s, "utf8");
    const argv = [enc(interp), ...(arg ? [enc(arg)] : []), enc(req.path), ...req.argv.slice(1)];
    return loadProgram({ ...req, path: interp, argv }, depth + 1);
  }
  const elf = parseOrEnoexec(bytes, guest);
  const span = loadSpan(elf);
  const bias = elf.type === ET_DYN ? ET_DYN_BASE - span.lo : 0;
  const end = mapSegments(space, elf, bias, guest);
  const main: Mapped = { bias, end, elf };

  let interpBias = 0;
  let pc = Number(elf.entry) + bias;
  if (elf.interpreter !== undefined) {
    let ib: { bytes: Uint8Array; guest: string };
    try {
      ib = readExecutable(gfs, "/", elf.interpreter);
    } catch (e) {
      if (e instanceof SyscallError && e.errno === Errno.ENOENT) throw new MissingInterpreterError(elf.interpreter);
      throw e;
    }
    const ielf = parseOrEnoexec(ib.bytes, ib.guest);
    if (ielf.interpreter !== undefined) throw new SyscallError(Errno.ELIBBAD);
    const is = loadSpan(ielf);
    const at = space.findFree(is.hi - is.lo);
    if (at < 0) throw new SyscallError(Errno.ENOMEM);
    interpBias = ielf.type === ET_DYN ? at - is.lo : 0;
    mapSegments(space, ielf, interpBias, ib.guest);
    pc = Number(ielf.entry) + interpBias;
  }

  // brk starts right after the program's bss (Linux: mm->brk = mm->start_brk = end of bss).
  space.brkStart = space.brk = pageUp(main.end);

  const sp = buildStack(space, req, main, interpBias);
  const execfn = req.path.split("/").pop() ?? req.path;
  return { space, pc, sp, exe: guest, comm: execfn.slice(0, 15) };
}

/** Writes argv/envp/auxv on a new stack (System V ABI "Process Initialization"). Returns sp. */
function buildStack(space: AddressSpace, req: LoadRequest, main: Mapped, interpBias: number): number {
  space.map(STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE, "[stack]");
  const enc = (s: string) => Buffer.from(s + "\0", "utf8");
  let p = STACK_TOP;
  const push = (b: Uint8Array): number => {
    p -= b.length;
    space.write(p, b);
    return p;
  };
  const withNul = (b: Uint8Array) => {
    const out = new Uint8Array(b.length + 1);
    out.set(b);
    return out;
  };
  // Linux limits argv+envp to a quarter of the stack rlimit (fs/exec.c); more is E2BIG.
  const total = req.argv.reduce((n, a) => n + a.length + 1, 0) + req.envp.reduce((n, a) => n + a.length + 1, 0);
  if (total > STACK_SIZE / 4) throw new SyscallError(Errno.E2BIG);
  const execfnAddr = push(enc(req.path));
  const platformAddr = push(enc("riscv64"));
  p -= 16;
  const randomAddr = p;
  space.write(randomAddr, req.random.subarray(0, 16));
  const envAddrs = req.envp.map((e) => push(withNul(e)));
  const argAddrs = req.argv.map((a) => push(withNul(a)));

  const elf = main.elf;
  let phdr = 0;
  const phdrSeg = elf.programHeaders.find((ph) => ph.type === PT_PHDR);
  if (phdrSeg) phdr = Number(phdrSeg.vaddr) + main.bias;
  else {
    // No PT_PHDR: the header table sits in the PT_LOAD that maps file offset e_phoff.
    const seg = elf.programHeaders.find(
      (ph) => ph.type === PT_LOAD && ph.offset <= elf.phoff && elf.phoff < ph.offset + ph.filesz,
    );
    if (seg) phdr = Number(seg.vaddr) + main.bias + (elf.phoff - seg.offset);
  }
  const auxv: [number, number][] = [
    [AT_HWCAP, HWCAP_IMAFDC],
    [AT_PAGESZ, PAGE_SIZE],
    [AT_CLKTCK, 100],
    [AT_PHDR, phdr],
    [AT_PHENT, elf.phentsize],
    [AT_PHNUM, elf.phnum],
    [AT_BASE, interpBias],
    [AT_FLAGS, 0],
    [AT_ENTRY, Number(elf.entry) + main.bias],
    [AT_UID, req.identity.uid],
    [AT_EUID, req.identity.uid],
    [AT_GID, req.identity.gid],
    [AT_EGID, req.identity.gid],
    [AT_SECURE, 0],
    [AT_RANDOM, randomAddr],
    [AT_HWCAP2, 0],
    [AT_EXECFN, execfnAddr],
    [AT_PLATFORM, platformAddr],
    [AT_NULL, 0],
  ];
  const words = 1 + argAddrs.length + 1 + envAddrs.length + 1 + auxv.length * 2;
  // The psABI requires sp 16-byte aligned at process entry.
  let sp = Math.floor((p - words * 8) / 16) * 16;
  const vec = new Uint8Array(words * 8);
  const dv = new DataView(vec.buffer);
  let o = 0;
  const put = (v: number) => {
    dv.setBigUint64(o, BigInt(v), true);
    o += 8;
  };
  put(argAddrs.length);
  for (const a of argAddrs) put(a);
  put(0);
  for (const e of envAddrs) put(e);
  put(0);
  for (const [k, v] of auxv) {
    put(k);
    put(v);
  }
  space.write(sp, vec);
  return sp;
}
