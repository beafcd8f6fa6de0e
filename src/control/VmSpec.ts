// The VM definition the control plane stores and the API accepts (POST /v1/vms), as a JSON Schema
// that both validates requests (ajv) and appears in the OpenAPI document.
import { DEFAULT_ENGINE, type EngineName } from "../dbt/Engine.js";

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
  network?: NetworkSpecJson;
  /** Fraction of one host core the VM may use (0.05 .. 1); absent = unlimited. */
  cpuQuota?: number;
}

export const NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$";

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
    cpus: { type: "integer", minimum: 1, maximum: 8, default: 1 },
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
    network: {
      type: "object",
      additionalProperties: false,
      required: ["switch"],
      properties: {
        switch: { type: "string", pattern: NAME_PATTERN },
        mac: { type: "string", pattern: "^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$" },
      },
    },
    cpuQuota: { type: "number", minimum: 0.05, maximum: 1 },
  },
} as const;
