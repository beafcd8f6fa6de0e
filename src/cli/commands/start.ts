// `typevisor start` (what `npm start` runs): make sure the image is pulled and intact, then boot
// it to a shell with `typevisor run`.
//
// The cached image is never modified (it stays verifiable and shareable). The data disk the user
// writes to is a per-user copy of the image's disk in $XDG_DATA_HOME/typevisor/disks/NAME.ext4
// (default ~/.local/share), made (sparsely) on first start and kept across starts and re-pulls: it
// is an independent ext4 filesystem, so a rebuilt image does not invalidate it. If another running
// VM holds that copy, or with --ephemeral, the VM instead boots the cached disk through a throwaway
// copy-on-write overlay, deleted at exit.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  ftruncateSync,
  writeSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import type { Command } from "../Command.js";
import { parseCommandArgs, UsageError } from "../Command.js";
import { AptUnavailableError, DEFAULT_IMAGE, ensureImage, ImageError } from "../../images/index.js";
import { findImage } from "../../images/Catalogue.js";
import { LockFile } from "../../images/ImageCache.js";
import { readMachineSpec, runOnTerminal } from "./run.js";
import { CmdOutputFilter } from "../CmdOutput.js";
import { DEFAULT_ENGINE } from "../../dbt/Engine.js";

const usage = `Usage: typevisor start [NAME] [--cmd "COMMAND"] [--net ...]... [--share DIR]... [--append "ARGS"] [--memory 512M]
                       [--cpus 1] [--engine interp|dbt] [--ephemeral] [--verbose] [--quiet]

Boots image NAME (default ${DEFAULT_IMAGE}) to a busybox shell on this terminal, pulling it first
if it is not in the cache (see 'typevisor image'). The data disk appears as /dev/vda on /mnt: it is
your own copy, \${XDG_DATA_HOME:-~/.local/share}/typevisor/disks/NAME.ext4, made on first start and
kept across starts (the cached image itself is never modified). The guest gets a NIC with user-mode
networking (passt) and configures it by DHCP; 'poweroff' ends the VM, 'reboot' restarts it.

Options:
  --cmd "COMMAND"   run COMMAND in the guest instead of a shell, print its output, power off; the
                    exit status is COMMAND's (kernel parameter tv.cmd)
  --net SPEC        the guest's NICs (repeatable; default: --net user): user[,hostfwd=...],
                    switch:NAME, tap:IFNAME or none (see 'typevisor run --help')
  --share DIR[:TAG][,ro]
                    share host directory DIR over virtio-9p, mounted on /mnt/TAG in the guest
                    (repeatable; TAG defaults to DIR's name; ro = read-only)
  --append "ARGS"   extra kernel command-line arguments (e.g. tv.poweroff=1)
  --memory SIZE     guest RAM (default 512M)
  --cpus N          harts (default 1)
  --engine E        CPU engine: interp (the interpreter) or dbt (binary translation to
                    WebAssembly); default ${DEFAULT_ENGINE}
  --ephemeral       boot the image's disk through a throwaway overlay: nothing written is kept
  --verbose         with --cmd: also show the kernel's and init's messages (and the frame lines)
  --quiet           no pull progress

Examples:
  typevisor start
  typevisor start --cmd 'wget -qO- http://10.0.2.2:8000/' --net user
  typevisor start --net user,hostfwd=tcp::8080-:80

Without apt or the Debian archive, boot your own kernel and initramfs with 'typevisor run'.`;

function dataHome(): string {
  const env = process.env;
  if (env["TYPEVISOR_DATA"]) return env["TYPEVISOR_DATA"];
  const xdg = env["XDG_DATA_HOME"];
  return join(xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".local/share"), "typevisor");
}

export const command: Command = {
  name: "start",
  summary: "boot the default image to a shell (pulls it first if needed)",
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs("start", argv, {
      cmd: { type: "string" },
      append: { type: "string" },
      memory: { type: "string" },
      cpus: { type: "string" },
      engine: { type: "string" },
      net: { type: "string", multiple: true },
      share: { type: "string", multiple: true },
      ephemeral: { type: "boolean", default: false },
      verbose: { type: "boolean", short: "v", default: false },
      quiet: { type: "boolean", short: "q", default: false },
    });
    if (positionals.length > 1) throw new UsageError("start: give at most one image name");
    const name = positionals[0] ?? DEFAULT_IMAGE;
    // Everything that can be checked without the image is checked before a possibly long pull.
    const known = findImage(name);
    if (known && known.arch !== "riscv64") {
      throw new UsageError(
        `start: image ${name} is for ${known.arch}; Typevisor's engine boots riscv64 guests only so far (try ${DEFAULT_IMAGE})`,
        1,
      );
    }
    if (known && known.recipe !== "linux-initramfs") {
      throw new UsageError(
        `start: image ${name} is a root tree for 'typevisor exec --root', not a bootable image (try ${DEFAULT_IMAGE})`,
        1,
      );
    }
    if (values.cmd !== undefined && values.cmd.includes('"')) {
      throw new UsageError(
        'start: --cmd cannot contain double quotes (it is passed as tv.cmd="..." on the kernel command line); use single quotes inside',
      );
    }
    const machineFlags = {
      memory: values.memory,
      cpus: values.cpus,
      engine: values.engine,
      net: values.net,
      share: values.share,
    };
    // A dry run of the flags (no kernel yet): bad --memory/--net/--engine fail here, not after the pull.
    // The default NIC needs passt; without it the first start still boots, offline, and says why.
    let defaultNet = ["user"];
    if (values.net === undefined && spawnSync("passt", ["--version"], { stdio: "ignore" }).error) {
      process.stderr.write(
        "typevisor: passt is not installed, so the guest has no network this time (apt-get install passt; --net none hides this note)\n",
      );
      defaultNet = ["none"];
    }
    readMachineSpec("start", machineFlags, false, { net: defaultNet, vmName: name });
    let img;
    try {
      img = await ensureImage(name, { quiet: values.quiet });
    } catch (e) {
      if (e instanceof AptUnavailableError || e instanceof ImageError) throw new UsageError(`start: ${e.message}`, 1);
      throw e;
    }
    if (img.manifest.arch !== "riscv64") {
      throw new UsageError(
        `start: image ${name} is for ${img.manifest.arch}; Typevisor's engine boots riscv64 guests only so far`,
        1,
      );
    }

    // The user's own copy of the data disk, unless another live VM holds it.
    const disks = join(dataHome(), "disks");
    mkdirSync(disks, { recursive: true });
    const copy = join(disks, `${name}.ext4`);
    const lock = new LockFile(`${copy}.lock`);
    let diskArg: string;
    let throwaway: string | undefined;
    let locked = false;
    if (!values.ephemeral && lock.tryAcquire()) {
      locked = true;
      if (!existsSync(copy)) {
        sparseCopy(img.disk, `${copy}.tmp`);
        renameSync(`${copy}.tmp`, copy);
        if (!values.quiet) process.stderr.write(`typevisor: your data disk is ${copy} (/dev/vda, mounted on /mnt)\n`);
      }
      diskArg = copy;
    } else {
      if (!values.ephemeral && !values.quiet) {
        process.stderr.write(
          `typevisor: ${copy} is in use by another VM (pid ${lock.owner()}); this VM's disk changes will not be kept\n`,
        );
      }
      throwaway = join(tmpdir(), `typevisor-${process.pid}-${name}.overlay`);
      diskArg = `${img.disk},overlay=${throwaway}`;
    }
    const filtered = values.cmd !== undefined && !values.verbose;
    const size =
      process.stdout.isTTY && !filtered ? `tv.rows=${process.stdout.rows} tv.cols=${process.stdout.columns}` : "";
    const append = [
      img.manifest.cmdline ?? "console=ttyS0",
      // Only the command's output is shown: keep the kernel's messages from interleaving with it.
      filtered ? "quiet" : "",
      size,
      values.cmd !== undefined ? `tv.cmd="${values.cmd}"` : "",
      values.append ?? "",
    ]
      .filter((s) => s.length > 0)
      .join(" ");
    try {
      const spec = readMachineSpec(
        "start",
        { ...machineFlags, kernel: img.kernel, initrd: img.initrd, disk: [diskArg], append },
        true,
        { net: defaultNet, vmName: name },
      );
      let filter: CmdOutputFilter | undefined;
      const { exit } = await runOnTerminal(
        "start",
        spec,
        filtered ? (t) => (filter = new CmdOutputFilter(t)) : undefined,
      );
      if (filter && filter.status !== undefined && exit.reason === "poweroff") return filter.status;
      if (filter && exit.reason !== "stopped") {
        // The command never ran to its end: show what the guest said, so the failure is visible.
        process.stderr.write(
          `typevisor: the guest ended before the command finished; its console said:\n${filter.bootLog().slice(-4000)}\n`,
        );
      }
      if (exit.message) process.stderr.write(`typevisor: ${exit.message}\n`);
      return filter ? (exit.status === 0 ? 1 : exit.status) : exit.status;
    } finally {
      if (throwaway) rmSync(throwaway, { force: true });
      if (locked) lock.release();
    }
  },
};

/** Copies a disk image leaving all-zero blocks as holes, so a mostly empty 64 MiB disk costs little. */
export function sparseCopy(from: string, to: string): void {
  const src = openSync(from, "r");
  const dst = openSync(to, "w");
  try {
    const buf = Buffer.alloc(1 << 16);
    let pos = 0;
    for (;;) {
      const n = readSync(src, buf, 0, buf.length, pos);
      if (n === 0) break;
      let zero = true;
      for (let i = 0; i < n; i++)
        if (buf[i] !== 0) {
          zero = false;
          break;
        }
      if (!zero) writeSync(dst, buf, 0, n, pos);
      pos += n;
    }
    ftruncateSync(dst, pos);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}
