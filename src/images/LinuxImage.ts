// The "linux-initramfs" recipe: a bootable guest assembled from Debian's stock kernel package and
// busybox-static, with Typevisor's own initramfs (cpio newc writer, /init, module selection) and
// an ext4 data disk made by mke2fs -d.
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { type AptRoot, dependencyNames, type PackageRecord } from "./AptRoot.js";
import { busyboxApplets } from "./Busybox.js";
import type { ImageSpec } from "./Catalogue.js";
import { CpioWriter } from "./Cpio.js";
import { initScript, PROFILE, UDHCPC_SCRIPT } from "./Init.js";
import { decompressModule, moduleNameOf, readModInfo } from "./KernelModule.js";
import { artifactOf, MANIFEST_FORMAT, type Manifest, type ManifestPackage } from "./Manifest.js";
import { ModulesDep, parseModulesBuiltin } from "./ModulesDep.js";
import type { Progress } from "./Progress.js";

export class AssemblyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssemblyError";
  }
}

/**
 * Bumped whenever the assembled artifacts change for the same packages (2: disk-only modules;
 * 3: NIC-only modules, DHCP at boot, poweroff/reboot by signal to init, terminal size; 4: the
 * DHCP address line on the console; 5: virtio-9p shares mounted on /mnt/TAG).
 */
export const LINUX_RECIPE_VERSION = 5;

/**
 * The initramfs-only image's version: LINUX_RECIPE_VERSION plus changes to the init's interactive
 * shell path, which a root-disk image's init never reaches (it switch_roots before), so that they
 * do not rebuild root disks (a 5 to 60 minute build) for nothing. Recorded in the manifest of an
 * initramfs-only image (root-disk manifests record ROOTDISK_RECIPE_VERSION * 1000 +
 * LINUX_RECIPE_VERSION). +1: the console follows hvc0's size (the host terminal's, after boot).
 */
export const INITRAMFS_RECIPE_VERSION = LINUX_RECIPE_VERSION * 100 + 1;

export const KERNEL_FILE = "kernel";
export const INITRD_FILE = "initrd.cpio";
export const DISK_FILE = "disk.ext4";

/** Runs a host tool, turning "not installed" into an error naming the Debian package to install. */
export function hostTool(
  tool: string,
  args: string[],
  pkg: string,
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Buffer {
  try {
    return execFileSync(tool, args, { ...opts, maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === "ENOENT") throw new AssemblyError(`'${tool}' is not installed: apt-get install ${pkg}`);
    throw new AssemblyError(`${tool} ${args.join(" ")} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** Unpacks a .deb's data into `dir` with the host's dpkg-deb. */
export function unpackDeb(deb: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  hostTool("dpkg-deb", ["-x", deb, dir], "dpkg");
}

function toManifestPackage(p: PackageRecord): ManifestPackage {
  return { name: p.name, version: p.version, arch: p.arch, sha256: p.sha256, size: p.size };
}

/** Checks the kernel file is a boot image for the architecture (Linux boot protocols' header magic). */
export function checkKernelImage(bytes: Uint8Array, arch: string, path: string): void {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (arch === "riscv64") {
    // Documentation/arch/riscv/boot-image-header.rst: magic2 "RSC\x05" at offset 56 (0x38).
    if (b.length < 64 || b.toString("latin1", 56, 60) !== "RSC\x05")
      throw new AssemblyError(`${path} is not a RISC-V Linux Image (no "RSC\\x05" magic at 0x38)`);
  } else if (arch === "amd64") {
    // Documentation/arch/x86/boot.rst: "HdrS" at 0x202.
    if (b.length < 0x206 || b.toString("latin1", 0x202, 0x206) !== "HdrS")
      throw new AssemblyError(`${path} is not an x86 bzImage (no "HdrS" at 0x202)`);
  }
}

function walkModules(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walkModules(dir, r));
    else if (/\.ko(\.(xz|zst|gz))?$/.test(e.name)) out.push(r);
  }
  return out;
}

export interface ModuleSelection {
  /** Dependency table over the shipped modules (uncompressed .ko paths). */
  readonly dep: ModulesDep;
  /** Paths to insmod, in order. */
  readonly load: readonly string[];
  /** Requested names that are built into the kernel. */
  readonly builtin: readonly string[];
  /** Every built-in module name (modules.builtin). */
  readonly builtinSet: ReadonlySet<string>;
  /** Uncompressed module bytes by (uncompressed) path. */
  readonly files: ReadonlyMap<string, Buffer>;
}

/**
 * Picks the modules `names` need from an unpacked /lib/modules/RELEASE tree: reads each module's
 * .modinfo depends= (decompressing .ko.xz), follows them, writes a modules.dep for that set and
 * resolves the load order from it.
 */
export function selectModules(releaseDir: string, names: readonly string[]): ModuleSelection {
  const all = walkModules(releaseDir);
  const index = new Map(all.map((p) => [moduleNameOf(p), p] as const));
  const builtinFile = join(releaseDir, "modules.builtin");
  const builtin = existsSync(builtinFile) ? parseModulesBuiltin(readFileSync(builtinFile, "utf8")) : new Set<string>();
  const files = new Map<string, Buffer>();
  const entries: Array<{ path: string; depends: readonly string[] }> = [];
  const seen = new Set<string>();
  const queue = names.map((n) => n.replace(/-/g, "_"));
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const src = index.get(name);
    if (src === undefined) {
      if (builtin.has(name)) continue;
      throw new AssemblyError(`kernel module '${name}' is neither in ${releaseDir} nor built in (modules.builtin)`);
    }
    const elf = decompressModule(src, readFileSync(join(releaseDir, src)));
    const info = readModInfo(elf, src);
    const path = src.replace(/\.(xz|zst|gz)$/, "");
    files.set(path, elf);
    entries.push({ path, depends: info.depends });
    queue.push(...info.depends);
  }
  const dep = ModulesDep.fromDirectDepends(entries);
  const { load, builtin: skipped } = dep.resolve(names, builtin);
  return { dep, load, builtin: skipped, builtinSet: builtin, files };
}

export async function assembleLinux(spec: ImageSpec, apt: AptRoot, out: string, progress: Progress): Promise<Manifest> {
  if (!spec.kernelPackage || !spec.busyboxPackage)
    throw new AssemblyError(`image ${spec.name}: catalogue entry lacks kernelPackage/busyboxPackage`);
  const meta = await apt.show(spec.kernelPackage);
  const kname = dependencyNames(meta.depends).find((n) => n.startsWith("linux-image-"));
  if (!kname)
    throw new AssemblyError(
      `${meta.name} ${meta.version} depends on no linux-image-* package (Depends: ${meta.depends})`,
    );
  const kpkg = await apt.show(kname);
  const bpkg = await apt.show(spec.busyboxPackage);
  const kdeb = await apt.download(kpkg, progress);
  const bdeb = await apt.download(bpkg, progress);

  const work = join(out, ".work");
  progress.begin(`unpack ${kpkg.name}`);
  unpackDeb(kdeb, join(work, "k"));
  unpackDeb(bdeb, join(work, "b"));
  progress.end();

  progress.begin("assemble initramfs");
  const modBase = [join(work, "k/usr/lib/modules"), join(work, "k/lib/modules")].find((d) => existsSync(d));
  if (!modBase) throw new AssemblyError(`${kpkg.name} contains no /lib/modules tree`);
  const releases = readdirSync(modBase);
  if (releases.length !== 1)
    throw new AssemblyError(
      `${kpkg.name}: expected one kernel release under lib/modules, found ${releases.join(", ") || "none"}`,
    );
  const release = releases[0]!;
  const kfile = ["vmlinux", "vmlinuz"].map((n) => join(work, "k/boot", `${n}-${release}`)).find((p) => existsSync(p));
  if (!kfile) throw new AssemblyError(`${kpkg.name} has no /boot/vmlinux-${release} or /boot/vmlinuz-${release}`);
  checkKernelImage(readFileSync(kfile), spec.arch, kfile);

  const base = spec.modules ?? [];
  const sel = selectModules(join(modBase, release), [
    ...base,
    ...(spec.diskModules ?? []),
    ...(spec.netModules ?? []),
    ...(spec.shareModules ?? []),
  ]);
  // Boot-time modules first; the disk-only and NIC-only ones (what each set adds) are marked for init.
  const baseLoad = sel.dep.resolve(base, sel.builtinSet).load;
  const diskLoad = sel.dep
    .resolve([...base, ...(spec.diskModules ?? [])], sel.builtinSet)
    .load.filter((p) => !baseLoad.includes(p));
  const netLoad = sel.dep
    .resolve([...base, ...(spec.netModules ?? [])], sel.builtinSet)
    .load.filter((p) => !baseLoad.includes(p));
  const shareLoad = sel.dep
    .resolve([...base, ...(spec.shareModules ?? [])], sel.builtinSet)
    .load.filter((p) => !baseLoad.includes(p));
  progress.update(0.3, `${sel.load.length} modules`);

  const bbPath = ["usr/bin/busybox", "bin/busybox"].map((p) => join(work, "b", p)).find((p) => existsSync(p));
  if (!bbPath) throw new AssemblyError(`${bpkg.name} contains no busybox binary`);
  const busybox = readFileSync(bbPath);
  const applets = busyboxApplets(busybox, bbPath);

  // Every entry gets busybox's mtime from the package: deterministic, and a real date in `ls -l`.
  const cpio = new CpioWriter({ mtime: Math.floor(statSync(bbPath).mtimeMs / 1000) });
  for (const d of ["bin", "dev", "etc", "mnt", "proc", "run", "sys"]) cpio.directory(d);
  cpio.directory("root", 0o700);
  cpio.directory("tmp", 0o1777);
  cpio.charDevice("dev/console", 5, 1, 0o600); // the kernel opens it for init's stdio before devtmpfs exists
  cpio.charDevice("dev/null", 1, 3, 0o666);
  cpio.file("bin/busybox", busybox, 0o755);
  for (const a of applets) if (a !== "busybox") cpio.symlink(`bin/${a}`, "busybox");
  cpio.symlink("sbin", "bin");
  cpio.symlink("usr/bin", "../bin");
  cpio.symlink("usr/sbin", "../bin");
  const modDir = `lib/modules/${release}`;
  cpio.directory(modDir);
  for (const [p, bytes] of [...sel.files].sort(([a], [b]) => (a < b ? -1 : 1))) cpio.file(`${modDir}/${p}`, bytes);
  cpio.file(`${modDir}/modules.dep`, Buffer.from(sel.dep.format()));
  const builtinFile = join(modBase, release, "modules.builtin");
  if (existsSync(builtinFile)) cpio.file(`${modDir}/modules.builtin`, readFileSync(builtinFile));
  cpio.file("etc/typevisor/modules", Buffer.from(baseLoad.map((p) => p + "\n").join("")));
  cpio.file("etc/typevisor/modules.disk", Buffer.from(diskLoad.map((p) => p + "\n").join("")));
  cpio.file("etc/typevisor/modules.net", Buffer.from(netLoad.map((p) => p + "\n").join("")));
  cpio.file("etc/typevisor/modules.share", Buffer.from(shareLoad.map((p) => p + "\n").join("")));
  cpio.file("etc/typevisor/udhcpc.script", Buffer.from(UDHCPC_SCRIPT), 0o755);
  cpio.file(
    "etc/typevisor/image",
    Buffer.from(`name=${spec.name}\nkernel=${kpkg.name} ${kpkg.version}\nbusybox=${bpkg.name} ${bpkg.version}\n`),
  );
  cpio.file("etc/passwd", Buffer.from("root:x:0:0:root:/root:/bin/sh\n"));
  cpio.file("etc/group", Buffer.from("root:x:0:\n"));
  cpio.file("etc/hostname", Buffer.from("typevisor\n"));
  cpio.file("etc/profile", Buffer.from(PROFILE));
  cpio.file(
    "init",
    Buffer.from(
      initScript({ kernelRelease: release, imageName: spec.name, switchRoot: spec.recipe === "linux-rootdisk" }),
    ),
    0o755,
  );
  writeFileSync(join(out, INITRD_FILE), cpio.finish());
  copyFileSync(kfile, join(out, KERNEL_FILE));
  progress.end(`${applets.length} applets, ${sel.load.length} modules`);

  progress.begin(`mke2fs data disk (${spec.diskMiB ?? 64} MiB ext4)`);
  const diskRoot = join(work, "disk");
  mkdirSync(diskRoot, { recursive: true });
  writeFileSync(
    join(diskRoot, "README"),
    `Typevisor data disk of image ${spec.name}, mounted on /mnt by the guest's init.\n`,
  );
  hostTool(
    "mke2fs",
    [
      "-q",
      "-t",
      "ext4",
      "-L",
      "typevisor-data",
      "-E",
      "root_owner=0:0",
      "-d",
      diskRoot,
      join(out, DISK_FILE),
      `${spec.diskMiB ?? 64}M`,
    ],
    "e2fsprogs",
  );
  progress.end();

  rmSync(work, { recursive: true, force: true });
  return {
    format: MANIFEST_FORMAT,
    name: spec.name,
    recipe: spec.recipe,
    arch: spec.arch,
    suite: spec.suite,
    mirror: apt.config.mirror,
    createdAt: new Date().toISOString(),
    recipeVersion: INITRAMFS_RECIPE_VERSION,
    packages: [meta, kpkg, bpkg].map(toManifestPackage),
    artifacts: {
      kernel: await artifactOf(out, KERNEL_FILE),
      initrd: await artifactOf(out, INITRD_FILE),
      disk: await artifactOf(out, DISK_FILE),
    },
    kernelRelease: release,
    cmdline: spec.cmdline ?? "console=ttyS0",
    modules: baseLoad,
    diskModules: diskLoad,
    netModules: netLoad,
    shareModules: shareLoad,
    applets: applets.length,
  };
}
