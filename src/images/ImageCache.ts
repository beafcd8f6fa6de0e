// Where images live and how they are replaced safely.
//
//   $TYPEVISOR_CACHE or $XDG_CACHE_HOME/typevisor or ~/.cache/typevisor   (XDG Base Directory spec)
//     images/NAME/            a complete image: artifacts + manifest.json
//     images/.NAME.lock       held by the process pulling NAME (contains its pid)
//     images/.NAME.tmp-PID-N/ an image being built (renamed into place when complete)
//     apt/ARCH-SUITE/         the private apt root, with downloaded .debs in debs/
//
// A pull builds in a temporary directory next to the image, writes the manifest last and renames
// the directory into place, so readers see either the old complete image or the new one. A VM that
// has the old files open keeps reading them (the inodes live until closed).
import {
  closeSync,
  existsSync,
  statSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env["TYPEVISOR_CACHE"]) return env["TYPEVISOR_CACHE"];
  const xdg = env["XDG_CACHE_HOME"];
  // The spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
  const base = xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".cache");
  return join(base, "typevisor");
}

export class ImageCache {
  readonly images: string;

  constructor(readonly root: string = cacheRoot()) {
    this.images = join(root, "images");
  }

  dirOf(name: string): string {
    return join(this.images, name);
  }

  aptRootDir(arch: string, suite: string): string {
    return join(this.root, "apt", `${arch}-${suite}`);
  }

  /** Names of image directories present (complete or not). */
  names(): string[] {
    if (!existsSync(this.images)) return [];
    return readdirSync(this.images, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith("."))
      .map((d) => d.name)
      .sort();
  }

  /** A fresh temporary build directory next to the image. */
  tempDir(name: string): string {
    mkdirSync(this.images, { recursive: true });
    for (let n = 0; ; n++) {
      const p = join(this.images, `.${name}.tmp-${process.pid}-${n}`);
      if (!existsSync(p)) {
        mkdirSync(p);
        return p;
      }
    }
  }

  /** Removes leftovers of interrupted pulls of `name` (temp dirs of processes that no longer run). */
  cleanStale(name: string): void {
    if (!existsSync(this.images)) return;
    for (const f of readdirSync(this.images)) {
      const m = new RegExp(`^\\.${escapeRe(name)}\\.(?:tmp|old)-(\\d+)-\\d+$`).exec(f);
      if (m && !alive(Number(m[1]))) rmSync(join(this.images, f), { recursive: true, force: true });
    }
  }

  /** Moves a completed build into place, replacing any previous image of that name. */
  install(name: string, built: string): void {
    const dest = this.dirOf(name);
    if (existsSync(dest)) {
      const old = join(this.images, `.${name}.old-${process.pid}-${Date.now()}`);
      renameSync(dest, old);
      renameSync(built, dest);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(built, dest);
    }
  }

  /** Moves an image cached under a former name to its current name, unless the current one exists. */
  adopt(former: string, current: string): void {
    const from = this.dirOf(former);
    const to = this.dirOf(current);
    if (!existsSync(from) || existsSync(to)) return;
    try {
      renameSync(from, to);
    } catch {
      // Another process moved it first, or the cache is read-only: the image is pulled again.
    }
  }

  remove(name: string): boolean {
    const dest = this.dirOf(name);
    if (!existsSync(dest)) return false;
    const old = join(this.images, `.${name}.old-${process.pid}-${Date.now()}`);
    renameSync(dest, old); // atomic: nobody sees a half-deleted image
    rmSync(old, { recursive: true, force: true });
    return true;
  }

  lockPath(name: string): string {
    return join(this.images, `.${name}.lock`);
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/**
 * An exclusive lock file (created with O_EXCL, holding the owner's pid). A lock whose owner no
 * longer runs is stale (the pull was killed) and is taken over.
 */
export class LockFile {
  private held = false;

  constructor(readonly path: string) {}

  /** Tries once; true if acquired. */
  tryAcquire(): boolean {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.path, "wx");
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        this.held = true;
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const owner = this.owner();
        if (owner !== undefined && alive(owner) && owner !== process.pid) return false;
        // No pid yet: the owner may be between create and write; only an old empty lock is stale.
        if (owner === undefined && Date.now() - mtimeMs(this.path) < 2000) return false;
        try {
          unlinkSync(this.path);
        } catch {
          /* someone else removed it first */
        }
      }
    }
    return false;
  }

  /** Waits (polling) until acquired; `onWait` is called once if it has to wait. */
  async acquire(onWait: (owner: number | undefined) => void, timeoutMs = 30 * 60 * 1000): Promise<void> {
    const start = Date.now();
    let told = false;
    while (!this.tryAcquire()) {
      if (!told) {
        onWait(this.owner());
        told = true;
      }
      if (Date.now() - start > timeoutMs)
        throw new Error(`timed out waiting for the lock ${this.path} (held by pid ${this.owner()})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  owner(): number | undefined {
    try {
      const n = Number(readFileSync(this.path, "utf8").trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
