// The one description of a virtual machine that every entry point produces: `typevisor run` and
// `start` from their flags, the control plane's VM process from the daemon's LaunchConfig, later the
// browser. buildVirtMachine() (MachineBuilder.ts) is the only code that turns it into a running
// board, in the spirit of Firecracker's builder.rs: front ends translate, one builder wires.
import type { VirtMachineConfig } from "./VirtBoard.js";
import { VIRT } from "./VirtDeviceTree.js";

/** A virtio-blk disk (raw image file). */
export interface DiskSpec {
  path: string;
  readOnly: boolean;
  /** Copy-on-write overlay file: writes go there, the base at `path` is never written. */
  overlay?: string;
}

/** A host port forwarded to the guest (QEMU's hostfwd=tcp:ADDR:HOSTPORT-:GUESTPORT). */
export interface HostForward {
  proto: "tcp" | "udp";
  /** Host address to listen on (default 127.0.0.1: not reachable from other machines). */
  hostAddr: string;
  hostPort: number;
  guestPort: number;
}

/** A virtio-net NIC and the host side of its wire. `mac` is "52:54:00:xx:xx:xx" form. */
export type NicSpec =
  /** User-mode NAT through passt (no privileges needed), with optional port forwards. */
  | { kind: "user"; mac: string; hostfwd: HostForward[] }
  /** A named virtual switch shared with the other VMs of the same process or daemon. */
  | { kind: "switch"; mac: string; name: string }
  /** A Linux TAP interface (needs root or CAP_NET_ADMIN). */
  | { kind: "tap"; mac: string; ifname: string };

/** A host directory exported to the guest over virtio-9p, mounted by its tag. */
export interface ShareSpec {
  path: string;
  tag: string;
  readOnly: boolean;
}

/** Mount tags: 1-31 letters, digits, '_', '.' or '-', not "." or ".." (the init mounts on /mnt/TAG). */
export const SHARE_TAG_PATTERN = "^(?!\\.\\.?$)[A-Za-z0-9_.-]{1,31}$";

/** The tag of a share given without one: its directory's name, made a valid tag. */
export function defaultShareTag(absolutePath: string): string {
  const name =
    absolutePath
      .split("/")
      .filter((c) => c.length > 0)
      .pop() ?? "root";
  const tag = name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 31);
  return new RegExp(SHARE_TAG_PATTERN).test(tag) ? tag : "share";
}

export interface MachineSpec extends VirtMachineConfig {
  /** virtio-blk disks in slot order: the first is /dev/vda. */
  disks: DiskSpec[];
  nics: NicSpec[];
  /** virtio-9p shares (after the NICs). */
  shares?: ShareSpec[];
  /** A virtio-rng (default true). */
  rng?: boolean;
  /** A virtio-console hvc0 on the same console as the UART (default true). */
  hvc?: boolean;
}

/** Virtio slots the board's own devices take (hvc0 and the RNG), when enabled. */
export function builtinVirtioDevices(spec: Pick<MachineSpec, "rng" | "hvc">): number {
  return (spec.hvc === false ? 0 : 1) + (spec.rng === false ? 0 : 1);
}

/** Null when the spec's devices fit the board's virtio-mmio slots, else what is wrong. */
export function virtioSlotProblem(spec: Pick<MachineSpec, "disks" | "nics" | "shares" | "rng" | "hvc">): string | null {
  const builtin = builtinVirtioDevices(spec);
  const shares = spec.shares?.length ?? 0;
  const n = spec.disks.length + spec.nics.length + shares + builtin;
  if (n <= VIRT.virtio.slots) return null;
  return `${spec.disks.length} disk(s), ${spec.nics.length} NIC(s) and ${shares} share(s) need ${n} virtio devices with the console and RNG, but the virt board has ${VIRT.virtio.slots} virtio-mmio slots (${builtin} taken by hvc0 and the RNG): give at most ${VIRT.virtio.slots - builtin} disks, NICs and shares in total`;
}
