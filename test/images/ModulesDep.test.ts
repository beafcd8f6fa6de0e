// Module dependency resolution against a real modules.dep (an excerpt of the one depmod writes for
// Debian trixie's riscv64 6.12 kernel: test/images/fixtures/modules.dep), .modinfo reading from a
// compiled object, and generating modules.dep from depends= fields.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ModulesDep, ModulesDepError, parseModulesBuiltin } from "../../src/images/ModulesDep.js";
import { moduleNameOf, readModInfo, ModuleError } from "../../src/images/KernelModule.js";

const fixtures = fileURLToPath(new URL("../../../test/images/fixtures/", import.meta.url));
const realDep = () => ModulesDep.parse(readFileSync(join(fixtures, "modules.dep"), "utf8"));
const realBuiltin = () => parseModulesBuiltin(readFileSync(join(fixtures, "modules.builtin"), "utf8"));

function before(order: readonly string[], a: string, b: string): void {
  const ia = order.findIndex((p) => p.includes(`/${a}.ko`));
  const ib = order.findIndex((p) => p.includes(`/${b}.ko`));
  assert.ok(ia >= 0 && ib >= 0 && ia < ib, `${a} must load before ${b}: ${order.join(" ")}`);
}

test("module names fold '-' to '_' and drop the .ko[.xz] suffix, as kmod does", () => {
  assert.equal(moduleNameOf("kernel/drivers/char/hw_random/virtio-rng.ko.xz"), "virtio_rng");
  assert.equal(moduleNameOf("kernel/fs/ext4/ext4.ko"), "ext4");
  assert.equal(moduleNameOf("x/y.ko.zst"), "y");
});

test("virtio_net resolves to failover, net_failover, virtio_net in load order (real modules.dep)", () => {
  const { load } = realDep().resolve(["virtio_net"]);
  assert.deepEqual(load, [
    "kernel/net/core/failover.ko.xz",
    "kernel/drivers/net/net_failover.ko.xz",
    "kernel/drivers/net/virtio_net.ko.xz",
  ]);
});

test("the machine's module set resolves with every dependency first and built-ins skipped", () => {
  const { load, builtin } = realDep().resolve(
    ["virtio_mmio", "virtio_blk", "virtio_net", "virtio_console", "virtio-rng", "crc32c_generic", "ext4"],
    realBuiltin(),
  );
  assert.deepEqual(builtin, ["virtio_console"]);
  assert.equal(new Set(load).size, load.length, "no module twice");
  assert.equal(load.length, 11);
  before(load, "failover", "net_failover");
  before(load, "jbd2", "ext4");
  before(load, "mbcache", "ext4");
  before(load, "crc16", "ext4");
  assert.ok(load.includes("kernel/drivers/char/hw_random/virtio-rng.ko.xz"));
});

test("btrfs's deep closure loads leaves first (real modules.dep)", () => {
  const { load } = realDep().resolve(["btrfs"]);
  assert.equal(load[load.length - 1], "kernel/fs/btrfs/btrfs.ko.xz");
  before(load, "raid6_pq", "btrfs");
  before(load, "xor", "btrfs");
  before(load, "libcrc32c", "btrfs");
});

test("an unknown module, a dangling dependency and a cycle are clear errors", () => {
  assert.throws(
    () => realDep().resolve(["no_such_module"]),
    /'no_such_module' is neither in modules.dep nor built into the kernel/,
  );
  const dangling = ModulesDep.parse("a.ko: b.ko\n");
  assert.throws(() => dangling.resolve(["a"]), /'b.ko', which has no line of its own/);
  const cyc = ModulesDep.parse("a.ko: b.ko\nb.ko: a.ko\n");
  assert.throws(() => cyc.resolve(["a"]), ModulesDepError);
  assert.throws(() => ModulesDep.parse("garbage line\n"), /modules.dep:1: expected/);
});

test("a table built from direct depends= lists the closure in depmod's order and round-trips", () => {
  const md = ModulesDep.fromDirectDepends([
    { path: "kernel/drivers/net/virtio_net.ko", depends: ["net_failover"] },
    { path: "kernel/drivers/net/net_failover.ko", depends: ["failover"] },
    { path: "kernel/net/core/failover.ko", depends: [] },
  ]);
  // Same shape as depmod's line for virtio_net in the real table (with .ko instead of .ko.xz).
  const realLine = readFileSync(join(fixtures, "modules.dep"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("kernel/drivers/net/virtio_net.ko.xz:"))!;
  const ours = md
    .format()
    .split("\n")
    .find((l) => l.startsWith("kernel/drivers/net/virtio_net.ko:"))!;
  assert.equal(ours, realLine.replace(/\.ko\.xz/g, ".ko"));
  assert.deepEqual(ModulesDep.parse(md.format()).resolve(["virtio_net"]).load, md.resolve(["virtio_net"]).load);
  assert.throws(() => ModulesDep.fromDirectDepends([{ path: "a.ko", depends: ["zz"] }]), /depends on 'zz'/);
});

function compiler(): string | undefined {
  for (const cc of ["riscv64-linux-gnu-gcc", "gcc", "cc"]) if (spawnSync(cc, ["--version"]).status === 0) return cc;
  return undefined;
}

test(".modinfo depends= and name= are read from a compiled relocatable object", (t) => {
  const cc = compiler();
  if (!cc) return t.skip("no C compiler (apt-get install gcc-riscv64-linux-gnu) to build a test object");
  const dir = mkdtempSync(join(tmpdir(), "tv-modinfo-"));
  try {
    // The same layout MODULE_INFO() produces: NUL-terminated strings packed in .modinfo.
    writeFileSync(
      join(dir, "m.c"),
      `__attribute__((section(".modinfo"), used, aligned(1))) static const char a[] = "license=GPL";\n` +
        `__attribute__((section(".modinfo"), used, aligned(1))) static const char b[] = "depends=net_failover,virtio-ring";\n` +
        `__attribute__((section(".modinfo"), used, aligned(1))) static const char c[] = "name=virtio_net";\n` +
        `__attribute__((section(".modinfo"), used, aligned(1))) static const char d[] = "vermagic=6.12.117 SMP mod_unload";\n` +
        `int f(void) { return 1; }\n`,
    );
    const r = spawnSync(cc, ["-c", "-O0", "-o", join(dir, "m.o"), join(dir, "m.c")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const info = readModInfo(readFileSync(join(dir, "m.o")), "m.o");
    assert.equal(info.name, "virtio_net");
    assert.deepEqual(info.depends, ["net_failover", "virtio_ring"]);
    assert.equal(info.vermagic, "6.12.117 SMP mod_unload");
    // An executable is not a module.
    const exe = spawnSync(cc, ["-nostdlib", "-static", "-o", join(dir, "m.exe"), join(dir, "m.o"), "-Wl,-e,f"], {
      encoding: "utf8",
    });
    if (exe.status === 0)
      assert.throws(() => readModInfo(readFileSync(join(dir, "m.exe")), "m.exe"), /not a relocatable object/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a non-ELF or truncated module is a clear error", () => {
  assert.throws(
    () => readModInfo(Buffer.from("not an elf at all, just text............................................."), "x.ko"),
    ModuleError,
  );
  const hdr = Buffer.alloc(64);
  hdr.set([0x7f, 0x45, 0x4c, 0x46, 2, 1], 0);
  hdr.writeUInt16LE(1, 16);
  hdr.writeBigUInt64LE(10_000n, 0x28);
  hdr.writeUInt16LE(64, 0x3a);
  hdr.writeUInt16LE(5, 0x3c);
  assert.throws(() => readModInfo(hdr, "t.ko"), /truncated or corrupt/);
});
