// The VM definition the control plane stores and the API accepts (POST /v1/vms), as a JSON Schema
// that both validates requests (ajv) and appears in the OpenAPI document.
import { DEFAULT_ENGINE, type EngineName } from "../dbt/Engine.js";
import { SHARE_TAG_PATTERN } from "../vmm/MachineSpec.js";

export interface DiskSpecJson {
  path: string;
  readOnly?: boolean;
  /** Copy-on-write overlay: true = a per-VM overlay file in the daemon's state directory. */
  overlay?: boolean;
}

export interface NetworkSpecJson {
  /** Name of a virtual switch in the daemon; VMs on the same switch see each other's frames. */
  switch: string;
  mac?: string;
}

/** A host port forwarded to the guest's NIC (user mode). */
export interface HostForwardJson {
  proto: "tcp" | "udp";
  /** Host address to listen on (default 127.0.0.1). */
  hostAddr?: string;
  hostPort: number;
  guestPort: number;
}

/** A host directory shared with the guest over virtio-9p, mounted on /mnt/TAG by the images' init. */
export interface ShareSpecJson {
  path: string;
  /** Mount tag; default the directory's name. */
  tag?: string;
  readOnly?: boolean;
}

/**
 * One NIC (eth0, eth1, ... in order) and its backend (docs/NETWORKING.md). An API caller gets no
 * TAP NICs (they attach host interfaces, the operator's business: `typevisor run --net tap:...`) and
 * port forwards on loopback addresses and unprivileged ports only.
 */
export type NicSpecJson =
  { mode: "user"; mac?: string; hostfwd?: HostForwardJson[] } | { mode: "switch"; switch: string; mac?: string };

export interface VmSpec {
  name: string;
  arch: "riscv64";
  /** CPU engine of the VM's harts: the interpreter or the binary translator (docs/DBT.md). */
  engine: EngineName;
  /** A catalogue image (typevisor image ls), or kernel/initrd/append. */
  image?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  bios?: string;
  memoryMiB: number;
  cpus: number;
  disks: DiskSpecJson[];
  /** The VM's NICs; `network` is the older one-NIC-on-a-switch form of the same thing. */
  nics?: NicSpecJson[];
  network?: NetworkSpecJson;
  /** Host folders (virtio-9p): directories under the operator's --allow-dir directories only. */
  shares?: ShareSpecJson[];
  /** Fraction of one host core the VM may use (0.05 .. 1); absent = unlimited. */
  cpuQuota?: number;
}

export const NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$";

const MAC_SCHEMA = {
  type: "string",
  pattern: "^[0-9a-fA-F][02468aceACE](:[0-9a-fA-F]{2}){5}$",
  description: "unicast MAC; default derived from the VM's id",
} as const;

export const vmSpecSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    name: { type: "string", pattern: NAME_PATTERN, description: "unique name; generated when absent" },
    arch: { type: "string", enum: ["riscv64"], default: "riscv64" },
    engine: {
      type: "string",
      enum: ["interp", "dbt"],
      default: DEFAULT_ENGINE,
      description: "CPU engine: interp (the interpreter) or dbt (hot guest code translated to WebAssembly)",
    },
    image: { type: "string", minLength: 1, maxLength: 100, description: "catalogue image, e.g. debian-riscv64" },
    kernel: { type: "string", minLength: 1, maxLength: 4096, description: "absolute path of a kernel on the host" },
    initrd: { type: "string", minLength: 1, maxLength: 4096 },
    append: { type: "string", maxLength: 4096, description: "kernel command line" },
    bios: { type: "string", minLength: 1, maxLength: 4096, description: "M-mode firmware instead of the built-in SBI" },
    memoryMiB: { type: "integer", minimum: 16, maximum: 2048, default: 256 },
    cpus: { type: "integer", minimum: 1, maximum: 32, default: 1 },
    disks: {
      type: "array",
      maxItems: 6,
      default: [],
      items: {
        type: "object",
        additionalProperties: false,
        required: ["path"],
        properties: {
          path: { type: "string", minLength: 1, maxLength: 4096 },
          readOnly: { type: "boolean", default: false },
          overlay: { type: "boolean", default: false },
        },
      },
    },
    nics: {
      type: "array",
      maxItems: 6,
      description:
        "NICs in order (eth0, eth1, ...): user = NAT through passt with optional port forwards (on the daemon host's loopback, ports >= 1024), switch = a named virtual switch of this daemon",
      items: {
        oneOf: [
          {
            type: "object",
            additionalProperties: false,
            required: ["mode"],
            properties: {
              mode: { const: "user" },
              mac: MAC_SCHEMA,
              hostfwd: {
                type: "array",
                maxItems: 32,
                items: {
                  type: "object",
                  additionalProperties: false,
                  required: ["proto", "hostPort", "guestPort"],
                  properties: {
                    proto: { type: "string", enum: ["tcp", "udp"] },
                    hostAddr: {
                      type: "string",
                      pattern: "^(127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}|::1)$",
                      default: "127.0.0.1",
                      description: "loopback address of the daemon's host to listen on",
                    },
                    hostPort: { type: "integer", minimum: 1024, maximum: 65535 },
                    guestPort: { type: "integer", minimum: 1, maximum: 65535 },
                  },
                },
              },
            },
          },
          {
            type: "object",
            additionalProperties: false,
            required: ["mode", "switch"],
            properties: {
              mode: { const: "switch" },
              switch: { type: "string", pattern: NAME_PATTERN },
              mac: MAC_SCHEMA,
            },
          },
        ],
      },
    },
    network: {
      type: "object",
      additionalProperties: false,
      required: ["switch"],
      properties: {
        switch: { type: "string", pattern: NAME_PATTERN },
        mac: MAC_SCHEMA,
      },
    },
    shares: {
      type: "array",
      maxItems: 6,
      description:
        "host folders shared over virtio-9p (docs/MACHINE.md): each directory must be under a 'serve --allow-dir' directory; the images' init mounts it on /mnt/TAG",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["path"],
        properties: {
          path: {
            type: "string",
            minLength: 1,
            maxLength: 4096,
            description: "absolute path of a directory on the daemon's host",
          },
          tag: {
            type: "string",
            pattern: SHARE_TAG_PATTERN,
            description: "mount tag (1-31 letters, digits, '_', '.', '-'); default the directory's name",
          },
          readOnly: { type: "boolean", default: false, description: "every change from the guest fails with EROFS" },
        },
      },
    },
    cpuQuota: { type: "number", minimum: 0.05, maximum: 1 },
  },
} as const;
