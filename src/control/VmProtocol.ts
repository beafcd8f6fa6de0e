// Messages between the daemon and a VM process, over the VM process's control socket
// (src/control/VmChannel.ts: structured-clone records, so console bytes and Ethernet frames travel
// as Uint8Array without base64).
import type { VmStats } from "../vmm/Vm.js";
import type { EngineName } from "../dbt/Engine.js";
import type { DiskSpec, NicSpec, ShareSpec } from "../vmm/MachineSpec.js";
import type { MigrationResult } from "./Migration.js";

/** Everything a VM process needs to boot, resolved by the daemon (paths are absolute). */
export interface LaunchConfig {
  id: string;
  kernel: string;
  initrd?: string;
  append: string;
  bios?: string;
  memoryBytes: number;
  cpus: number;
  engine: EngineName;
  disks: DiskSpec[];
  /** NICs in order (eth0, ...); switch NICs' frames travel as "net" messages tagged with the index. */
  nics: NicSpec[];
  /** Host folders (virtio-9p), paths resolved and checked by the daemon. */
  shares?: ShareSpec[];
  cpuQuota?: number;
  /** Resume from this snapshot file instead of booting (vm restore; docs/SNAPSHOTS.md). */
  restore?: string;
  /**
   * Receive a live migration instead of booting: listen on HOST (port chosen by the OS, reported with
   * "incoming-ready"), accept the source that presents TICKET, resume the guest it sends.
   */
  incoming?: { host: string; ticket: string; copyDisks?: boolean };
}

/** What a VM process reports after a snapshot (vm snapshot). */
export interface SnapshotReport {
  /** Snapshot file size, RAM pages and pages stored, time the guest was paused. */
  bytes: number;
  pages: number;
  storedPages: number;
  pausedMs: number;
  /** The frozen disks, in order: copies in the snapshot's directory (read-only disks: the original). */
  disks: DiskSpec[];
}

export type ToVm =
  | { t: "boot"; config: LaunchConfig }
  | { t: "pause" }
  | { t: "resume" }
  /** Ask the guest to power off: serial break + SysRq s (sync), u (remount read-only), o (power off). */
  | { t: "shutdown" }
  /** Stop the machine now (as pulling the plug), flush disks, exit. */
  | { t: "stop" }
  | { t: "input"; data: Uint8Array }
  /** The console client's terminal has a new size: hvc0's (virtio-console SIZE), which the guest follows. */
  | { t: "resize"; cols: number; rows: number }
  /** Pause, save the machine to DIR/snapshot.tvsnap with its disks frozen as DIR/diskN.img, resume. */
  | { t: "snapshot"; req: number; dir: string; compress?: boolean }
  /** Live-migrate to the destination VM process at HOST:PORT (Migration.ts); this VM ends on success. */
  | {
      t: "migrate";
      req: number;
      host: string;
      port: number;
      ticket: string;
      maxDowntimeMs: number;
      /** Send the disks' overlay files with the guest (the destination has its own). */
      copyDisks?: boolean;
    }
  | { t: "net"; nic: number; frame: Uint8Array }
  /** A spare (--spare): warm up on this snapshot (WarmUp.ts), then wait. */
  | { t: "warm"; snapshot: string }
  /** A spare becomes a VM: the daemon moved its control socket to this path (the VM's directory); "boot" follows. */
  | { t: "adopt"; socket: string };

export interface VmProcessStats extends VmStats {
  /** OS process id of the VM's process. */
  pid: number;
  rssBytes: number;
  memoryBytes: number;
  /** droppedBytes: output dropped (oldest first) because the channel to the daemon was full. */
  /** cols/rows: the console size the guest was last given (hvc0's), 0 when none. */
  console: { txBytes: number; droppedBytes: number; cols: number; rows: number };
  net?: { txFrames: number; rxFrames: number; rxDropped: number };
}

export type FromVm =
  /** First message on every connection: lets a restarted daemon re-adopt the VM. */
  | { t: "hello"; pid: number; booted: boolean; paused: boolean }
  | { t: "console"; data: Uint8Array }
  | { t: "stats"; stats: VmProcessStats }
  | { t: "net"; nic: number; frame: Uint8Array }
  | { t: "exit"; reason: string; status: number; message?: string }
  | { t: "error"; message: string }
  | { t: "snapshot-done"; req: number; report?: SnapshotReport; error?: string }
  | { t: "incoming-ready"; port: number }
  | { t: "migrate-done"; req: number; result?: MigrationResult; error?: string };
