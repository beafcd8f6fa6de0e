import { notYet } from "./notYet.js";

export const command = notYet(
  "serve",
  "run the control-plane daemon (HTTP API)",
  `Usage: typevisor serve [--listen HOST:PORT --token-file F]`,
  8,
);
