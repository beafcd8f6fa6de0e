// The host side of a machine's devices, provided by the embedder: the CLI and the daemon open files,
// passt, TAP and 9p exports (NodeBackends.ts); the browser keeps disks in memory or OPFS
// (src/web/). The machine builder asks only through this interface, so it and everything below it
// build for the browser with no Node built-in (test/layering/BrowserCore.test.ts).
import type { GuestMemory } from "../memory/GuestMemory.js";
import type { BlockBackend } from "../devices/block/BlockBackend.js";
import type { NetBackend } from "../devices/net/NetBackend.js";
import type { VirtioDevice } from "../devices/virtio/VirtioDevice.js";
import type { DiskSpec, NicSpec, ShareSpec } from "./MachineSpec.js";
import type { VcpuInit, VcpuMessage } from "./vcpu/Vcpu.js";

export interface MachineBackends {
  /** Opens the storage of one virtio-blk disk. */
  openDisk(disk: DiskSpec): Promise<BlockBackend>;
  /** Opens the wire of NIC number `index`. */
  openNic(nic: NicSpec, index: number): Promise<NetBackend>;
  /** Opens one shared directory: returns the device to plug into a virtio slot. */
  openShare(share: ShareSpec): (memory: GuestMemory) => VirtioDevice;
}

/**
 * The host side of vCPU threads (src/vmm/vcpu): starts one host thread that runs `new Vcpu(init,
 * send).run()` (Vcpu.ts) over the machine's shared memory. Node starts a worker_threads worker
 * (vcpu/spawnVcpu.ts); the page starts a Web Worker (src/web/browser/host/spawnVcpu.ts, which the
 * bundle substitutes, as a package's "browser" field would). VcpuSet knows only this interface.
 */
export type SpawnVcpu = (init: VcpuInit, events: VcpuThreadEvents) => VcpuThread;

/** What a vCPU thread reports to the thread that started it. */
export interface VcpuThreadEvents {
  /** A message the vCPU sent (console output, events, errors, statistics). */
  message(m: VcpuMessage): void;
  /** The thread failed (an exception escaped its run loop, or the script could not load). */
  error(e: Error): void;
}

export interface VcpuThread {
  /** Resolves when the thread has ended (after its run loop returned, or failed). */
  readonly exited: Promise<void>;
}
