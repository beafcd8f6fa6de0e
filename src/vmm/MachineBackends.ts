// The host side of a machine's devices, provided by the embedder: the CLI and the daemon open files,
// passt, TAP and 9p exports (NodeBackends.ts); the browser keeps disks in memory or OPFS
// (src/web/). The machine builder asks only through this interface, so it and everything below it
// build for the browser with no Node built-in (test/layering/BrowserCore.test.ts).
import type { GuestMemory } from "../memory/GuestMemory.js";
import type { BlockBackend } from "../devices/block/BlockBackend.js";
import type { NetBackend } from "../devices/net/NetBackend.js";
import type { VirtioDevice } from "../devices/virtio/VirtioDevice.js";
import type { DiskSpec, NicSpec, ShareSpec } from "./MachineSpec.js";

export interface MachineBackends {
  /** Opens the storage of one virtio-blk disk. */
  openDisk(disk: DiskSpec): Promise<BlockBackend>;
  /** Opens the wire of NIC number `index`. */
  openNic(nic: NicSpec, index: number): Promise<NetBackend>;
  /** Opens one shared directory: returns the device to plug into a virtio slot. */
  openShare(share: ShareSpec): (memory: GuestMemory) => VirtioDevice;
}
