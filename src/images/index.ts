// The images API: pull (assemble) images into the cache, verify and locate them. Used by
// `typevisor image`, `typevisor start`, and boot tests (ensureImage).
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AptError, AptRoot, AptUnavailableError, BOOT_WITHOUT_IMAGES } from "./AptRoot.js";
import { CATALOGUE, DEFAULT_IMAGE, IMAGE_ALIASES, findImage, type ImageSpec } from "./Catalogue.js";
import { DEFAULT_KEYRING, hostSources, pickDebianMirror } from "./HostSources.js";
import { ImageCache, LockFile } from "./ImageCache.js";
import { assembleLinux, INITRAMFS_RECIPE_VERSION, LINUX_RECIPE_VERSION } from "./LinuxImage.js";
import { MANIFEST_FILE, verifyImage, type Manifest } from "./Manifest.js";
import { progressFor, type Progress } from "./Progress.js";
import { assembleRootfs, ROOT_DIR, ROOTFS_RECIPE_VERSION } from "./RootfsImage.js";
import { assembleRootDisk, ROOTDISK_RECIPE_VERSION } from "./RootDiskImage.js";

export { CATALOGUE, DEFAULT_IMAGE, bootImageProblem, findImage, type ImageSpec } from "./Catalogue.js";
export { AptUnavailableError, BOOT_WITHOUT_IMAGES } from "./AptRoot.js";
export type { Manifest } from "./Manifest.js";
export { ImageCache, cacheRoot } from "./ImageCache.js";

export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageError";
  }
}

export interface ImagePaths {
  readonly name: string;
  readonly dir: string;
  /** linux-initramfs images */
  readonly kernel?: string;
  readonly initrd?: string;
  readonly disk?: string;
  /** rootfs images */
  readonly root?: string;
  readonly manifest: Manifest;
}

export interface PullOptions {
  /** Rebuild even if a valid image exists. */
  readonly force?: boolean;
  readonly progress?: Progress;
  readonly cache?: ImageCache;
}

export interface PullResult extends ImagePaths {
  /** False when a valid image was already there (the pull was a no-op). */
  readonly built: boolean;
}

function spec(name: string): ImageSpec {
  const s = findImage(name);
  if (!s) throw new ImageError(`unknown image '${name}'. Known images: ${CATALOGUE.map((i) => i.name).join(", ")}`);
  return s;
}

/**
 * The catalogue name for `name`, which may be a former one (IMAGE_ALIASES). An image cached under
 * a former name moves to the current one (asked by either name), so a rename never costs a second
 * download.
 */
function canonicalName(name: string, cache: ImageCache): string {
  const current = findImage(name)?.name ?? name;
  for (const [former, now] of Object.entries(IMAGE_ALIASES)) if (now === current) cache.adopt(former, current);
  return current;
}

/** An intact image assembled by the current recipe needs no pull. */
function current(s: ImageSpec, m: Manifest | undefined): m is Manifest {
  const version = {
    "linux-initramfs": INITRAMFS_RECIPE_VERSION,
    "linux-rootdisk": ROOTDISK_RECIPE_VERSION * 1000 + LINUX_RECIPE_VERSION,
    rootfs: ROOTFS_RECIPE_VERSION,
  }[s.recipe];
  return m !== undefined && m.recipeVersion === version;
}

function pathsOf(cache: ImageCache, name: string, manifest: Manifest): ImagePaths {
  const dir = cache.dirOf(name);
  const a = manifest.artifacts;
  return {
    name,
    dir,
    kernel: a.kernel && join(dir, a.kernel.file),
    initrd: a.initrd && join(dir, a.initrd.file),
    disk: a.disk && join(dir, a.disk.file),
    root: a.root && join(dir, ROOT_DIR),
    manifest,
  };
}

/** The private apt root for an image: mirror and keyring from the host's apt sources. */
export function aptRootFor(s: ImageSpec, cache: ImageCache): AptRoot {
  let mirror = process.env["TYPEVISOR_APT_MIRROR"];
  let keyring = process.env["TYPEVISOR_APT_KEYRING"];
  if (!mirror) {
    if (!existsSync("/etc/apt")) {
      throw new AptUnavailableError(
        `this host has no apt (/etc/apt is missing): Typevisor assembles images from Debian packages with apt, so it needs a Debian or Ubuntu host.\n${BOOT_WITHOUT_IMAGES}`,
      );
    }
    const src = pickDebianMirror(hostSources());
    if (!src) {
      throw new AptUnavailableError(
        `the host's apt sources name no Debian archive to take ${s.suite}/${s.arch} packages from. Set TYPEVISOR_APT_MIRROR=http://deb.debian.org/debian (and TYPEVISOR_APT_KEYRING to Debian's archive keyring), or:\n${BOOT_WITHOUT_IMAGES}`,
      );
    }
    mirror = src.uri;
    keyring ??= src.signedBy;
  }
  keyring ??= DEFAULT_KEYRING;
  if (!existsSync(keyring)) {
    throw new AptUnavailableError(
      `the archive keyring ${keyring} is missing: apt-get install debian-archive-keyring (apt must check the packages' signatures).\n${BOOT_WITHOUT_IMAGES}`,
    );
  }
  return new AptRoot(cache.aptRootDir(s.arch, s.suite), {
    arch: s.arch,
    suite: s.suite,
    components: s.components,
    mirror,
    keyring,
  });
}

/**
 * Makes sure image `name` is in the cache and intact, assembling it if not. A valid image is
 * left alone (no network access); a partial or corrupt one is rebuilt.
 */
export async function pullImage(requested: string, opts: PullOptions = {}): Promise<PullResult> {
  const s = spec(requested);
  const cache = opts.cache ?? new ImageCache();
  const name = canonicalName(requested, cache);
  const progress = opts.progress ?? progressFor("quiet");
  if (!opts.force) {
    const v = await verifyImage(cache.dirOf(name));
    if (v.ok && current(s, v.manifest)) return { ...pathsOf(cache, name, v.manifest), built: false };
  }
  const lock = new LockFile(cache.lockPath(name));
  mkdirSync(cache.images, { recursive: true });
  await lock.acquire((owner) =>
    progress.note(`waiting for another pull of ${name} (pid ${owner ?? "?"}) to finish...`),
  );
  try {
    cache.cleanStale(name);
    if (!opts.force) {
      // Another process may have completed the pull while we waited for the lock.
      const v = await verifyImage(cache.dirOf(name));
      if (v.ok && current(s, v.manifest)) return { ...pathsOf(cache, name, v.manifest), built: false };
      if (v.ok) progress.note(`image ${name} was assembled by an older Typevisor: rebuilding`);
      else if (existsSync(cache.dirOf(name)))
        progress.note(`image ${name} is incomplete or corrupt (${v.problems[0]}): rebuilding`);
    }
    const apt = aptRootFor(s, cache);
    const aptLock = new LockFile(join(apt.dir, ".lock"));
    const tmp = cache.tempDir(name);
    let manifest: Manifest;
    try {
      apt.setup();
      await aptLock.acquire((owner) =>
        progress.note(`waiting for another pull using ${apt.dir} (pid ${owner ?? "?"})...`),
      );
      try {
        try {
          await apt.update(progress);
        } catch (e) {
          if (e instanceof AptUnavailableError || !(e instanceof AptError)) throw e;
          throw new AptUnavailableError(
            `could not fetch the ${s.suite}/${s.arch} package lists from ${apt.config.mirror} (is the Debian archive reachable?).\n${e.message}\n${BOOT_WITHOUT_IMAGES}`,
          );
        }
        manifest =
          s.recipe === "linux-initramfs"
            ? await assembleLinux(s, apt, tmp, progress)
            : s.recipe === "linux-rootdisk"
              ? await assembleRootDisk(s, apt, tmp, progress)
              : await assembleRootfs(s, apt, tmp, progress);
      } finally {
        aptLock.release();
      }
      // The manifest is written last: its presence marks a complete build.
      writeFileSync(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
      cache.install(name, tmp);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    return { ...pathsOf(cache, name, manifest), built: true };
  } finally {
    lock.release();
    cache.cleanStale(name);
  }
}

/** Paths of a valid cached image, or an ImageError saying why it can't be used. Never returns a corrupt image. */
export async function imagePaths(requested: string, cache = new ImageCache()): Promise<ImagePaths> {
  spec(requested);
  const name = canonicalName(requested, cache);
  const v = await verifyImage(cache.dirOf(name));
  if (!v.ok || !v.manifest) {
    if (!existsSync(cache.dirOf(name)))
      throw new ImageError(`image ${name} is not pulled yet: run 'typevisor image pull ${name}'`);
    throw new ImageError(
      `image ${name} is damaged (${v.problems.join("; ")}): run 'typevisor image pull ${name}' to rebuild it`,
    );
  }
  return pathsOf(cache, name, v.manifest);
}

export interface ListedImage {
  readonly name: string;
  readonly description: string;
  readonly state: "ready" | "damaged" | "absent";
  readonly dir: string;
  readonly manifest?: Manifest;
  readonly problems?: readonly string[];
}

/** Every catalogue image with its cache state (and any unknown directories in the cache). */
export async function listImages(cache = new ImageCache()): Promise<ListedImage[]> {
  const names = new Set([...CATALOGUE.map((c) => c.name), ...cache.names()]);
  const out: ListedImage[] = [];
  for (const name of names) {
    const dir = cache.dirOf(name);
    const description = findImage(name)?.description ?? "(not in the catalogue)";
    if (!existsSync(dir)) {
      out.push({ name, description, state: "absent", dir });
      continue;
    }
    const v = await verifyImage(dir);
    out.push(
      v.ok
        ? { name, description, state: "ready", dir, manifest: v.manifest }
        : { name, description, state: "damaged", dir, problems: v.problems },
    );
  }
  return out;
}

export function removeImage(name: string, cache = new ImageCache()): boolean {
  return cache.remove(canonicalName(name, cache));
}

/** The API boot tests use: the image's paths, pulling it first if needed. */
export async function ensureImage(
  name: string = DEFAULT_IMAGE,
  opts: { quiet?: boolean; cache?: ImageCache } = {},
): Promise<{ kernel: string; initrd: string; disk: string; manifest: Manifest }> {
  const progress = progressFor(opts.quiet ? "quiet" : process.stderr.isTTY ? "tty" : "plain");
  const r = await pullImage(name, { progress, cache: opts.cache });
  if (!r.kernel || !r.initrd || !r.disk)
    throw new ImageError(`image ${name} is not a bootable image (it has no kernel/initrd/disk)`);
  return { kernel: r.kernel, initrd: r.initrd, disk: r.disk, manifest: r.manifest };
}
