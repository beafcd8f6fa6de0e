// Loading a kernel into guest RAM: the Linux RISC-V "Image" format (Linux
// Documentation/arch/riscv/boot-image-header.rst), ELF (via Elf.ts/ElfLoader.ts), and raw binaries.
//
// Image header (64 bytes, little-endian):
//   0  u32 code0          (the EFI stub puts "MZ" here so the Image is also a PE/COFF file)
//   4  u32 code1
//   8  u64 text_offset    Image load offset from a 2 MiB aligned RAM base
//  16  u64 image_size     effective Image size, including .bss: the RAM the kernel occupies
//  24  u64 flags          bit 0: endianness (0 = little)
//  32  u32 version        header version (0.2 = 0x2)
//  36  u32 res1
//  40  u64 res2
//  48  u64 magic          "RISCV\0\0\0" (deprecated)
//  56  u32 magic2         "RSC\x05"
//  60  u32 res3           PE header offset
//
// Debian's /boot/vmlinux-*-riscv64 is such an Image with an EFI stub.
import { gunzip } from "./Gunzip.js";
import { parseElf } from "./Elf.js";
import { loadElf, loadSpan } from "./ElfLoader.js";
import type { GuestMemory } from "../memory/GuestMemory.js";
import { gpa } from "../memory/Address.js";

export const RISCV_IMAGE_MAGIC2 = 0x05435352; // "RSC\x05" read as a little-endian u32
const ARM64_IMAGE_MAGIC = 0x644d5241; // "ARM\x64" at offset 56 of an arm64 Image
export const IMAGE_HEADER_SIZE = 64;

export class KernelImageError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "KernelImageError";
  }
}

export interface RiscvImageHeader {
  textOffset: number;
  imageSize: number;
  flags: bigint;
  version: number;
  /** True when the Image carries an EFI stub (PE/COFF "MZ" at offset 0). */
  efiStub: boolean;
}

export type KernelFormat = "image" | "elf" | "raw";

/** Recognizes the kernel format, rejecting images for other architectures with a clear message. */
export function identifyKernel(bytes: Uint8Array, name: string): KernelFormat {
  if (bytes.length === 0)
    throw new KernelImageError(name, "is empty (give the path of a kernel Image, e.g. /boot/vmlinux-*-riscv64)");
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46)
    return "elf";
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return "image"; // gzip: checked after gunzip
  if (bytes.length >= IMAGE_HEADER_SIZE) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic2 = dv.getUint32(56, true);
    if (magic2 === RISCV_IMAGE_MAGIC2) return "image";
    if (magic2 === ARM64_IMAGE_MAGIC) {
      throw new KernelImageError(
        name,
        "is an arm64 (AArch64) Linux Image; Typevisor's virt board needs a riscv64 kernel (Debian: linux-image-riscv64)",
      );
    }
  }
  if (
    bytes.length >= 0x206 &&
    bytes[0x202] === 0x48 &&
    bytes[0x203] === 0x64 &&
    bytes[0x204] === 0x72 &&
    bytes[0x205] === 0x53
  ) {
    throw new KernelImageError(
      name,
      "is an x86 bzImage; Typevisor's virt board needs a riscv64 kernel (Debian: linux-image-riscv64)",
    );
  }
  if (bytes.length >= 2 && bytes[0] === 0x4d && bytes[1] === 0x5a) {
    throw new KernelImageError(
      name,
      "is a PE/COFF (EFI) executable without a RISC-V Linux Image header; use the kernel's Image (or vmlinux ELF)",
    );
  }
  return "raw";
}

/** Parses and validates the Image header. */
export function parseRiscvImageHeader(bytes: Uint8Array, name: string): RiscvImageHeader {
  if (bytes.length < IMAGE_HEADER_SIZE) {
    throw new KernelImageError(
      name,
      `is ${bytes.length} bytes, shorter than the 64-byte RISC-V Image header (truncated file?)`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(56, true) !== RISCV_IMAGE_MAGIC2) {
    throw new KernelImageError(name, 'has no RISC-V Image magic "RSC\\x05" at offset 56: not a RISC-V Linux Image');
  }
  const textOffset = dv.getBigUint64(8, true);
  const imageSize = dv.getBigUint64(16, true);
  const flags = dv.getBigUint64(24, true);
  if ((flags & 1n) !== 0n)
    throw new KernelImageError(
      name,
      "is a big-endian Image (header flags bit 0); RISC-V guests here are little-endian",
    );
  if (textOffset > 0x40000000n || textOffset % 4096n !== 0n) {
    throw new KernelImageError(name, `has an implausible text_offset 0x${textOffset.toString(16)} (corrupt header?)`);
  }
  if (imageSize > 0x100000000n) {
    throw new KernelImageError(name, `has an implausible image_size 0x${imageSize.toString(16)} (corrupt header?)`);
  }
  // image_size 0 means "unknown" in old headers (boot-image-header.rst); the file size is the best bound.
  const size = imageSize === 0n ? bytes.length : Number(imageSize);
  if (size < bytes.length) {
    throw new KernelImageError(
      name,
      `image_size 0x${size.toString(16)} is smaller than the file (${bytes.length} bytes): corrupt header`,
    );
  }
  const efiStub = bytes[0] === 0x4d && bytes[1] === 0x5a;
  if (efiStub) checkPeFileSize(bytes, dv, name);
  return {
    textOffset: Number(textOffset),
    imageSize: size,
    flags,
    version: dv.getUint32(32, true),
    efiStub,
  };
}

/** What to tell a user whose kernel file is cut short. */
const TRUNCATED_FIX =
  "the file is truncated (an interrupted download or copy): fetch it again, e.g. `typevisor image pull --force` for a cached image";

/**
 * A truncated kernel with an intact header would be loaded and hang silently (issue 12). The RISC-V
 * Image header has no file-size field (image_size includes .bss, which is not in the file), but an
 * EFI-stub Image is also a PE/COFF file (boot-image-header.rst: res3 at offset 60 is the PE header
 * offset) whose section table gives each section's file extent (PE format, "Section Table":
 * PointerToRawData + SizeOfRawData). Every section's raw data must be in the file.
 */
function checkPeFileSize(bytes: Uint8Array, dv: DataView, name: string): void {
  const pe = dv.getUint32(60, true);
  if (pe === 0 || pe + 24 > bytes.length || dv.getUint32(pe, true) !== 0x00004550) {
    throw new KernelImageError(
      name,
      `has an EFI stub ("MZ") but no PE header at offset 0x${pe.toString(16)}: ${bytes.length < 4096 ? TRUNCATED_FIX : "corrupt header"}`,
    );
  }
  const sections = dv.getUint16(pe + 6, true);
  const table = pe + 24 + dv.getUint16(pe + 20, true);
  if (table + 40 * sections > bytes.length) {
    throw new KernelImageError(
      name,
      `is ${bytes.length} bytes, too short for its PE section table (${table + 40 * sections} bytes): ${TRUNCATED_FIX}`,
    );
  }
  let need = 0;
  for (let i = 0; i < sections; i++) {
    const o = table + 40 * i;
    need = Math.max(need, dv.getUint32(o + 20, true) + dv.getUint32(o + 16, true));
  }
  if (need > bytes.length) {
    throw new KernelImageError(
      name,
      `is ${bytes.length} bytes but its PE/COFF section table says the kernel file is ${need} bytes: ${TRUNCATED_FIX}`,
    );
  }
}

/** Where a kernel goes and where it starts, without its bytes. */
export interface KernelPlacement {
  format: KernelFormat;
  name: string;
  /** Where it will be loaded and how much RAM it occupies ([start, end)). */
  start: number;
  end: number;
  entry: number;
}

/** A kernel read and understood, not yet placed in RAM. */
export interface KernelPlan extends KernelPlacement {
  bytes: Uint8Array;
}

/**
 * Decides where a kernel goes. An Image goes at ramBase + text_offset (the base is 2 MiB aligned,
 * as boot-image-header.rst requires); an ELF at its physical addresses; a raw binary at
 * ramBase + rawOffset.
 */
export function planKernel(input: Uint8Array, name: string, ramBase: number, rawOffset = 0x200000): KernelPlan {
  const format = identifyKernel(input, name);
  let bytes = input;
  if (format === "elf") {
    const elf = parseElf(bytes, name);
    const { low, high } = loadSpan(elf);
    return { format, bytes, name, start: low, end: high, entry: Number(elf.entry) };
  }
  if (format === "image" && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzip(bytes);
    } catch (e) {
      throw new KernelImageError(
        name,
        `is gzip-compressed but does not decompress (${(e as Error).message}); is the file complete?`,
      );
    }
    if (identifyKernel(bytes, name) !== "image") {
      throw new KernelImageError(name, "is gzip-compressed but is not a RISC-V Linux Image inside");
    }
  }
  if (format === "image") {
    const h = parseRiscvImageHeader(bytes, name);
    const start = ramBase + h.textOffset;
    return { format, bytes, name, start, end: start + h.imageSize, entry: start };
  }
  const start = ramBase + rawOffset;
  return { format, bytes, name, start, end: start + bytes.length, entry: start };
}

/** Copies a planned kernel into RAM (the .bss part of an Image is zeroed, as a boot loader must). */
export function loadKernel(plan: KernelPlan, memory: GuestMemory): void {
  if (!memory.contains(gpa(plan.start), plan.end - plan.start)) {
    throw new KernelImageError(
      plan.name,
      `needs RAM 0x${plan.start.toString(16)}..0x${plan.end.toString(16)} but the guest has ` +
        `0x${memory.base.toString(16)}..0x${memory.end.toString(16)}; give more memory (--memory)`,
    );
  }
  if (plan.format === "elf") {
    loadElf(parseElf(plan.bytes, plan.name), memory);
    return;
  }
  memory.write(gpa(plan.start), plan.bytes);
  const off = memory.offsetOf(gpa(plan.start + plan.bytes.length), plan.end - plan.start - plan.bytes.length);
  memory.bytes.fill(0, off, off + (plan.end - plan.start - plan.bytes.length));
}
