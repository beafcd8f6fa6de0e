import { notYet } from "./notYet.js";

export const command = notYet(
  "dtb",
  "write the device tree of a machine configuration",
  `Usage: typevisor dtb [machine flags] -o FILE`,
  5,
);
