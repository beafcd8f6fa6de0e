// `typevisor run` refuses bad input with one clear line naming the file and the fix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function run(...args: string[]) {
  return spawnSync(process.execPath, ["bin/typevisor.js", "run", ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 30_000,
  });
}

function withDir(f: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), "tv-run-err-"));
  try {
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A minimal valid RISC-V Image of `imageSize` bytes. */
function image(imageSize: number): Buffer {
  const b = Buffer.alloc(4096);
  b.writeBigUInt64LE(0x200000n, 8);
  b.writeBigUInt64LE(BigInt(imageSize), 16);
  b.write("RSC\x05", 56, "latin1");
  return b;
}

test("run without --kernel, or with a missing kernel file, says which flag and file", () => {
  const a = run();
  assert.equal(a.status, 2);
  assert.match(a.stderr, /--kernel FILE/);
  const b = run("--kernel", "/nonexistent/vmlinux");
  assert.equal(b.status, 2);
  assert.match(b.stderr, /kernel '\/nonexistent\/vmlinux' does not exist/);
});

test("run refuses an arm64 kernel, a wrong --arch and a too-small --memory with the fix", () => {
  withDir((dir) => {
    const arm = Buffer.alloc(4096);
    arm.write("ARM\x64", 56, "latin1");
    writeFileSync(join(dir, "Image-arm64"), arm);
    const a = run("--kernel", join(dir, "Image-arm64"));
    assert.equal(a.status, 2);
    assert.match(a.stderr, /Image-arm64: is an arm64 .*riscv64 kernel/);
    assert.match(
      run("--arch", "x86_64", "--kernel", join(dir, "Image-arm64")).stderr,
      /--arch x86_64 is not supported/,
    );
    writeFileSync(join(dir, "big"), image(60 << 20));
    const c = run("--kernel", join(dir, "big"), "--memory", "32M");
    assert.equal(c.status, 2);
    assert.match(c.stderr, /big.*--memory \d+M/);
  });
});

test("run refuses an initramfs that does not fit and a disk that does not exist", () => {
  withDir((dir) => {
    writeFileSync(join(dir, "k"), image(4 << 20));
    writeFileSync(join(dir, "initrd"), Buffer.alloc(40 << 20));
    const a = run("--kernel", join(dir, "k"), "--initrd", join(dir, "initrd"), "--memory", "32M");
    assert.equal(a.status, 2);
    assert.match(a.stderr, /initramfs .*initrd.*--memory/);
    const b = run("--kernel", join(dir, "k"), "--disk", join(dir, "nope.img"));
    assert.equal(b.status, 2);
    assert.match(b.stderr, /disk '.*nope.img' does not exist/);
    const c = run("--kernel", join(dir, "k"), "--disk", `${join(dir, "k")},bogus`);
    assert.match(c.stderr, /--disk option 'bogus' is unknown/);
  });
});

test("run refuses an unknown --engine, naming the engines there are", () => {
  const a = run("--engine", "jit", "--kernel", "/nonexistent/vmlinux");
  assert.equal(a.status, 2);
  assert.match(a.stderr, /--engine 'jit' is not an engine; use --engine interp or --engine dbt/);
});

test("run refuses a truncated kernel (valid Image header, EFI stub, file cut short) instead of hanging", () => {
  withDir((dir) => {
    const k = Buffer.alloc(0x3000);
    k.write("MZ", 0, "latin1");
    k.writeUInt32LE(0x40, 0x3c);
    k.writeUInt32LE(0x00004550, 0x40); // "PE\0\0"
    k.writeUInt16LE(1, 0x40 + 6); // one section
    k.writeUInt16LE(0xf0, 0x40 + 20);
    k.writeUInt32LE(0x2000, 0x40 + 24 + 0xf0 + 16); // SizeOfRawData
    k.writeUInt32LE(0x1000, 0x40 + 24 + 0xf0 + 20); // PointerToRawData: the file is 0x3000 bytes
    k.writeBigUInt64LE(0x200000n, 8);
    k.writeBigUInt64LE(0x10000n, 16);
    k.write("RSC\x05", 56, "latin1");
    writeFileSync(join(dir, "vmlinux"), k.subarray(0, 0x2800));
    const a = run("--kernel", join(dir, "vmlinux"));
    assert.equal(a.status, 2);
    assert.match(
      a.stderr,
      /vmlinux: is 10240 bytes but its PE\/COFF section table says the kernel file is 12288 bytes: the file is truncated/,
    );
  });
});
