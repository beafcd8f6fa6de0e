import { notYet } from "./notYet.js";

export const command = notYet(
  "start",
  "boot the default image to a shell (pulls it first if needed)",
  `Usage: typevisor start`,
  6,
);
