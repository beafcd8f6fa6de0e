// The RISC-V `virt` board's memory map (the same addresses as QEMU's hw/riscv/virt.c, so kernels
// and firmware written for QEMU feel at home) and the device tree that describes one configured
// machine. Bindings followed: Linux Documentation/devicetree/bindings/riscv/cpus.yaml (riscv,isa,
// riscv,isa-base, riscv,isa-extensions, mmu-type), riscv,cpu-intc, sifive,plic-1.0.0,
// sifive,clint0, virtio,mmio, ns16550a, google,goldfish-rtc, syscon-poweroff/syscon-reboot,
// and the Devicetree Specification v0.4 (memory §3.4, chosen §3.6, cpus §3.7).
import { Fdt, fdtValue, type FdtNode } from "../boot/Fdt.js";
import { CLINT_SIZE } from "../devices/Aclint.js";
import { GOLDFISH_RTC_SIZE } from "../devices/GoldfishRtc.js";
import { PLIC_SIZE } from "../devices/Plic.js";
import { SYSCON_SIZE } from "../devices/Syscon.js";
import { VMGENID_SIZE } from "../devices/VmGenId.js";

/** Harts the board offers (QEMU virt allows 512; 32 is what Typevisor's tests boot). */
export const MAX_HARTS = 32;

export const VIRT = {
  syscon: { base: 0x100000, size: SYSCON_SIZE },
  rtc: { base: 0x101000, size: GOLDFISH_RTC_SIZE, irq: 11 },
  clint: { base: 0x2000000, size: CLINT_SIZE },
  plic: { base: 0xc000000, size: PLIC_SIZE, ndev: 95 },
  uart0: { base: 0x10000000, size: 0x100, irq: 10, clock: 3686400 },
  /** Not on QEMU's virt board (QEMU offers vmgenid on x86/ACPI only): the snapshot clones' generation ID. */
  vmgenid: { base: 0x10200000, size: VMGENID_SIZE, irq: 12 },
  virtio: { base: 0x10001000, stride: 0x1000, size: 0x1000, firstIrq: 1, slots: 8 },
  dram: { base: 0x80000000 },
  /** mtime frequency (QEMU virt: 10 MHz). */
  timebase: 10_000_000,
} as const;

/** The extensions the Typevisor hart implements (src/riscv), as the DT advertises them. */
export const VIRT_ISA_EXTENSIONS = [
  "i",
  "m",
  "a",
  "f",
  "d",
  "c",
  "zicntr",
  "zicsr",
  "zifencei",
  "zihpm",
  "zba",
  "zbb",
  "zbs",
  "sstc",
] as const;

export interface VirtDtConfig {
  /** RAM size in bytes. */
  memory: number;
  cpus: number;
  bootargs?: string;
  /** Guest-physical [start, end) of the initramfs, if any. */
  initrd?: { start: number; end: number };
  /** Populated virtio-mmio slots (0..7). Only these are described. */
  virtioSlots?: number[];
  /** The harts implement the hypervisor extension: "h" in riscv,isa (after "c", the canonical order). */
  hypervisor?: boolean;
  /** 64 bytes for /chosen/rng-seed so the guest's RNG is seeded at once; random when omitted. */
  rngSeed?: Uint8Array;
}

/** riscv,isa string in the canonical order (single letters, then multi-letter, underscore-separated). */
export function virtIsaString(hypervisor = false): string {
  const single = virtIsaExtensions(hypervisor)
    .filter((e) => e.length === 1)
    .join("");
  const multi = VIRT_ISA_EXTENSIONS.filter((e) => e.length > 1);
  return `rv64${single}_${multi.join("_")}`;
}

/** riscv,isa-extensions: VIRT_ISA_EXTENSIONS, with "h" after "c" when the harts have H. */
export function virtIsaExtensions(hypervisor = false): string[] {
  const all: string[] = [...VIRT_ISA_EXTENSIONS];
  if (hypervisor) all.splice(all.indexOf("c") + 1, 0, "h");
  return all;
}

const hex = (n: number) => n.toString(16);

function reg(node: FdtNode, base: number, size: number): void {
  node.prop("reg", fdtValue.u64s(base, size));
}

export function virtDeviceTree(cfg: VirtDtConfig): Fdt {
  if (!Number.isInteger(cfg.cpus) || cfg.cpus < 1 || cfg.cpus > MAX_HARTS) {
    throw new RangeError(`cpus ${cfg.cpus}: the virt board supports 1..${MAX_HARTS} harts`);
  }
  const fdt = new Fdt();
  const root = fdt.root;
  root.cells("#address-cells", 2).cells("#size-cells", 2);
  root.string("compatible", "riscv-virtio").string("model", "riscv-virtio,typevisor");

  const chosen = root.node("chosen");
  chosen.string("bootargs", cfg.bootargs ?? "");
  chosen.string("stdout-path", `/soc/serial@${hex(VIRT.uart0.base)}`);
  if (cfg.initrd) {
    chosen.prop("linux,initrd-start", fdtValue.u64(cfg.initrd.start));
    chosen.prop("linux,initrd-end", fdtValue.u64(cfg.initrd.end));
  }
  chosen.prop("rng-seed", cfg.rngSeed ?? crypto.getRandomValues(new Uint8Array(64)));

  const mem = root.node(`memory@${hex(VIRT.dram.base)}`);
  mem.string("device_type", "memory");
  reg(mem, VIRT.dram.base, cfg.memory);

  const cpus = root.node("cpus");
  cpus.cells("#address-cells", 1).cells("#size-cells", 0).cells("timebase-frequency", VIRT.timebase);
  const intcs: number[] = [];
  const cpuPhandles: number[] = [];
  for (let h = 0; h < cfg.cpus; h++) {
    const cpu = cpus.node(`cpu@${h}`);
    cpuPhandles.push(fdt.phandle(cpu));
    cpu.string("device_type", "cpu").cells("reg", h).string("status", "okay").string("compatible", "riscv");
    cpu.string("riscv,isa", virtIsaString(cfg.hypervisor));
    cpu.string("riscv,isa-base", "rv64i");
    cpu.string("riscv,isa-extensions", ...virtIsaExtensions(cfg.hypervisor));
    // Sv39 keeps guest page walks at three levels; the hart also has Sv48/57 but Linux would pick the
    // deepest one the DT allows.
    cpu.string("mmu-type", "riscv,sv39");
    const intc = cpu.node("interrupt-controller");
    intcs.push(fdt.phandle(intc));
    intc
      .cells("#interrupt-cells", 1)
      .cells("#address-cells", 0)
      .flag("interrupt-controller")
      .string("compatible", "riscv,cpu-intc");
  }
  const map = cpus.node("cpu-map").node("cluster0");
  cpuPhandles.forEach((p, h) => map.node(`core${h}`).cells("cpu", p));

  const soc = root.node("soc");
  soc.cells("#address-cells", 2).cells("#size-cells", 2).string("compatible", "simple-bus").flag("ranges");

  // PLIC first so its phandle exists for interrupt-parent below. Contexts per hart: M (11), S (9).
  const plic = soc.node(`plic@${hex(VIRT.plic.base)}`);
  const plicPh = fdt.phandle(plic);
  plic.cells("#interrupt-cells", 1).cells("#address-cells", 0);
  plic.string("compatible", "sifive,plic-1.0.0", "riscv,plic0");
  plic.flag("interrupt-controller");
  plic.cells("interrupts-extended", ...intcs.flatMap((i) => [i, 11, i, 9]));
  reg(plic, VIRT.plic.base, VIRT.plic.size);
  plic.cells("riscv,ndev", VIRT.plic.ndev);

  const clint = soc.node(`clint@${hex(VIRT.clint.base)}`);
  clint.string("compatible", "sifive,clint0", "riscv,clint0");
  clint.cells("interrupts-extended", ...intcs.flatMap((i) => [i, 3, i, 7]));
  reg(clint, VIRT.clint.base, VIRT.clint.size);

  const uart = soc.node(`serial@${hex(VIRT.uart0.base)}`);
  uart.string("compatible", "ns16550a");
  reg(uart, VIRT.uart0.base, VIRT.uart0.size);
  uart.cells("clock-frequency", VIRT.uart0.clock);
  uart.cells("interrupt-parent", plicPh).cells("interrupts", VIRT.uart0.irq);

  const rtc = soc.node(`rtc@${hex(VIRT.rtc.base)}`);
  rtc.string("compatible", "google,goldfish-rtc");
  reg(rtc, VIRT.rtc.base, VIRT.rtc.size);
  rtc.cells("interrupt-parent", plicPh).cells("interrupts", VIRT.rtc.irq);

  const genid = soc.node(`vmgenid@${hex(VIRT.vmgenid.base)}`);
  genid.string("compatible", "microsoft,vmgenid");
  reg(genid, VIRT.vmgenid.base, VIRT.vmgenid.size);
  genid.cells("interrupt-parent", plicPh).cells("interrupts", VIRT.vmgenid.irq);

  const test = soc.node(`test@${hex(VIRT.syscon.base)}`);
  const testPh = fdt.phandle(test);
  test.string("compatible", "sifive,test1", "sifive,test0", "syscon");
  reg(test, VIRT.syscon.base, VIRT.syscon.size);
  // poweroff/reboot have no registers of their own, so they live outside the simple-bus (as on QEMU).
  root
    .node("poweroff")
    .string("compatible", "syscon-poweroff")
    .cells("regmap", testPh)
    .cells("offset", 0)
    .cells("value", 0x5555);
  root
    .node("reboot")
    .string("compatible", "syscon-reboot")
    .cells("regmap", testPh)
    .cells("offset", 0)
    .cells("value", 0x7777);

  for (const slot of [...(cfg.virtioSlots ?? [])].sort((a, b) => a - b)) {
    if (!Number.isInteger(slot) || slot < 0 || slot >= VIRT.virtio.slots) {
      throw new RangeError(`virtio-mmio slot ${slot}: the virt board has slots 0..${VIRT.virtio.slots - 1}`);
    }
    const base = VIRT.virtio.base + slot * VIRT.virtio.stride;
    const v = soc.node(`virtio_mmio@${hex(base)}`);
    v.string("compatible", "virtio,mmio");
    reg(v, base, VIRT.virtio.size);
    v.cells("interrupt-parent", plicPh).cells("interrupts", VIRT.virtio.firstIrq + slot);
  }
  return fdt;
}
