// Boot files held by path (src/vmm/BootFile.ts): the board drops the kernel's bytes once they are in
// guest RAM and a reboot reads the file again, refusing a file that changed or is gone, by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assemble, toolchainMissing } from "../riscv/asm.js";
import { Vm, type VmExit } from "../../src/vmm/Vm.js";
import { MemoryBackend } from "../../src/devices/chardev/MemoryBackend.js";
import { BootFile } from "../../src/vmm/BootFile.js";

const KERNEL_BASE = 0x80200000;
const OPTS = { what: "kernel", since: "the VM booted" };

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "tv-bootfile-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("a released boot file is read again from disk, the same bytes", (t) => {
  const path = join(tempDir(t), "k");
  writeFileSync(path, Buffer.from("kernel bytes"));
  const f = BootFile.read(path, OPTS);
  const first = f.bytes;
  assert.equal(Buffer.from(first).toString(), "kernel bytes");
  assert.equal(f.bytes, first, "held until released: no second read");
  f.release();
  const again = f.bytes;
  assert.notEqual(again, first, "a new read");
  assert.deepEqual(again, first);
  assert.equal(f.size, 12);
});

test("a boot file that changed, was replaced or is gone since it was read is refused, naming it", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "vmlinux");
  writeFileSync(path, Buffer.from("original"));
  const f = BootFile.read(path, OPTS);
  f.release();

  writeFileSync(path, Buffer.from("original+"));
  assert.throws(
    () => f.bytes,
    /the kernel '.*vmlinux' changed since the VM booted \(its size went from 8 to 9 bytes\)/,
  );

  // The same size, written again: its modification time differs.
  writeFileSync(path, Buffer.from("original"));
  utimesSync(path, new Date(1_000_000), new Date(1_000_000));
  assert.throws(() => f.bytes, /changed since the VM booted \(it was modified/);

  writeFileSync(join(dir, "other"), Buffer.from("original"));
  renameSync(join(dir, "other"), path);
  assert.throws(() => f.bytes, /changed since the VM booted \(it was replaced by another file\)/);

  rmSync(path);
  assert.throws(() => f.bytes, /the kernel '.*vmlinux' cannot be read \(ENOENT\).*put it back at that path/);
});

test("a boot file known by a snapshot's reference: same size and time, or else same content", (t) => {
  const dir = tempDir(t);
  const path = join(dir, "initrd");
  const content = Buffer.from("initramfs content");
  writeFileSync(path, content);
  const sha256 = createHash("sha256").update(content).digest("hex");
  const ref = { path, size: content.length, sha256, mtimeMs: statSync(path).mtimeMs };
  const snapshot = { what: "initramfs", since: "snapshot 's' was taken" };
  assert.deepEqual(BootFile.expected(ref, snapshot).bytes, new Uint8Array(content));
  // Touched: the hash decides.
  utimesSync(path, new Date(2_000_000), new Date(2_000_000));
  const touched = BootFile.expected(ref, snapshot);
  assert.deepEqual(touched.bytes, new Uint8Array(content));
  // Its reference for a new snapshot needs no read.
  assert.deepEqual(BootFile.expected(ref, snapshot).snapshotRef(), ref);
  writeFileSync(path, Buffer.from("initramfs CONTENT"));
  assert.throws(() => BootFile.expected(ref, snapshot).bytes, /changed since snapshot 's' was taken \(sha256/);
});

test("a released boot file's snapshot reference reads it again for the hash and releases it again", (t) => {
  const path = join(tempDir(t), "k");
  writeFileSync(path, Buffer.from("abc"));
  const f = BootFile.read(path, OPTS);
  f.release();
  const ref = f.snapshotRef();
  assert.equal(ref.sha256, createHash("sha256").update("abc").digest("hex"));
  assert.equal(ref.size, 3);
  assert.equal(ref.mtimeMs, statSync(path).mtimeMs);
  rmSync(path);
  assert.deepEqual(f.snapshotRef(), ref, "known now, without reading");
  assert.throws(() => f.bytes, /cannot be read \(ENOENT\)/);
});

// Prints "boot" with SBI DBCN console_write, then asks for a cold reboot (SRST).
const REBOOTING_KERNEL = `
  li a7, 0x4442434E
  li a6, 0
  li a0, 5
  la a1, msg
  li a2, 0
  ecall
  li a7, 0x53525354
  li a6, 0
  li a0, 1
  li a1, 0
  ecall
1: j 1b
msg: .ascii "boot\\n"
`;

async function bootRebooting(
  kernel: BootFile,
  onReboot: (n: number, vm: Vm) => void,
  beforeStart?: () => void,
): Promise<{ exit: VmExit; out: string }> {
  const console = new MemoryBackend();
  let reboots = 0;
  const vm: Vm = new Vm({
    config: { memory: 32 << 20, cpus: 1, kernel, append: "" },
    console,
    onReboot: () => onReboot(++reboots, vm),
  });
  beforeStart?.();
  const timer = setTimeout(() => vm.stop(), 20_000);
  const exit = await vm.start();
  clearTimeout(timer);
  vm.board.uart.flushTx();
  return { exit, out: console.text() };
}

test("the board reads the kernel file again at each reboot, and boots it", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const path = join(tempDir(t), "kernel");
  writeFileSync(path, assemble(REBOOTING_KERNEL, KERNEL_BASE));
  const kernel = BootFile.read(path, OPTS);
  const { exit, out } = await bootRebooting(kernel, (n, vm) => {
    if (n === 3) vm.stop();
  });
  assert.equal(exit.reason, "stopped");
  assert.equal(out, "boot\nboot\nboot\n");
});

test("a reboot after the kernel file changed or went away ends the VM with an error naming the file", async (t) => {
  const why = toolchainMissing();
  if (why) return t.skip(why);
  const dir = tempDir(t);
  const path = join(dir, "kernel");
  const image = assemble(REBOOTING_KERNEL, KERNEL_BASE);
  writeFileSync(path, image);
  // Gone once the VM is built (the kernel is in RAM): the first boot runs, its reboot cannot, so
  // the board did not keep the bytes.
  const gone = await bootRebooting(
    BootFile.read(path, OPTS),
    (_n, vm) => vm.stop(),
    () => rmSync(path),
  );
  assert.equal(gone.out, "boot\n");
  assert.equal(gone.exit.reason, "error");
  assert.match(gone.exit.message ?? "", /the guest rebooted, but the kernel '.*kernel' cannot be read \(ENOENT\)/);

  writeFileSync(path, image);
  const changed = await bootRebooting(BootFile.read(path, OPTS), (n) => {
    if (n === 1) writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.alloc(4)]));
  });
  assert.equal(changed.out, "boot\nboot\n");
  assert.equal(changed.exit.reason, "error");
  assert.match(changed.exit.message ?? "", /the kernel '.*kernel' changed since the VM booted/);
});
