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
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  ftruncateSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import type { Command } from "../Command.js";
import { parseCommandArgs, parseSize, UsageError } from "../Command.js";
import { AptUnavailableError, DEFAULT_IMAGE, ensureImage, ImageError } from "../../images/index.js";
import { findImage } from "../../images/Catalogue.js";
import { LockFile } from "../../images/ImageCache.js";
import { readMachineSpec, runOnTerminal } from "./run.js";
import { CIDATA_TAG } from "../../images/Init.js";
import { CmdOutputFilter } from "../CmdOutput.js";
import { DEFAULT_ENGINE } from "../../dbt/Engine.js";

const ROOTDISK_IMAGE = "debian-riscv64-rootfs";

const usage = `Usage: typevisor start [NAME] [--cmd "COMMAND"] [--net ...]... [--share DIR]... [--append "ARGS"] [--memory 512M]
                       [--cpus 1] [--engine interp|dbt] [--disk-size SIZE] [--ephemeral] [--verbose] [--quiet]

Boots image NAME (default ${DEFAULT_IMAGE}) on this terminal, pulling it first if it is not in the
cache (see 'typevisor image ls'). ${DEFAULT_IMAGE} boots to a busybox shell with its data disk
(/dev/vda) on /mnt; ${ROOTDISK_IMAGE} boots Debian (systemd, apt, sshd) from its root disk
and logs root in on the console. The disk is your own copy,
\${XDG_DATA_HOME:-~/.local/share}/typevisor/disks/NAME.ext4, made on first start and kept across
starts (the cached image itself is never modified). The guest gets a NIC with user-mode networking
(passt) and configures it by DHCP; 'poweroff' ends the VM, 'reboot' restarts it. Root disk images
accept ssh logins as root with the keys in ~/.ssh/*.pub (add --net user,hostfwd=tcp::2222-:22, then
ssh -p 2222 root@127.0.0.1).

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
  --disk-size SIZE  grow your copy of the disk to SIZE (e.g. 8G; disks only grow): a root disk's
                    file system follows at boot (systemd-growfs)
  --ephemeral       boot the image's disk through a throwaway overlay: nothing written is kept
  --verbose         with --cmd: also show the kernel's and init's messages (and the frame lines)
  --quiet           no pull progress

Examples:
  typevisor start
  typevisor start --cmd 'wget -qO- http://10.0.2.2:8000/' --net user
  typevisor start --net user,hostfwd=tcp::8080-:80
  typevisor start ${ROOTDISK_IMAGE} --disk-size 8G --net user,hostfwd=tcp::2222-:22

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
      "disk-size": { type: "string" },
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
    if (known && known.recipe === "rootfs") {
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
    const diskSize = values["disk-size"] === undefined ? undefined : parseSize(values["disk-size"], "--disk-size");
    if (diskSize !== undefined && (diskSize % 512 !== 0 || diskSize > 2 ** 44))
      throw new UsageError(
        `start: --disk-size ${values["disk-size"]}: give a size in whole 512-byte sectors, at most 16T`,
      );
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
    const rootDisk = img.manifest.recipe === "linux-rootdisk";
    if (!values.ephemeral && lock.tryAcquire()) {
      locked = true;
      if (!existsSync(copy)) {
        sparseCopy(img.disk, `${copy}.tmp`);
        renameSync(`${copy}.tmp`, copy);
        if (!values.quiet)
          process.stderr.write(
            `typevisor: your ${rootDisk ? "root disk" : "data disk"} is ${copy} (/dev/vda${rootDisk ? "" : ", mounted on /mnt"})\n`,
          );
      }
      if (diskSize !== undefined) growDisk(copy, diskSize, values.quiet);
      diskArg = copy;
    } else if (diskSize !== undefined) {
      // A throwaway copy of the size asked for (the overlay format keeps its base's size).
      throwaway = join(tmpdir(), `typevisor-${process.pid}-${name}.ext4`);
      sparseCopy(img.disk, throwaway);
      growDisk(throwaway, diskSize, true);
      diskArg = throwaway;
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
    // Root disk images get the host user's ssh public keys (~/.ssh/*.pub) through a read-only 9p
    // share that the initramfs reads at boot (as Lima's cidata disk carries them).
    const cidata = rootDisk ? sshKeyShare(values.quiet) : undefined;
    const append = [
      img.manifest.cmdline ?? "console=ttyS0",
      // Only the command's output is shown: keep the kernel's (and systemd's) messages from
      // interleaving with it.
      filtered ? (rootDisk ? "quiet systemd.show_status=false" : "quiet") : "",
      size,
      values.cmd !== undefined ? `tv.cmd="${values.cmd}"` : "",
      values.append ?? "",
    ]
      .filter((s) => s.length > 0)
      .join(" ");
    try {
      const spec = readMachineSpec(
        "start",
        {
          ...machineFlags,
          kernel: img.kernel,
          initrd: img.initrd,
          disk: [diskArg],
          append,
          share: [...(values.share ?? []), ...(cidata ? [`${cidata}:${CIDATA_TAG},ro`] : [])],
        },
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
      if (cidata) rmSync(cidata, { recursive: true, force: true });
      if (locked) lock.release();
    }
  },
};

/** Grows a disk image file to `size` bytes (sparse); refuses to shrink it. */
function growDisk(path: string, size: number, quiet: boolean): void {
  const now = statSync(path).size;
  if (size < now)
    throw new UsageError(
      `start: --disk-size ${size} bytes is smaller than ${path} (${now} bytes): disks only grow (delete the file to start afresh)`,
    );
  if (size === now) return;
  truncateSync(path, size);
  if (!quiet) process.stderr.write(`typevisor: ${path} grown to ${size / 2 ** 20} MiB\n`);
}

/** A private directory holding authorized_keys made of ~/.ssh/*.pub, or undefined if there are none. */
function sshKeyShare(quiet: boolean): string | undefined {
  const dir = join(homedir(), ".ssh");
  let keys = "";
  try {
    for (const f of readdirSync(dir).sort())
      if (f.endsWith(".pub")) keys += readFileSync(join(dir, f), "utf8").trim() + "\n";
  } catch {
    // no ~/.ssh: no keys
  }
  if (!keys) {
    if (!quiet)
      process.stderr.write(
        `typevisor: no ~/.ssh/*.pub keys, so ssh into the guest will not accept you (ssh-keygen makes one)\n`,
      );
    return undefined;
  }
  const share = mkdtempSync(join(tmpdir(), "typevisor-cidata-"));
  writeFileSync(join(share, "authorized_keys"), keys);
  return share;
}

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
