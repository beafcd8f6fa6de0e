// The machine builder: the one place that turns a MachineSpec into a running virt board with its
// disks, NICs and their host backends opened (Firecracker's builder.rs plays this role there). The
// CLI (`run`, `start`) and the control plane's VM process only translate their input into a
// MachineSpec and call buildVirtMachine(); nothing else wires devices.
import type { GuestMemory } from "../memory/GuestMemory.js";
import type { VirtioDevice } from "../devices/virtio/VirtioDevice.js";
import { VirtioBlk } from "../devices/virtio/VirtioBlk.js";
import { VirtioNet } from "../devices/virtio/VirtioNet.js";
import type { BlockBackend } from "../devices/block/BlockBackend.js";
import type { CharBackend } from "../devices/chardev/CharBackend.js";
import type { NetBackend } from "../devices/net/NetBackend.js";
import { parseMac } from "../devices/net/NetBackend.js";
import { Vm, type VmExit, type VmOptions } from "./Vm.js";
import { virtioSlotProblem, type MachineSpec, type NicSpec } from "./MachineSpec.js";
import type { MachineBackends } from "./MachineBackends.js";

/** Something the machine could not be built from, naming the device and what to do. */
export class MachineBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MachineBuildError";
  }
}

/** What the embedder provides: the console and the host side of the devices. */
export interface MachineHost {
  /** The 16550 UART's backend (also hvc0's output and the SBI console). */
  console: CharBackend;
  /** Disks, NICs and shares: nodeBackends() (NodeBackends.ts) under Node, src/web in the page. */
  backends: MachineBackends;
  /** The console terminal's size, given to hvc0 (virtio-console SIZE); follow changes with vm.board.hvc.resize(). */
  consoleSize?: { cols: number; rows: number };
  onStateChange?: VmOptions["onStateChange"];
  /** A snapshot or incoming migration will replace RAM: skip loading the kernel (VirtBoardOptions). */
  restoring?: boolean;
  onReboot?: VmOptions["onReboot"];
}

export interface VirtMachine {
  readonly vm: Vm;
  readonly disks: readonly BlockBackend[];
  readonly nics: readonly VirtioNet[];
  readonly netBackends: readonly NetBackend[];
  /** Starts the VM and resolves when it exits, with the host backends closed and disks flushed. */
  run(): Promise<VmExit>;
  /** Flushes and closes the disks, ends the NICs' backends (passt, TAP helper, switch ports). */
  close(): Promise<void>;
}

function nicLabel(nic: NicSpec): string {
  return nic.kind === "user" ? "user" : nic.kind === "tap" ? `tap:${nic.ifname}` : `switch:${nic.name}`;
}

/**
 * Builds the machine: opens every disk and NIC backend (closing them again if anything fails), then
 * the board with its virtio slots in a fixed order: disks (vda, vdb, ...), NICs (eth0, eth1, ...),
 * 9p shares, hvc0, the RNG. Slots left over stay mapped and empty (device ID 0), as on QEMU's virt board.
 */
export async function buildVirtMachine(spec: MachineSpec, host: MachineHost): Promise<VirtMachine> {
  const problem = virtioSlotProblem(spec);
  if (problem) throw new MachineBuildError(problem);
  const macs = spec.nics.map((n) => {
    try {
      return parseMac(n.mac);
    } catch (e) {
      throw new MachineBuildError(`NIC ${nicLabel(n)}: ${(e as Error).message}`);
    }
  });
  const disks: BlockBackend[] = [];
  const netBackends: NetBackend[] = [];
  const closeAll = async () => {
    const errors: string[] = [];
    for (const d of disks.splice(0)) {
      try {
        await d.flush();
        await d.close();
      } catch (e) {
        errors.push(`disk ${d.description}: ${(e as Error).message}`);
      }
    }
    for (const b of netBackends.splice(0)) await b.close().catch(() => {});
    if (errors.length > 0) throw new MachineBuildError(`flushing disks failed: ${errors.join("; ")}`);
  };
  const virtio: ((m: GuestMemory) => VirtioDevice)[] = [];
  const nics: VirtioNet[] = [];
  try {
    for (const d of spec.disks) {
      let b: BlockBackend;
      try {
        b = await host.backends.openDisk(d);
      } catch (e) {
        throw new MachineBuildError(`cannot open disk '${d.path}': ${(e as Error).message}`);
      }
      disks.push(b);
      virtio.push((m) => new VirtioBlk(m, b));
    }
    for (const [i, n] of spec.nics.entries()) {
      let b: NetBackend;
      try {
        b = await host.backends.openNic(n, i);
      } catch (e) {
        throw new MachineBuildError(`NIC ${i} (--net ${nicLabel(n)}): ${(e as Error).message}`);
      }
      netBackends.push(b);
      const mac = macs[i]!;
      virtio.push((m) => {
        const dev = new VirtioNet(m, b, { mac });
        nics.push(dev);
        return dev;
      });
    }
    for (const sh of spec.shares ?? []) {
      let device: (m: GuestMemory) => VirtioDevice;
      try {
        device = host.backends.openShare(sh);
      } catch (e) {
        throw new MachineBuildError(`share '${sh.path}': ${(e as Error).message} (give an existing directory)`);
      }
      virtio.push(device);
    }
  } catch (e) {
    await closeAll().catch(() => {});
    throw e;
  }
  let vm: Vm;
  try {
    vm = new Vm({
      config: spec,
      virtio,
      console: host.console,
      hvc: spec.hvc !== false,
      hvcSize: host.consoleSize,
      rng: spec.rng !== false,
      onStateChange: host.onStateChange,
      onReboot: host.onReboot,
      restoring: host.restoring,
    });
  } catch (e) {
    await closeAll().catch(() => {});
    throw e;
  }
  let closed: Promise<void> | undefined;
  // Closing also ends a lazy restore's residency (the snapshot file it reads pages from is closed).
  const close = () => (closed ??= closeAll().finally(() => vm.board.memory.endLazy()));
  return {
    vm,
    disks,
    nics,
    netBackends,
    close,
    async run() {
      const exit = await vm.start();
      try {
        await close();
      } catch (e) {
        return { ...exit, message: `${exit.message ? exit.message + " " : ""}(${(e as Error).message})` };
      }
      return exit;
    },
  };
}
