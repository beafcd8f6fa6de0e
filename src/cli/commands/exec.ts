import { notYet } from "./notYet.js";

export const command = notYet(
  "exec",
  "run a RISC-V 64 Linux program directly (system calls translated)",
  `Usage: typevisor exec [--root DIR] [--env K=V]... [--strace] PROGRAM [ARGS...]`,
  3,
);
