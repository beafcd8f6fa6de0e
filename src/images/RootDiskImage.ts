// The "linux-rootdisk" recipe: a bootable Debian system on an ext4 root disk. The kernel and
// initramfs are the linux-initramfs recipe's (Debian's kernel, busybox, the virtio modules); the
// initramfs /init, given root=/dev/vda, mounts the disk and switches to Debian's /sbin/init
// (systemd). The disk holds Debian's minimal system: every Priority: required package plus the
// catalogue's extras, with their Depends/Pre-Depends closure as apt computes it.
//
// Assembly, in debootstrap's two stages, with no riscv64 code on the host:
//  1. host: download the signed packages, unpack them with dpkg-deb into a tree, record them in
//     dpkg's database as unpacked (DpkgDatabase.ts), write the configuration files and ssh host
//     keys (RootDiskConfig.ts), and make the ext4 image with mke2fs -d;
//  2. guest: boot the image's kernel and initramfs with the disk attached and run, in a chroot on
//     it, the preinst scripts and `dpkg --configure -a` (GuestStage.ts). Then e2fsck on the host
//     checks the file system the guest left.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { AptRoot } from "./AptRoot.js";
import type { ImageSpec } from "./Catalogue.js";
import { DpkgDatabase } from "./DpkgDatabase.js";
import { runGuestStage } from "./GuestStage.js";
import {
  assembleLinux,
  AssemblyError,
  DISK_FILE,
  hostTool,
  INITRD_FILE,
  KERNEL_FILE,
  LINUX_RECIPE_VERSION,
} from "./LinuxImage.js";
import { artifactOf, type Manifest } from "./Manifest.js";
import type { Progress } from "./Progress.js";
import { ROOT_LABEL, STAGE_DIR, STAGE_OK, writeRootConfig } from "./RootDiskConfig.js";

/**
 * Bumped whenever the assembled disk changes for the same packages (2: own console getty, masks
 * after configuration, systemd-update-done, Acquire::Languages none). The manifest records
 * ROOTDISK_RECIPE_VERSION * 1000 + LINUX_RECIPE_VERSION: a new kernel/initramfs recipe rebuilds it too.
 */
export const ROOTDISK_RECIPE_VERSION = 2;

/** Packages of the suite's index with Priority: required (the set debootstrap's minbase installs). */
export function requiredPackages(apt: AptRoot): string[] {
  const lists = join(apt.dir, "var/lib/apt/lists");
  const out = new Set<string>();
  for (const f of readdirSync(lists)) {
    if (!f.endsWith("_Packages")) continue;
    let name: string | undefined;
    for (const line of readFileSync(join(lists, f), "utf8").split("\n")) {
      if (line.startsWith("Package: ")) name = line.slice(9).trim();
      else if (line === "Priority: required" && name) out.add(name);
    }
  }
  return [...out].sort();
}

export async function assembleRootDisk(
  spec: ImageSpec,
  apt: AptRoot,
  out: string,
  progress: Progress,
): Promise<Manifest> {
  // The tree must hold the packages' owners (root, and e.g. group shadow for chage), which tar can
  // only restore as root; mke2fs -d copies them into the image. Unprivileged builds would need the
  // owners fixed in the image afterwards (debugfs), which is not done yet.
  if (process.getuid?.() !== 0)
    throw new AssemblyError(
      `image ${spec.name} must be built as root for now (its files must keep their Debian owners); run 'sudo typevisor image pull ${spec.name}' with TYPEVISOR_CACHE pointing at your cache`,
    );
  const linux = await assembleLinux(spec, apt, out, progress);
  rmSync(join(out, DISK_FILE), { force: true });

  const required = requiredPackages(apt);
  if (required.length === 0) throw new AssemblyError(`no Priority: required packages in ${apt.dir}'s package lists`);
  const wanted = [...required, ...(spec.rootPackages ?? [])];
  const sim = await apt.run(["install", "-s", "--no-install-recommends", "-q", ...wanted]);
  const names = [...sim.matchAll(/^Inst (\S+) \(/gm)].map((m) => m[1]!);
  const pkgs = await apt.showMany(names);

  const root = join(out, ".root");
  const db = new DpkgDatabase(root);
  const preinst: { infoName: string; name: string; arch: string }[] = [];
  progress.begin(`unpack ${pkgs.length} packages`);
  for (const [i, p] of pkgs.entries()) {
    const deb = await apt.download(p, progress);
    const u = db.unpack(deb);
    if (u.hasPreinst) preinst.push(u);
    progress.update((i + 1) / pkgs.length, p.name);
  }
  db.finish();
  progress.end();
  // base-passwd's preinst makes /etc/passwd and /etc/group, which the others' scripts use.
  preinst.sort((a, b) => (a.name === "base-passwd" ? -1 : b.name === "base-passwd" ? 1 : 0));
  writeRootConfig(root, {
    imageName: spec.name,
    mirror: apt.config.mirror,
    suite: spec.suite,
    components: spec.components,
    preinst: preinst.map((p) => `${p.infoName}/${p.name}/${p.arch}`),
  });

  const disk = join(out, DISK_FILE);
  const mib = spec.diskMiB ?? 2048;
  progress.begin(`mke2fs root disk (${mib} MiB ext4)`);
  hostTool("mke2fs", ["-q", "-t", "ext4", "-L", ROOT_LABEL, "-d", root, disk, `${mib}M`], "e2fsprogs");
  rmSync(root, { recursive: true, force: true });
  progress.end();

  progress.begin("configure packages in a Typevisor guest (dpkg --configure -a)");
  const stage = await runGuestStage(
    {
      kernel: join(out, KERNEL_FILE),
      initrd: join(out, INITRD_FILE),
      disk,
      command: `sh /mnt/${STAGE_DIR}/stage`,
      okMarker: STAGE_OK,
      progressLine: /^Setting up /,
      logFile: join(dirname(out), `.${spec.name}.build-vm.log`),
    },
    progress,
  );
  progress.end(`${Math.round(stage.seconds)} s`);
  // The guest unmounted the disk cleanly; e2fsck -fn proves it (and that nothing is damaged).
  hostTool("e2fsck", ["-fn", disk], "e2fsprogs");
  if (existsSync(join(out, ".root"))) rmSync(join(out, ".root"), { recursive: true, force: true });

  return {
    ...linux,
    recipeVersion: ROOTDISK_RECIPE_VERSION * 1000 + LINUX_RECIPE_VERSION,
    createdAt: new Date().toISOString(),
    packages: [
      ...linux.packages,
      ...pkgs.map((p) => ({ name: p.name, version: p.version, arch: p.arch, sha256: p.sha256, size: p.size })),
    ],
    artifacts: { ...linux.artifacts, disk: await artifactOf(out, DISK_FILE) },
    cmdline: `${linux.cmdline ?? "console=ttyS0"} root=/dev/vda`,
    configureSeconds: Math.round(stage.seconds),
  };
}
