// `typevisor start` (what `npm start` runs): make sure the default image is pulled and intact,
// then boot it to a shell with `typevisor run`.
//
// The data disk is booted through a copy-on-write overlay, so the cached base image is never
// modified (it stays verifiable, and many VMs can share it). The overlay is the user's data and
// persists across starts in $XDG_DATA_HOME/typevisor/disks/ (default ~/.local/share), named after
// the base disk's sha256, so a re-pulled image (a new base) starts a fresh overlay instead of
// pairing old changes with a different filesystem. If another running VM holds that overlay, or
// with --ephemeral, a throwaway overlay is used and deleted at exit.
import { mkdirSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "../Command.js";
import { parseCommandArgs, UsageError } from "../Command.js";
import { AptUnavailableError, DEFAULT_IMAGE, ensureImage, ImageError } from "../../images/index.js";
import { LockFile } from "../../images/ImageCache.js";
import { command as run } from "./run.js";

const usage = `Usage: typevisor start [NAME] [--cmd "COMMAND"] [--append "ARGS"] [--memory 512M] [--cpus 1] [--ephemeral] [--quiet]

Boots image NAME (default ${DEFAULT_IMAGE}) to a busybox shell on this terminal, pulling it first
if it is not in the cache (see 'typevisor image'). The data disk appears as /dev/vda on /mnt; your
changes go to an overlay in \${XDG_DATA_HOME:-~/.local/share}/typevisor/disks/ and persist across
starts (the cached image itself is never modified).

Options:
  --cmd "COMMAND"   run COMMAND in the guest instead of a shell, print its output, power off
                    (kernel parameter tv.cmd; output is framed by TYPEVISOR-CMD-BEGIN/END lines)
  --append "ARGS"   extra kernel command-line arguments (e.g. tv.poweroff=1)
  --memory SIZE     guest RAM (default 512M)
  --cpus N          harts (default 1)
  --ephemeral       use a throwaway overlay: nothing written to the disk is kept
  --quiet           no pull progress

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
      ephemeral: { type: "boolean", default: false },
      quiet: { type: "boolean", short: "q", default: false },
    });
    if (positionals.length > 1) throw new UsageError("start: give at most one image name");
    const name = positionals[0] ?? DEFAULT_IMAGE;
    if (values.cmd !== undefined && values.cmd.includes('"')) {
      throw new UsageError("start: --cmd cannot contain double quotes (it is passed as tv.cmd=\"...\" on the kernel command line); use single quotes inside");
    }
    let img;
    try {
      img = await ensureImage(name, { quiet: values.quiet });
    } catch (e) {
      if (e instanceof AptUnavailableError || e instanceof ImageError) throw new UsageError(`start: ${e.message}`, 1);
      throw e;
    }

    if (img.manifest.arch !== "riscv64") {
      throw new UsageError(`start: image ${name} is for ${img.manifest.arch}; Typevisor's engine boots riscv64 guests only so far`, 1);
    }

    // Pick the overlay: the persistent one unless another live VM holds it.
    const disks = join(dataHome(), "disks");
    mkdirSync(disks, { recursive: true });
    const diskSha = img.manifest.artifacts.disk?.sha256.slice(0, 12) ?? "disk";
    const persistent = join(disks, `${name}-${diskSha}.overlay`);
    const lock = new LockFile(`${persistent}.lock`);
    let overlay = persistent;
    let throwaway = false;
    if (values.ephemeral || !lock.tryAcquire()) {
      if (!values.ephemeral && !values.quiet) {
        process.stderr.write(`typevisor: ${persistent} is in use by another VM (pid ${lock.owner()}); this VM's disk changes will not be kept\n`);
      }
      overlay = join(tmpdir(), `typevisor-${process.pid}-${name}.overlay`);
      throwaway = true;
    }
    const append = [img.manifest.cmdline ?? "console=ttyS0", values.cmd !== undefined ? `tv.cmd="${values.cmd}"` : "", values.append ?? ""]
      .filter((s) => s.length > 0)
      .join(" ");
    const args = ["--arch", "riscv64", "--kernel", img.kernel, "--initrd", img.initrd, "--disk", `${img.disk},overlay=${overlay}`, "--append", append];
    if (values.memory) args.push("--memory", values.memory);
    if (values.cpus) args.push("--cpus", values.cpus);
    try {
      return await run.run(args);
    } finally {
      if (throwaway) rmSync(overlay, { force: true });
      else lock.release();
    }
  },
};
