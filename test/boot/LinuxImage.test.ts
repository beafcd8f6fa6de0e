import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { cacheRoot } from "../../src/images/ImageCache.js";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import {
  identifyKernel,
  loadKernel,
  parseRiscvImageHeader,
  planKernel,
  KernelImageError,
} from "../../src/boot/LinuxImage.js";
import { planVirtBoot } from "../../src/vmm/VirtLayout.js";
import { gpa } from "../../src/memory/Address.js";

/** A synthetic RISC-V Image: header per boot-image-header.rst, then a body. */
function fakeImage(
  opts: { textOffset?: number; imageSize?: number; length?: number; efi?: boolean; fileSize?: number } = {},
): Uint8Array {
  const len = opts.length ?? 8192;
  const b = new Uint8Array(len);
  const dv = new DataView(b.buffer);
  if (opts.efi) peHeader(b, opts.fileSize ?? len);
  dv.setBigUint64(8, BigInt(opts.textOffset ?? 0x200000), true);
  dv.setBigUint64(16, BigInt(opts.imageSize ?? 0x10000), true);
  dv.setUint32(32, 2, true);
  b.set(Buffer.from("RISCV\0\0\0"), 48);
  b.set(Buffer.from("RSC\x05", "latin1"), 56);
  if (!opts.efi) for (let i = 64; i < len; i++) b[i] = i & 0xff;
  return b;
}

/**
 * The EFI stub's PE/COFF headers (PE format: "MZ", e_lfanew at 0x3c = 0x40, "PE\0\0", COFF header
 * with one section, a 0xf0-byte optional header) with one section whose raw data ends at `fileSize`.
 */
function peHeader(b: Uint8Array, fileSize: number): void {
  const dv = new DataView(b.buffer);
  b[0] = 0x4d;
  b[1] = 0x5a;
  dv.setUint32(0x3c, 0x40, true);
  dv.setUint32(0x40, 0x00004550, true);
  dv.setUint16(0x40 + 6, 1, true); // NumberOfSections
  dv.setUint16(0x40 + 20, 0xf0, true); // SizeOfOptionalHeader
  const sec = 0x40 + 24 + 0xf0;
  b.set(Buffer.from(".text"), sec);
  dv.setUint32(sec + 16, fileSize - 0x1000, true); // SizeOfRawData
  dv.setUint32(sec + 20, 0x1000, true); // PointerToRawData
}

test("Image header: text_offset and image_size are honoured, the .bss part is zeroed", () => {
  const img = fakeImage({ textOffset: 0x400000, imageSize: 0x6000, length: 0x3000, efi: true });
  const h = parseRiscvImageHeader(img, "k");
  assert.equal(h.textOffset, 0x400000);
  assert.equal(h.imageSize, 0x6000);
  assert.equal(h.efiStub, true);
  const mem = new GuestMemory({ base: 0x80000000, size: 8 << 20, shared: false });
  mem.bytes.fill(0xee);
  const plan = planKernel(img, "k", 0x80000000);
  assert.deepEqual([plan.start, plan.end, plan.entry], [0x80400000, 0x80406000, 0x80400000]);
  loadKernel(plan, mem);
  assert.deepEqual(mem.read(gpa(0x80400000), 0x3000), img);
  assert.ok(
    mem.read(gpa(0x80403000), 0x3000).every((x) => x === 0),
    ".bss zeroed",
  );
  assert.equal(mem.readU8(gpa(0x80406000)), 0xee, "nothing written past image_size");
});

test("a gzip-compressed Image is decompressed; raw binaries load at the 2 MiB offset", () => {
  const img = fakeImage();
  const plan = planKernel(new Uint8Array(gzipSync(img)), "Image.gz", 0x80000000);
  assert.equal(plan.format, "image");
  assert.deepEqual(plan.bytes, img);
  const raw = planKernel(Uint8Array.of(0x13, 0, 0, 0), "raw.bin", 0x80000000);
  assert.deepEqual([raw.format, raw.start, raw.end], ["raw", 0x80200000, 0x80200004]);
});

test("kernels for other architectures and corrupt headers get an error naming the file and the problem", () => {
  const arm = new Uint8Array(128);
  arm.set(Buffer.from("ARM\x64", "latin1"), 56);
  assert.throws(() => identifyKernel(arm, "Image-arm64"), /Image-arm64: is an arm64.*riscv64 kernel/);
  const x86 = new Uint8Array(1024);
  x86.set(Buffer.from("HdrS"), 0x202);
  assert.throws(() => identifyKernel(x86, "bzImage"), /bzImage: is an x86 bzImage/);
  const elfArm = new Uint8Array(64);
  elfArm.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  new DataView(elfArm.buffer).setUint16(16, 2, true);
  new DataView(elfArm.buffer).setUint16(18, 183, true);
  assert.throws(
    () => planKernel(elfArm, "vmlinux-arm64", 0x80000000),
    /vmlinux-arm64: ELF machine is AArch64, expected RISC-V/,
  );
  assert.throws(() => identifyKernel(new Uint8Array(0), "empty"), /empty: is empty/);
  assert.throws(() => parseRiscvImageHeader(fakeImage().subarray(0, 40), "short"), /short: .*shorter than the 64-byte/);
  assert.throws(() => parseRiscvImageHeader(fakeImage({ textOffset: 0x123 }), "bad"), /implausible text_offset/);
  assert.throws(
    () => parseRiscvImageHeader(fakeImage({ imageSize: 0x100, length: 0x2000 }), "small"),
    /smaller than the file/,
  );
  assert.throws(
    () => planKernel(new Uint8Array(gzipSync(Buffer.from("not a kernel"))), "junk.gz", 0x80000000),
    /not a RISC-V Linux Image inside/,
  );
});

test("too little memory for kernel + initramfs is an error that names the file and suggests --memory", () => {
  const kernel = { name: "vmlinux", bytes: fakeImage({ imageSize: 30 << 20, length: 4096 }) };
  const initrd = { name: "initrd.img", bytes: new Uint8Array(28 << 20) };
  assert.throws(
    () => planVirtBoot(32 << 20, kernel),
    (e: Error) => e instanceof KernelImageError && /vmlinux.*--memory/.test(e.message),
  );
  assert.throws(() => planVirtBoot(64 << 20, kernel, initrd), /initramfs initrd.img .*--memory/);
  const ok = planVirtBoot(128 << 20, kernel, initrd);
  assert.equal(ok.kernel.start, 0x80200000);
  assert.equal(ok.dtbAddr % (2 << 20), 0, "DTB 2 MiB aligned");
  assert.ok(ok.initrd!.start >= ok.kernel.end && ok.initrd!.end <= ok.fwInfoAddr && ok.initrd!.start % 4096 === 0);
  assert.ok(ok.dtbAddr + 65536 <= 0x80000000 + (128 << 20));
});

/** Debian's kernel, when some earlier run already put it in the image cache or TYPEVISOR_TEST_KERNEL names it. */
function debianKernel(): string | undefined {
  const env = process.env["TYPEVISOR_TEST_KERNEL"];
  if (env && existsSync(env)) return env;
  for (const dir of [join(cacheRoot(), "debian-riscv64"), join(cacheRoot(), "images", "debian-riscv64")]) {
    if (!existsSync(dir)) continue;
    const f = readdirSync(dir).find((n) => n.startsWith("vmlinux") || n === "kernel" || n.startsWith("Image"));
    if (f) return `${dir}/${f}`;
  }
  return undefined;
}

test("Debian's riscv64 kernel is an EFI-stub Image with text_offset 2 MiB and an image_size covering its .bss", (t) => {
  const path = debianKernel();
  if (!path) return t.skip("Debian kernel not available (set TYPEVISOR_TEST_KERNEL or pull the debian-riscv64 image)");
  const bytes = new Uint8Array(readFileSync(path));
  const h = parseRiscvImageHeader(bytes, path);
  assert.equal(h.efiStub, true);
  assert.equal(h.textOffset, 0x200000);
  assert.ok(h.imageSize > bytes.length, "image_size includes .bss beyond the file");
  const plan = planKernel(bytes, path, 0x80000000);
  assert.equal(plan.entry, 0x80200000);
});

test("a truncated EFI-stub Image (valid header, short file) is refused naming the file, both sizes and the fix", () => {
  const whole = fakeImage({ efi: true, length: 0x3000, imageSize: 0x6000 });
  assert.equal(parseRiscvImageHeader(whole, "k").efiStub, true);
  const cut = whole.subarray(0, 0x2400);
  assert.throws(
    () => planKernel(cut, "vmlinux-cut", 0x80000000),
    /vmlinux-cut: is 9216 bytes but its PE\/COFF section table says the kernel file is 12288 bytes: the file is truncated .*image pull --force/,
  );
  assert.throws(
    () => planKernel(whole.subarray(0, 0x100), "tiny", 0x80000000),
    /tiny: is 256 bytes, too short for its PE section table.*truncated/,
  );
});

test("Debian's kernel cut short is refused before it could run and hang", (t) => {
  const path = debianKernel();
  if (!path) return t.skip("Debian kernel not available (set TYPEVISOR_TEST_KERNEL or pull the debian-riscv64 image)");
  const bytes = new Uint8Array(readFileSync(path));
  const cut = bytes.subarray(0, bytes.length - 4096);
  assert.throws(
    () => planKernel(cut, path, 0x80000000),
    (e: Error) =>
      e instanceof KernelImageError &&
      e.message.includes(
        `is ${cut.length} bytes but its PE/COFF section table says the kernel file is ${bytes.length} bytes`,
      ),
  );
});

test("firmware (--bios) larger than RAM is refused as not fitting, not as overlapping the kernel", () => {
  const kernel = { name: "vmlinux", bytes: fakeImage() };
  assert.throws(
    () => planVirtBoot(32 << 20, kernel, undefined, { name: "fw.bin", bytes: new Uint8Array(40 << 20) }),
    /fw\.bin: .*40 MiB.*does not fit in the 32 MiB of guest RAM/,
  );
});
