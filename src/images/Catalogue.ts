// The images Typevisor knows how to assemble. Each is one entry: which Debian suite and
// architecture to take packages from, which packages, and which recipe assembles them.
//
// Recipes:
//  - "linux-initramfs": a bootable guest: the kernel from a linux-image metapackage, an initramfs
//    (busybox + the virtio modules + Typevisor's /init) and an ext4 data disk.
//  - "linux-rootdisk": the same kernel and initramfs booting Debian's own init from an ext4 root
//    disk that holds a minimal Debian system (RootDiskImage.ts).
//  - "rootfs": a Debian userland tree (packages unpacked into one directory), for
//    `typevisor exec --root`.

export type Recipe = "linux-initramfs" | "linux-rootdisk" | "rootfs";

export interface ImageSpec {
  readonly name: string;
  readonly description: string;
  readonly recipe: Recipe;
  /** Debian architecture name (APT::Architecture). */
  readonly arch: string;
  /** The Debian suite; riscv64 is an official architecture from trixie (Debian 13) on. */
  readonly suite: string;
  readonly components: readonly string[];
  /** linux-initramfs: the kernel metapackage (it depends on exactly one versioned linux-image-*). */
  readonly kernelPackage?: string;
  /** linux-initramfs: the package providing a static busybox, and where it lies inside it. */
  readonly busyboxPackage?: string;
  /** linux-initramfs: kernel modules to ship and load at boot (plus what they depend on). */
  readonly modules?: readonly string[];
  /** linux-initramfs: modules (plus dependencies) loaded only when a virtio disk is present. */
  readonly diskModules?: readonly string[];
  /** linux-initramfs: modules (plus dependencies) loaded only when a virtio NIC is present. */
  readonly netModules?: readonly string[];
  /** linux-initramfs: modules (plus dependencies) loaded only when a virtio-9p share is present. */
  readonly shareModules?: readonly string[];
  /** linux-initramfs: size of the ext4 data disk, in MiB (linux-rootdisk: of the root disk). */
  readonly diskMiB?: number;
  /** Kernel command line that boots this image on Typevisor's machine. */
  readonly cmdline?: string;
  /** rootfs: packages to unpack (with their Depends/Pre-Depends closure); linux-rootdisk: packages
   *  installed besides the Priority: required set. */
  readonly rootPackages?: readonly string[];
}

// Modules for the virtio-mmio machine: the transport, block, net (virtio_net needs failover and
// net_failover), console and rng (virtio_console may be built in: then it is skipped).
const VIRT_MODULES = ["virtio_mmio", "virtio_blk", "virtio_net", "virtio_console", "virtio_rng"] as const;
// ext4 for the data disk, loaded only when a disk is attached: Debian's ext4.ko is ~7 MB
// uncompressed (mostly .symtab), and the kernel hashes all of it to check its signature, which is
// costly on an emulated CPU. crc32c_generic is listed because ext4 and jbd2 declare
// `softdep pre: crypto-crc32c` (modules.softdep), which modules.dep does not cover.
const DISK_MODULES = ["crc32c_generic", "ext4"] as const;
// Packet sockets for busybox udhcpc (it sends and receives DHCP as raw frames), when a NIC exists.
const NET_MODULES = ["af_packet"] as const;
// virtio-9p host folders (typevisor --share): the 9p file system and its virtio transport.
const SHARE_MODULES = ["9p", "9pnet_virtio"] as const;

/** What the riscv64 Debian images share: trixie's stock kernel, busybox and the virt board's modules. */
const DEBIAN_RISCV64 = {
  arch: "riscv64",
  suite: "trixie",
  components: ["main"],
  kernelPackage: "linux-image-riscv64",
  busyboxPackage: "busybox-static",
  modules: VIRT_MODULES,
  diskModules: DISK_MODULES,
  netModules: NET_MODULES,
  shareModules: SHARE_MODULES,
} as const;

export const CATALOGUE: readonly ImageSpec[] = [
  {
    ...DEBIAN_RISCV64,
    name: "debian-riscv64",
    description: "Debian trixie riscv64: stock linux-image-riscv64 kernel, busybox-static shell, ext4 data disk",
    recipe: "linux-initramfs",
    diskMiB: 64,
    cmdline: "console=ttyS0 earlycon=sbi",
  },
  {
    name: "debian-amd64",
    description: "Debian trixie amd64: stock linux-image-amd64 kernel and busybox-static (for a future KVM engine)",
    recipe: "linux-initramfs",
    arch: "amd64",
    suite: "trixie",
    components: ["main"],
    kernelPackage: "linux-image-amd64",
    busyboxPackage: "busybox-static",
    modules: ["virtio_mmio", "virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "virtio_rng"],
    diskModules: DISK_MODULES,
    diskMiB: 64,
    cmdline: "console=ttyS0",
  },
  {
    name: "debian-riscv64-rootfs",
    description:
      "Debian trixie riscv64 system on an ext4 root disk: systemd, apt, openssh-server, DHCP (ifupdown, dhcpcd)",
    ...DEBIAN_RISCV64,
    recipe: "linux-rootdisk",
    diskMiB: 2048,
    cmdline: "console=ttyS0",
    rootPackages: [
      "systemd",
      "systemd-sysv",
      "udev",
      "ifupdown",
      "dhcpcd-base",
      "openssh-server",
      "ca-certificates",
      "iproute2",
    ],
  },
  {
    name: "debian-riscv64-userland",
    description:
      "Debian trixie riscv64 userland tree (libc6, bash, coreutils, python3, perl) for typevisor exec --root",
    recipe: "rootfs",
    arch: "riscv64",
    suite: "trixie",
    components: ["main"],
    rootPackages: ["libc6", "bash", "coreutils", "busybox-static", "python3", "perl"],
  },
];

export const DEFAULT_IMAGE = "debian-riscv64";

/**
 * Former names still accepted. `debian-rootfs-riscv64` (the exec userland tree) read almost like
 * `debian-riscv64-rootfs` (the bootable root disk), so it was renamed; scripts and caches that use
 * the old name keep working.
 */
export const IMAGE_ALIASES: Readonly<Record<string, string>> = {
  "debian-rootfs-riscv64": "debian-riscv64-userland",
};

/** The catalogue entry for a name or a former name (IMAGE_ALIASES). */
export function findImage(name: string): ImageSpec | undefined {
  const canonical = Object.hasOwn(IMAGE_ALIASES, name) ? IMAGE_ALIASES[name] : name;
  return CATALOGUE.find((i) => i.name === canonical);
}

/**
 * Why a catalogue name cannot boot a VM on Typevisor's engine, or undefined when it can: checked
 * when a VM is created (not at its first start, after a possibly long download).
 */
export function bootImageProblem(name: string): string | undefined {
  const img = findImage(name);
  if (img === undefined)
    return `no such image; the catalogue has ${CATALOGUE.map((i) => i.name).join(", ")} (typevisor image ls)`;
  if (img.arch !== "riscv64") return `it is for ${img.arch}; Typevisor's engine boots riscv64 guests only so far`;
  if (img.recipe === "rootfs") return "it is a root tree for 'typevisor exec --root', not a bootable image";
  return undefined;
}
