// `typevisor run`: boots a virtual machine on the RISC-V virt board with the serial console on the
// terminal. Also exports the machine flags and their validation, which `typevisor dtb` shares so
// that both describe the same machine.
import { mkdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import type { Command } from "../Command.js";
import { UsageError, parseCommandArgs, parseSize } from "../Command.js";
import type { NamedBytes } from "../../vmm/VirtLayout.js";
import { planVirtBoot } from "../../vmm/VirtLayout.js";
import type { Vm, VmExit, VmStats } from "../../vmm/Vm.js";
import {
  SHARE_TAG_PATTERN,
  defaultShareTag,
  virtioSlotProblem,
  type DiskSpec,
  type MachineSpec,
  type ShareSpec,
} from "../../vmm/MachineSpec.js";
import { buildVirtMachine, MachineBuildError, type VirtMachine } from "../../vmm/MachineBuilder.js";
import { nodeBackends } from "../../vmm/NodeBackends.js";
import { BootFile } from "../../vmm/BootFile.js";
import { KernelImageError } from "../../boot/LinuxImage.js";
import { ElfError } from "../../boot/Elf.js";
import { ElfLoadError } from "../../boot/ElfLoader.js";
import { TerminalBackend } from "../../devices/chardev/TerminalBackend.js";
import type { CharBackend } from "../../devices/chardev/CharBackend.js";
import { SocketSwitchPort } from "../../devices/net/SocketSwitch.js";
import { DEFAULT_ENGINE } from "../../dbt/Engine.js";
import { engineOptionsFromEnv, parseEngine, setEngineCompiler, setEngineTiering } from "../EngineSetup.js";
import { formatDbtStats } from "../../dbt/Dbt.js";
import { NET_FLAG_USAGE, parseNetFlags } from "../NetOption.js";
import { readSnapshotHeader, restoreSnapshot, snapshotSpec, takeSnapshot } from "../../vmm/snapshot/Snapshot.js";
import { SnapshotError } from "../../vmm/snapshot/SnapshotFile.js";
import { MAX_HARTS } from "../../vmm/VirtDeviceTree.js";

/** The kernel command line without --append: the UART console, and SBI early output at once. */
export const DEFAULT_APPEND = "console=ttyS0 earlycon=sbi";

/** --hypervisor default: on (Debian's kernel boots the same with H, and its KVM works; issue 19). */
const DEFAULT_HYPERVISOR = "on";

export const MACHINE_FLAGS_USAGE = `Machine flags:
  --arch riscv64           guest architecture (only riscv64 so far)
  --kernel FILE            Linux Image (e.g. Debian's /boot/vmlinux-*-riscv64), ELF or raw binary
  --initrd FILE            initramfs (cpio, optionally compressed)
  --append "ARGS"          kernel command line (default: "${DEFAULT_APPEND}")
  --disk FILE[,ro][,overlay[=OVL]]
                           a virtio-blk disk (repeatable): raw image; ro = read-only; overlay = writes
                           go to OVL (default FILE.overlay), the base stays untouched
  --memory SIZE            guest RAM, e.g. 512M, 1G (default 512M, at most 2G)
  --cpus N                 harts (default 1, at most 32)
  --vcpu-threads on|off    each hart on its own host thread (default: on with more than one hart), or
                           all harts round-robin on one thread (deterministic order, e.g. for debugging)
  --bios FILE              M-mode firmware (e.g. /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin)
                           instead of Typevisor's built-in SBI
  --engine E               CPU engine of every hart: interp (the interpreter) or dbt (hot guest code
                           translated to WebAssembly); default ${DEFAULT_ENGINE}
  --hypervisor on|off      the harts implement the RISC-V hypervisor extension (H: misa.H, "h" in the
                           device tree), so the guest's Linux can run KVM guests; default ${DEFAULT_HYPERVISOR}
${NET_FLAG_USAGE}
  --share DIR[:TAG][,ro]   share host directory DIR with the guest over virtio-9p (repeatable); the
                           guest mounts it with mount -t 9p -o trans=virtio TAG /mnt/TAG (the
                           images' init does); TAG defaults to DIR's name; ro = read-only`;

export const machineOptions = {
  arch: { type: "string" },
  kernel: { type: "string" },
  initrd: { type: "string" },
  append: { type: "string" },
  disk: { type: "string", multiple: true },
  memory: { type: "string" },
  cpus: { type: "string" },
  "vcpu-threads": { type: "string" },
  bios: { type: "string" },
  engine: { type: "string" },
  hypervisor: { type: "string" },
  net: { type: "string", multiple: true },
  share: { type: "string", multiple: true },
} as const;

function readInput(cmd: string, what: string, path: string, flag: string): NamedBytes {
  try {
    if (statSync(path).isDirectory())
      throw new UsageError(`${cmd}: ${what} '${path}' is a directory; give the file (${flag} FILE)`);
    // Held by path: the board drops the bytes once they are in guest RAM and a reboot reads the
    // file again (BootFile.ts), ~45 MiB less peak RSS for a Debian kernel and initramfs.
    return BootFile.read(path, { what, since: "the VM booted" });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new UsageError(`${cmd}: ${what} '${path}' does not exist; check the path given to ${flag}`);
    if (code === "EACCES")
      throw new UsageError(
        `${cmd}: ${what} '${path}' is not readable (permission denied); fix its permissions or run as a user who can read it`,
      );
    throw new UsageError(`${cmd}: cannot read ${what} '${path}': ${(e as Error).message}`);
  }
}

export function parseDiskSpec(cmd: string, spec: string): DiskSpec {
  const [path, ...opts] = spec.split(",");
  if (!path) throw new UsageError(`${cmd}: --disk '${spec}' has no file name (form: FILE[,ro][,overlay[=OVL]])`);
  const d: DiskSpec = { path, readOnly: false };
  for (const o of opts) {
    if (o === "ro") d.readOnly = true;
    else if (o === "overlay") d.overlay = `${path}.overlay`;
    else if (o.startsWith("overlay=") && o.length > 8) d.overlay = o.slice(8);
    else throw new UsageError(`${cmd}: --disk option '${o}' is unknown (use ro, overlay or overlay=FILE)`);
  }
  try {
    if (!statSync(path).isFile())
      throw new UsageError(`${cmd}: disk '${path}' is not a regular file (give a raw disk image)`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(
      `${cmd}: disk '${path}' does not exist; create it (e.g. 'typevisor image' or 'truncate -s 64M ${path} && mkfs.ext4 ${path}') or fix the path`,
    );
  }
  return d;
}

/** --share DIR[:TAG][,ro]: the tag defaults to DIR's last component (letters, digits, _ . -). */
export function parseShares(cmd: string, specs: readonly string[]): ShareSpec[] {
  const tags = new Set<string>();
  return specs.map((spec) => {
    const [head = "", ...opts] = spec.split(",");
    let readOnly = false;
    for (const o of opts) {
      if (o === "ro") readOnly = true;
      else throw new UsageError(`${cmd}: --share ${spec}: unknown option '${o}' (form: --share DIR[:TAG][,ro])`);
    }
    const colon = head.lastIndexOf(":");
    const path = colon > 0 ? head.slice(0, colon) : head;
    const tag = colon > 0 ? head.slice(colon + 1) : defaultShareTag(resolvePath(path));
    if (!path) throw new UsageError(`${cmd}: --share ${spec}: give a directory (form: --share DIR[:TAG][,ro])`);
    if (!new RegExp(SHARE_TAG_PATTERN).test(tag)) {
      throw new UsageError(
        `${cmd}: --share ${spec}: tag '${tag}' must be 1-31 letters, digits, '_', '.' or '-' (form: --share DIR[:TAG][,ro])`,
      );
    }
    if (tags.has(tag))
      throw new UsageError(
        `${cmd}: --share ${spec}: tag '${tag}' is used by another --share; give each its own (DIR:TAG)`,
      );
    tags.add(tag);
    let st;
    try {
      st = statSync(path);
    } catch {
      throw new UsageError(`${cmd}: --share ${spec}: '${path}' does not exist; give an existing directory`);
    }
    if (!st.isDirectory()) throw new UsageError(`${cmd}: --share ${spec}: '${path}' is not a directory`);
    return { path: resolvePath(path), tag, readOnly };
  });
}

type MachineValues = {
  arch?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  disk?: string[];
  memory?: string;
  cpus?: string;
  "vcpu-threads"?: string;
  bios?: string;
  engine?: string;
  hypervisor?: string;
  net?: string[];
  share?: string[];
};

export interface MachineFlagDefaults {
  /** What no --net means (start: ["user"]; run: [] = no NIC). */
  net?: readonly string[];
  /** Seeds the derived MAC addresses (default: the first disk, else the kernel file). */
  vmName?: string;
}

/** Validates the machine flags, reads the files they name and returns the machine to build. */
export function readMachineSpec(
  cmd: string,
  v: MachineValues,
  needKernel: boolean,
  defaults: MachineFlagDefaults = {},
): MachineSpec {
  if (v.arch !== undefined && v.arch !== "riscv64") {
    throw new UsageError(
      `${cmd}: --arch ${v.arch} is not supported; Typevisor emulates riscv64 machines (use --arch riscv64)`,
    );
  }
  const memory = parseSize(v.memory ?? "512M", "--memory");
  if (memory < 16 * 1024 * 1024 || memory % 4096 !== 0) {
    throw new UsageError(`${cmd}: --memory ${v.memory}: give at least 16M, in whole 4 KiB pages`);
  }
  if (memory > 2048 * 1024 * 1024)
    throw new UsageError(
      `${cmd}: --memory ${v.memory}: at most 2G of guest RAM is supported (guest RAM is one WebAssembly memory of at most 4 GiB, which also holds the engine's state)`,
    );
  const cpus = Number(v.cpus ?? "1");
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_HARTS)
    throw new UsageError(`${cmd}: --cpus ${v.cpus}: give a number from 1 to ${MAX_HARTS}`);
  const threads = v["vcpu-threads"];
  if (threads !== undefined && threads !== "on" && threads !== "off")
    throw new UsageError(`${cmd}: --vcpu-threads ${threads}: give on or off`);
  const engine = parseEngine(cmd, v.engine);
  const hv = v.hypervisor ?? DEFAULT_HYPERVISOR;
  if (hv !== "on" && hv !== "off")
    throw new UsageError(`${cmd}: --hypervisor ${v.hypervisor}: give on or off (the RISC-V H extension)`);
  if (needKernel && !v.kernel)
    throw new UsageError(`${cmd}: give the kernel to boot with --kernel FILE (see 'typevisor ${cmd} --help')`);
  if (v.initrd && !v.kernel)
    throw new UsageError(`${cmd}: --initrd needs --kernel too (the initramfs is placed after the kernel)`);
  const kernel = v.kernel ? readInput(cmd, "kernel", v.kernel, "--kernel") : undefined;
  const initrd = v.initrd ? readInput(cmd, "initramfs", v.initrd, "--initrd") : undefined;
  const bios = v.bios ? readInput(cmd, "firmware", v.bios, "--bios") : undefined;
  const disks = (v.disk ?? []).map((d) => parseDiskSpec(cmd, d));
  const vmName = defaults.vmName ?? v.disk?.[0]?.split(",")[0] ?? v.kernel ?? "typevisor";
  const nics = parseNetFlags(cmd, v.net, defaults.net ?? [], vmName);
  const shares = parseShares(cmd, v.share ?? []);
  const cfg: MachineSpec = {
    memory,
    cpus,
    kernel,
    initrd,
    bios,
    append: v.append ?? DEFAULT_APPEND,
    engine,
    engineOptions: engineOptionsFromEnv(),
    hypervisor: hv === "on",
    ...(threads ? { vcpuThreads: threads === "on" } : {}),
    disks,
    nics,
    shares,
  };
  const problem = virtioSlotProblem(cfg);
  if (problem) throw new UsageError(`${cmd}: ${problem}`);
  if (kernel) {
    try {
      planVirtBoot(memory, kernel, initrd, bios);
    } catch (e) {
      throw asUsageError(cmd, e);
    }
  }
  return cfg;
}

function asUsageError(cmd: string, e: unknown): unknown {
  if (
    e instanceof KernelImageError ||
    e instanceof ElfError ||
    e instanceof ElfLoadError ||
    e instanceof MachineBuildError
  ) {
    return new UsageError(`${cmd}: ${e.message}`);
  }
  return e;
}

export function formatStats(s: VmStats): string {
  const lines = [
    "--- typevisor stats ---",
    `instructions retired: ${s.instructions}`,
    `run time: ${s.wallSeconds.toFixed(2)} s (${s.mips.toFixed(1)} MIPS)`,
    `reboots: ${s.reboots}`,
    `VMM exits: ${Object.entries(s.exits)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
    "SBI calls (built-in firmware):",
    ...Object.entries(s.sbiCalls)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `  ${k}: ${n}`),
  ];
  const kv = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none";
  lines.push(`exceptions by cause: ${kv(s.exceptions)}`);
  lines.push(`interrupts by cause: ${kv(s.interrupts)}`);
  lines.push("emulated privileged operations (lecture classes):");
  lines.push(`  privileged: ${kv(s.emulated.privileged)}`);
  lines.push(`  control-sensitive: ${kv(s.emulated.controlSensitive)}`);
  lines.push(`  behaviour-sensitive: ${kv(s.emulated.behaviourSensitive)}`);
  for (const v of s.vcpus ?? []) {
    lines.push(
      `vCPU ${v.hart}: ${v.instructions} instructions, running ${v.runningSeconds.toFixed(2)} s, waiting ${v.waitingSeconds.toFixed(2)} s, MMIO ${v.mmio}, exits ${kv(v.exits)}`,
    );
  }
  lines.push(`engine: ${s.engine}`);
  // The translators' counters summed over every hart and boot (per-hart numbers would mostly show
  // that hart 0 does the work; the sum answers "how much ran as WebAssembly").
  if (s.dbt) lines.push(formatDbtStats(s.dbt));
  if (s.hypervisor) {
    const h = s.hypervisor;
    lines.push(
      `hypervisor extension: world switches ${h.vmEntries} entries / ${h.vmExits} exits, G-stage (guest-page) faults ${h.guestPageFaults}, virtual-instruction traps ${h.virtualInsns}`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Where `run` processes meet to share a virtual switch: a private directory per user (the
 * runtime directory when there is one), holding one socket per switch name.
 */
function switchDirectory(): string {
  const runtime = process.env["XDG_RUNTIME_DIR"];
  const base =
    runtime && runtime.startsWith("/")
      ? join(runtime, "typevisor")
      : join(tmpdir(), `typevisor-${process.getuid?.() ?? "user"}`);
  const dir = join(base, "switches");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** What `run` does around the VM's life: restore a snapshot into it, take one when it stops. */
export interface RunHooks {
  /** After the machine is built, before it starts (run --restore). */
  beforeStart?: (machine: VirtMachine) => void;
  /** beforeStart replaces RAM: the machine skips loading the kernel. */
  restoring?: boolean;
  /** After the VM stopped, before its disks are closed (run --snapshot-on-exit). */
  beforeClose?: (machine: VirtMachine, exit: VmExit) => Promise<void>;
}

/** machine.run() with `hook` between the VM's end and the closing of its disks. */
async function runThenClose(
  machine: VirtMachine,
  hook: (machine: VirtMachine, exit: VmExit) => Promise<void>,
): Promise<VmExit> {
  const exit = await machine.vm.start();
  const notes: string[] = [];
  try {
    await hook(machine, exit);
  } catch (e) {
    notes.push((e as Error).message);
  }
  try {
    await machine.close();
  } catch (e) {
    notes.push((e as Error).message);
  }
  if (notes.length === 0) return exit;
  return { ...exit, status: exit.status || 1, message: [exit.message, ...notes].filter(Boolean).join(" ") };
}

/**
 * Boots `spec` with the terminal as console (through `wrap`, e.g. start's --cmd output filter) until
 * the guest stops, Ctrl-A x or SIGINT/SIGTERM; build errors become usage errors.
 */
export async function runOnTerminal(
  cmd: string,
  spec: MachineSpec,
  wrap?: (terminal: CharBackend) => CharBackend,
  hooks: RunHooks = {},
): Promise<{ exit: VmExit; vm: Vm }> {
  setEngineTiering(false); // a boot is mostly run-once code: Liftoff only (src/dbt/WasmTiering.ts)
  setEngineCompiler();
  let machine: VirtMachine | undefined;
  const terminal = new TerminalBackend({ onQuit: () => machine?.vm.stop() });
  try {
    machine = await buildVirtMachine(spec, {
      restoring: hooks.restoring,
      console: wrap ? wrap(terminal) : terminal,
      consoleSize: process.stdout.isTTY ? { cols: process.stdout.columns, rows: process.stdout.rows } : undefined,
      backends: nodeBackends({
        openSwitch: (name) => SocketSwitchPort.open(join(switchDirectory(), `${name}.sock`)),
      }),
    });
  } catch (e) {
    await terminal.close();
    throw asUsageError(cmd, e);
  }
  const vm = machine.vm;
  if (hooks.beforeStart) {
    try {
      hooks.beforeStart(machine);
    } catch (e) {
      await machine.close().catch(() => {});
      await terminal.close();
      throw e;
    }
  }
  const onSignal = () => vm.stop();
  // The host terminal's new size goes to hvc0 (the guest copies it to its serial console).
  const onResize = () => vm.board.hvc?.resize(process.stdout.columns, process.stdout.rows);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.stdout.on("resize", onResize);
  const exit = hooks.beforeClose ? await runThenClose(machine, hooks.beforeClose) : await machine.run();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.stdout.off("resize", onResize);
  vm.board.uart.flushTx();
  await terminal.close();
  return { exit, vm };
}

const usage = `Usage: typevisor run --arch riscv64 --kernel K [--initrd I] [--append "..."] [--disk FILE[,ro][,overlay]]...
                     [--memory 512M] [--cpus 1] [--bios FILE] [--engine interp|dbt] [--net ...]... [--stats]
                     [--snapshot-on-exit FILE [--snapshot-compress]]
       typevisor run --restore FILE [--restore-eager] [--engine E] [--net ...]... [--vcpu-threads on|off] [--cpus N] [--snapshot-on-exit FILE] [--stats]

Boots a virtual machine on the RISC-V virt board (QEMU virt's memory map) with the serial console
on this terminal. The guest's poweroff ends Typevisor with its status (0); reboot restarts the VM;
a guest kernel panic ends it with status 1. By default Typevisor itself is the SBI firmware and the
kernel starts in S-mode; --bios runs a real M-mode firmware such as OpenSBI instead.

${MACHINE_FLAGS_USAGE}
  --stats                  print instructions, exits, SBI calls, emulated operations and (dbt)
                           the translator's statistics at exit
  --snapshot-on-exit FILE  when the VM is stopped (Ctrl-A x, SIGINT, SIGTERM), save a snapshot of it
                           to FILE (docs/SNAPSHOTS.md); --snapshot-compress deflates its RAM pages
  --restore FILE           resume the VM saved in snapshot FILE instead of booting (the machine and
                           its disks come from the snapshot; only --engine, --net and
                           --vcpu-threads may be given, and --cpus only as the snapshot's).
                           RAM pages are read from FILE when the guest first touches them;
                           --restore-eager reads them all first

Example:
  typevisor run --kernel vmlinux-6.12-riscv64 --initrd initrd.img --memory 512M --net user,hostfwd=tcp::8080-:80`;

/** Machine flags `run --restore` accepts: the rest of the machine comes from the snapshot. */
const RESTORE_OVERRIDES = new Set(["engine", "net", "vcpu-threads", "cpus"]);

/** The machine `run --restore FILE` builds: the snapshot's, with --engine and --net overriding. */
function restoreSpec(values: MachineValues, path: string): MachineSpec {
  for (const k of Object.keys(machineOptions)) {
    if (values[k as keyof MachineValues] !== undefined && !RESTORE_OVERRIDES.has(k))
      throw new UsageError(
        `run: --${k} cannot be combined with --restore: the snapshot fixes the machine (only --engine, --net and --vcpu-threads may change; --cpus may only repeat the snapshot's)`,
      );
  }
  try {
    const spec = snapshotSpec(readSnapshotHeader(path), path);
    // The snapshot's vCPU count is the machine's, as in Firecracker (its snapshot load takes no
    // machine configuration) and QEMU (-smp must match the source's): its harts are in the file.
    if (values.cpus !== undefined && Number(values.cpus) !== spec.cpus)
      throw new UsageError(
        `run: --cpus ${values.cpus}: snapshot '${path}' is of a machine with ${spec.cpus} vCPU(s), and a restore keeps them (omit --cpus, or give --cpus ${spec.cpus})`,
      );
    spec.engineOptions = engineOptionsFromEnv();
    if (values.engine !== undefined) spec.engine = parseEngine("run", values.engine);
    const threads = values["vcpu-threads"];
    if (threads !== undefined) {
      if (threads !== "on" && threads !== "off") throw new UsageError(`run: --vcpu-threads ${threads}: give on or off`);
      spec.vcpuThreads = threads === "on";
    }
    if (values.net !== undefined) {
      const nics = parseNetFlags("run", values.net, [], path);
      if (nics.length !== spec.nics.length)
        throw new UsageError(
          `run: the snapshot's machine has ${spec.nics.length} NIC(s); give as many --net flags (${nics.length} given) or none`,
        );
      spec.nics = nics.map((n, i) => ({ ...n, mac: spec.nics[i]!.mac }));
    }
    return spec;
  } catch (e) {
    if (e instanceof SnapshotError) throw new UsageError(`run: ${e.message}`);
    throw e;
  }
}

export const command: Command = {
  name: "run",
  summary: "boot a virtual machine (RISC-V virt board)",
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      "run",
      argv,
      {
        ...machineOptions,
        stats: { type: "boolean" },
        restore: { type: "string" },
        "restore-eager": { type: "boolean" },
        "snapshot-on-exit": { type: "string" },
        "snapshot-compress": { type: "boolean" },
      },
      false,
    );
    const restorePath = values.restore;
    if (values["restore-eager"] && restorePath === undefined)
      throw new UsageError("run: --restore-eager goes with --restore FILE");
    const spec = restorePath !== undefined ? restoreSpec(values, restorePath) : readMachineSpec("run", values, true);
    // --stats: translated code also counts its TLB-mirror lookups, for the hit rate (src/dbt/Dbt.ts)
    if (values.stats) spec.engineOptions = { ...spec.engineOptions, countMirror: true };
    const snapPath = values["snapshot-on-exit"];
    const hooks: RunHooks = {};
    if (restorePath !== undefined) {
      hooks.restoring = true;
      hooks.beforeStart = (m) => {
        try {
          const r = restoreSnapshot(m.vm, restorePath, { eager: values["restore-eager"] === true });
          if (values.stats)
            process.stderr.write(
              r.lazyPages !== undefined
                ? `typevisor: restored in ${r.ms.toFixed(1)} ms; ${r.lazyPages} RAM pages are loaded on first touch\n`
                : `typevisor: restored ${r.loadedPages} RAM pages in ${r.ms.toFixed(1)} ms\n`,
            );
        } catch (e) {
          if (e instanceof SnapshotError) throw new UsageError(`run: ${e.message}`);
          throw e;
        }
      };
    }
    if (snapPath !== undefined) {
      hooks.beforeClose = async (m, exit) => {
        if (exit.reason !== "stopped") {
          process.stderr.write(
            `typevisor: no snapshot written: the VM ended (${exit.reason}) instead of being stopped\n`,
          );
          return;
        }
        const info = await takeSnapshot(m.vm, spec, snapPath, { compress: values["snapshot-compress"] === true });
        process.stderr.write(
          `typevisor: snapshot written to ${snapPath} (${(info.bytes / 1048576).toFixed(1)} MiB, ${info.storedPages} of ${info.pages} RAM pages stored, ${info.pausedMs.toFixed(0)} ms)\n`,
        );
      };
    }
    const { exit, vm } = await runOnTerminal("run", spec, undefined, hooks);
    if (values.stats) process.stderr.write(formatStats(vm.stats()));
    if (values.stats && restorePath !== undefined && values["restore-eager"] !== true)
      process.stderr.write(`typevisor: ${vm.pagedIn} RAM pages were loaded on first touch\n`);
    if (exit.message) process.stderr.write(`typevisor: ${exit.message}\n`);
    return exit.status;
  },
};
