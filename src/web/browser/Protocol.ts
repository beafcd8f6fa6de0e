// Messages between the page and its VM worker (vm-worker.ts). The VM runs in a dedicated worker
// because Chromium refuses synchronous WebAssembly compilation of more than 4 KiB on the main
// thread, which the translator needs for each hot page, and so the page stays responsive while
// the guest computes.
import type { DownloadProgress } from "../Typevisor.js";
import type { VmExit, VmState, VmStats } from "../../vmm/Vm.js";
import type { EngineName } from "../../dbt/Engine.js";

/** BootOptions as they cross to the worker: URLs (absolute) or bytes, no backends. */
export interface WorkerBootOptions {
  kernel: string | ArrayBuffer | Uint8Array;
  initrd?: string | ArrayBuffer | Uint8Array;
  disks?: (string | ArrayBuffer | Uint8Array)[];
  memory?: number | string;
  cpus?: number;
  append?: string;
  engine?: EngineName;
  /** The console's size at boot (hvc0's; later sizes come as "resize" messages). */
  consoleSize?: { cols: number; rows: number };
  /** Keep the disks' changes in OPFS under this name (they survive reloading the page). */
  persist?: string;
}

export type ToWorker =
  | { t: "boot"; opts: WorkerBootOptions }
  | { t: "input"; data: Uint8Array }
  | { t: "resize"; cols: number; rows: number }
  | { t: "pause" }
  | { t: "resume" }
  | { t: "stop" }
  | { t: "stats"; id: number }
  | { t: "disk"; id: number; index: number }
  | { t: "changes"; id: number; index: number };

export type FromWorker =
  | { t: "progress"; p: DownloadProgress }
  | { t: "booted" }
  | { t: "note"; message: string }
  | { t: "error"; message: string }
  | { t: "console"; data: Uint8Array }
  | { t: "state"; state: VmState }
  | { t: "exit"; exit: VmExit }
  | { t: "stats"; id: number; stats: VmStats }
  | { t: "disk"; id: number; blob: Blob }
  | { t: "changes"; id: number; bytes: number }
  | { t: "reply-error"; id: number; message: string };
