// Where the boot loader puts things in the virt board's RAM (the same choices as QEMU's
// hw/riscv/boot.c, so kernels see familiar addresses):
//
//   0x80000000            --bios firmware (fw_dynamic/fw_jump: linked for the start of RAM)
//   0x80000000+text_off   the kernel Image (0x80200000 for Debian's: text_offset 2 MiB)
//   ...                   free RAM
//   initrd                page-aligned, just below the boot-info page
//   boot-info page        struct fw_dynamic_info for --bios (OpenSBI docs/firmware/fw_dynamic.md)
//   DTB                   2 MiB aligned near the top of RAM, with room after it for firmware fixups
import { planKernel, KernelImageError, type KernelPlacement, type KernelPlan } from "../boot/LinuxImage.js";
import { VIRT } from "./VirtDeviceTree.js";

const MiB = 1024 * 1024;
/** Room reserved for the DTB and the fixups a firmware adds to it (OpenSBI grows it in place). */
export const DTB_REGION = 64 * 1024;

export interface NamedBytes {
  name: string;
  /** The content (a file held by path may read it from disk here: src/vmm/BootFile.ts). */
  readonly bytes: Uint8Array;
  /**
   * Drops the content from memory when it can be had again from `bytes` (a file read again): the
   * board calls it once the content is in guest RAM, so a reboot that may never come does not keep it.
   */
  release?(): void;
}

/** Where the boot loader puts things; K is KernelPlan while the bytes are held, KernelPlacement after. */
export interface VirtBootLayout<K extends KernelPlacement = KernelPlan> {
  kernel: K;
  /** The M-mode firmware for --bios, loaded at the start of RAM. */
  bios?: K;
  initrd?: { start: number; end: number };
  dtbAddr: number;
  /** Address of struct fw_dynamic_info (used only with --bios). */
  fwInfoAddr: number;
}

/** The addresses of a boot layout, without the bytes its plans hold. */
export type VirtBootPlacement = VirtBootLayout<KernelPlacement>;

/** `L` without its kernel's and firmware's bytes (a plan holds them; a placement must not). */
export function placementOf(L: VirtBootLayout): VirtBootPlacement {
  const place = ({ format, name, start, end, entry }: KernelPlan): KernelPlacement => ({
    format,
    name,
    start,
    end,
    entry,
  });
  return { ...L, kernel: place(L.kernel), bios: L.bios && place(L.bios) };
}

export function planVirtBoot(
  memory: number,
  kernel: NamedBytes,
  initrd?: NamedBytes,
  bios?: NamedBytes,
): VirtBootLayout {
  const base = VIRT.dram.base;
  const ramEnd = base + memory;
  const kplan = planKernel(kernel.bytes, kernel.name, base);
  let bplan: KernelPlan | undefined;
  if (bios) {
    bplan = planKernel(bios.bytes, bios.name, base, 0);
    if (bplan.format === "image")
      throw new KernelImageError(bios.name, "is a Linux Image, not firmware: pass it with --kernel");
    if (bplan.start < base || bplan.end > ramEnd) {
      throw new KernelImageError(
        bios.name,
        `firmware of ${Math.ceil((bplan.end - bplan.start) / MiB)} MiB at 0x${bplan.start.toString(16)} does not fit in the ${Math.round(memory / MiB)} MiB of guest RAM at 0x${base.toString(16)}: check the file (OpenSBI's fw_dynamic.bin is under 1 MiB) or give more memory`,
      );
    }
    if (bplan.end > kplan.start && bplan.start < kplan.end) {
      throw new KernelImageError(
        bios.name,
        `firmware 0x${bplan.start.toString(16)}..0x${bplan.end.toString(16)} overlaps the kernel at 0x${kplan.start.toString(16)}`,
      );
    }
  }
  // The DTB goes 2 MiB below the top of RAM (QEMU aligns it down to 2 MiB too), so the kernel's
  // early mapping of it is one superpage.
  const dtbAddr = Math.floor((ramEnd - DTB_REGION) / (2 * MiB)) * 2 * MiB;
  const fwInfoAddr = dtbAddr - 4096;
  const need = (what: string) =>
    new KernelImageError(
      kernel.name,
      `with ${what} needs more than the ${Math.round(memory / MiB)} MiB of guest RAM: give more memory, e.g. --memory ${Math.max(256, Math.ceil((memory * 2) / MiB))}M`,
    );
  if (kplan.start < base || kplan.end > fwInfoAddr) throw need("the device tree");
  let initrdRange: { start: number; end: number } | undefined;
  if (initrd) {
    const start = Math.floor((fwInfoAddr - initrd.bytes.length) / 4096) * 4096;
    // Leave the kernel room to grow its early allocations after image_size (page tables, etc.).
    if (start < kplan.end + 2 * MiB)
      throw need(`the initramfs ${initrd.name} (${Math.ceil(initrd.bytes.length / MiB)} MiB)`);
    initrdRange = { start, end: start + initrd.bytes.length };
  }
  return { kernel: kplan, bios: bplan, initrd: initrdRange, dtbAddr, fwInfoAddr };
}
