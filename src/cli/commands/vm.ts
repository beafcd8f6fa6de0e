import { notYet } from "./notYet.js";

export const command = notYet(
  "vm",
  "manage VMs through the daemon",
  `Usage: typevisor vm create|ls|start|pause|resume|stop|kill|rm|console|stats|logs`,
  8,
);
