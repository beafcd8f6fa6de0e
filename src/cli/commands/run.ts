import { notYet } from "./notYet.js";

export const command = notYet(
  "run",
  "boot a virtual machine (RISC-V virt board)",
  `Usage: typevisor run --arch riscv64 --kernel K [--initrd I] [--append ARGS] [--disk FILE[,ro][,overlay]]... [--memory 512M] [--cpus 1] [--bios FILE] [--stats]`,
  5,
);
