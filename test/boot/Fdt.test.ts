import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Fdt, fdtValue, readFdtHeader } from "../../src/boot/Fdt.js";
import { virtDeviceTree, virtIsaExtensions, virtIsaString } from "../../src/vmm/VirtDeviceTree.js";

const hasDtc = spawnSync("dtc", ["--version"]).status === 0;

function dtcDecompile(dtb: Uint8Array): { dts: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), "tv-fdt-"));
  try {
    const f = join(dir, "t.dtb");
    writeFileSync(f, dtb);
    const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", f], { encoding: "utf8" });
    assert.equal(r.status, 0, `dtc failed: ${r.stderr}`);
    return { dts: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("FDT header has magic, version 17 and a totalsize equal to the blob length", () => {
  const fdt = new Fdt();
  fdt.root.cells("#address-cells", 2);
  const dtb = fdt.toDtb();
  const h = readFdtHeader(dtb);
  assert.equal(h.magic, 0xd00dfeed);
  assert.equal(h.version, 17);
  assert.equal(h.totalsize, dtb.length);
});

test("FDT writer round-trips through dtc: nodes, cells, strings, string lists, empty props, reservations", (t) => {
  if (!hasDtc) return t.skip("dtc (device-tree-compiler) is not installed");
  const fdt = new Fdt();
  fdt.reservations.push({ address: 0x80000000, size: 0x40000 });
  const root = fdt.root;
  root.cells("#address-cells", 2).cells("#size-cells", 2).string("model", "unit-test");
  const n = root.node("dev@1000");
  const ph = fdt.phandle(n);
  n.string("compatible", "vendor,a", "vendor,b").prop("reg", fdtValue.u64s(0x1000, 0x100)).flag("empty-prop");
  root.node("user").cells("link", ph);
  const { dts } = dtcDecompile(fdt.toDtb());
  assert.match(dts, /\/memreserve\/\s+0x0*80000000 0x0*40000;/);
  assert.match(dts, /model = "unit-test";/);
  assert.match(dts, /dev@1000 \{/);
  assert.match(dts, /compatible = "vendor,a\\0vendor,b";/);
  assert.match(dts, /reg = <0x00 0x1000 0x00 0x100>;/);
  assert.match(dts, /empty-prop;/);
  assert.match(dts, new RegExp(`link = <0x0*${ph}>;`));
});

test("virt device tree passes dtc without warnings and describes memory, cpus, chosen and every device", (t) => {
  if (!hasDtc) return t.skip("dtc (device-tree-compiler) is not installed");
  const dtb = virtDeviceTree({
    memory: 256 * 1024 * 1024,
    cpus: 2,
    bootargs: "console=ttyS0 quiet",
    initrd: { start: 0x88000000, end: 0x88100000 },
    virtioSlots: [0, 1],
    rngSeed: new Uint8Array(64),
  }).toDtb();
  const { dts, stderr } = dtcDecompile(dtb);
  assert.equal(stderr.trim(), "", "dtc warnings");
  assert.match(dts, /bootargs = "console=ttyS0 quiet";/);
  assert.match(dts, /stdout-path = "\/soc\/serial@10000000";/);
  assert.match(dts, /linux,initrd-start = <0x00 0x88000000>;/);
  assert.match(dts, /linux,initrd-end = <0x00 0x88100000>;/);
  assert.match(dts, /memory@80000000 \{\s*device_type = "memory";\s*reg = <0x00 0x80000000 0x00 0x10000000>;/);
  assert.match(dts, /timebase-frequency = <0x989680>;/);
  assert.match(dts, /cpu@0 \{/);
  assert.match(dts, /cpu@1 \{/);
  assert.ok(dts.includes(`riscv,isa = "${virtIsaString()}";`));
  assert.match(dts, /riscv,isa-base = "rv64i";/);
  assert.match(dts, /riscv,isa-extensions = "i\\0m\\0a\\0f\\0d\\0c\\0zicntr.*sstc";/);
  assert.match(dts, /compatible = "sifive,plic-1.0.0\\0riscv,plic0";/);
  assert.match(dts, /compatible = "sifive,clint0\\0riscv,clint0";/);
  assert.match(dts, /serial@10000000 \{\s*compatible = "ns16550a";/);
  assert.match(dts, /compatible = "google,goldfish-rtc";/);
  assert.match(dts, /compatible = "syscon-poweroff";/);
  assert.match(dts, /compatible = "syscon-reboot";/);
  assert.match(dts, /virtio_mmio@10001000 \{[^}]*interrupts = <0x01>;/);
  assert.match(dts, /virtio_mmio@10002000 \{[^}]*interrupts = <0x02>;/);
  assert.doesNotMatch(dts, /virtio_mmio@10003000/);
  // Two harts: PLIC contexts M and S for each (4 entries of <phandle irq>).
  const ie = /plic@c000000 \{[^}]*interrupts-extended = <([^>]*)>;/.exec(dts);
  assert.ok(ie);
  const cells = ie[1]!
    .trim()
    .split(/\s+/)
    .map((x) => Number(x));
  assert.deepEqual(
    cells.filter((_, i) => i % 2 === 1),
    [11, 9, 11, 9],
  );
});

test("typevisor dtb -o FILE writes a DTB that dtc accepts, with the command line and memory given", (t) => {
  if (!hasDtc) return t.skip("dtc (device-tree-compiler) is not installed");
  const dir = mkdtempSync(join(tmpdir(), "tv-dtb-"));
  try {
    const out = join(dir, "virt.dtb");
    execFileSync(process.execPath, [
      "bin/typevisor.js",
      "dtb",
      "--memory",
      "128M",
      "--cpus",
      "1",
      "--append",
      "root=/dev/vda",
      "-o",
      out,
    ]);
    const { dts, stderr } = dtcDecompile(new Uint8Array(readFileSync(out)));
    assert.equal(stderr.trim(), "");
    assert.match(dts, /bootargs = "root=\/dev\/vda";/);
    assert.match(dts, /reg = <0x00 0x80000000 0x00 0x8000000>;/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("typevisor dtb without -o says how to give the output file", () => {
  const r = spawnSync(process.execPath, ["bin/typevisor.js", "dtb"], { encoding: "utf8" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /-o FILE/);
});

test("riscv,isa names the hypervisor extension when the harts have it", () => {
  assert.equal(virtIsaString(true), virtIsaString().replace(/^rv64imafdc_/, "rv64imafdch_"));
  const ext = virtIsaExtensions(true);
  assert.equal(ext[ext.indexOf("c") + 1], "h");
  assert.ok(!virtIsaExtensions(false).includes("h"));
});
