import { notYet } from "./notYet.js";

export const command = notYet(
  "run-elf",
  "run a bare-metal RV64 ELF (HTIF tohost/fromhost) in M-mode",
  `Usage: typevisor run-elf PROGRAM.elf [--max-insns N] [--timeout S]`,
  2,
);
