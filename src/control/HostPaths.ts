// Which host files a VM spec may name. An API caller must not get the daemon user's file access
// (issue 12: a disk '/etc/shadow' read from inside the guest, or any writable file overwritten), so
// every kernel, initrd, bios and disk path must lie in a directory the daemon owns (its state
// directory, the image cache, read-only) or one the operator listed with 'serve --allow-dir DIR'.
//
// Paths are resolved with realpath (symlinks followed) and checked at create AND again at start,
// because a file may be replaced by a symlink in between; the VM process is given the resolved path.
import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { isAbsolute, normalize, sep } from "node:path";
import { ApiError } from "./ApiError.js";

export interface AllowedDir {
  dir: string;
  /** May a VM write files under it (a disk without readOnly or overlay)? */
  writable: boolean;
  /** May a VM share it (virtio-9p)? Only the operator's --allow-dir directories. */
  shareable?: boolean;
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

export class HostPaths {
  private readonly roots: AllowedDir[];

  constructor(dirs: AllowedDir[]) {
    // Roots by their real path too, so that a state directory reached through a symlink (/tmp on
    // some systems) still contains the files under it.
    this.roots = dirs.flatMap((d) => {
      const lexical = normalize(d.dir);
      let real = lexical;
      try {
        real = realpathSync(d.dir);
      } catch {
        // a directory that does not exist yet contains nothing
      }
      return real === lexical
        ? [{ ...d, dir: real }]
        : [
            { ...d, dir: lexical },
            { ...d, dir: real },
          ];
    });
  }

  /** The directories, for messages and documentation. */
  describe(): string {
    return [...new Set(this.roots.map((r) => r.dir + (r.writable ? "" : " (read-only)")))].join(", ");
  }

  private refuse(field: string, path: string, why: string): never {
    throw new ApiError(
      403,
      `${field}: '${path}' ${why}; VMs may use files under ${this.describe()} only (the operator can allow a directory with 'typevisor serve --allow-dir DIR')`,
    );
  }

  /**
   * The real path of a regular file the spec names, or an ApiError: 400 (not absolute, missing,
   * not a regular file, unreadable) or 403 (outside the allowed directories, or a writable use
   * of a read-only one). Nothing is revealed about files outside: those get 403 before any check
   * of their existence.
   */
  resolve(field: string, path: string, write: boolean): string {
    const real = this.realInside(field, path, write);
    if (!statSync(real).isFile()) throw new ApiError(400, `${field}: '${path}' is not a regular file`);
    this.access(field, path, real, write);
    return real;
  }

  /**
   * The real path of a directory a spec shares with its guest (virtio-9p), checked as resolve()
   * checks files, and more: only an operator's --allow-dir directory (or one under it) may be
   * shared, and never one containing the daemon's own directories: a guest given the state
   * directory would read and write the daemon's database and the other VMs' disks.
   */
  resolveDir(field: string, path: string, write: boolean): string {
    const real = this.realInside(field, path, write);
    if (!statSync(real).isDirectory()) throw new ApiError(400, `${field}: '${path}' is not a directory`);
    const own = this.roots.filter((r) => !r.shareable);
    if (!this.roots.some((r) => r.shareable && inside(r.dir, real)) || own.some((r) => inside(r.dir, real))) {
      this.refuse(field, path, "is not under a directory the operator allowed with --allow-dir");
    }
    const holds = own.find((r) => inside(real, r.dir));
    if (holds)
      throw new ApiError(
        403,
        `${field}: '${path}' contains the daemon's own directory '${holds.dir}'; share a directory beside it`,
      );
    this.access(field, path, real, write);
    return real;
  }

  private realInside(field: string, path: string, write: boolean): string {
    if (!isAbsolute(path)) throw new ApiError(400, `${field}: '${path}' must be an absolute path on the daemon's host`);
    if (path.includes("\0")) throw new ApiError(400, `${field}: the path contains a NUL byte`);
    const lexical = normalize(path);
    if (!this.roots.some((r) => inside(r.dir, lexical)))
      this.refuse(field, path, "is outside the directories the daemon may use");
    let real: string;
    try {
      real = realpathSync(lexical);
    } catch {
      throw new ApiError(400, `${field}: '${path}' does not exist`);
    }
    const root =
      this.roots.find((r) => inside(r.dir, real) && (r.writable || !write)) ??
      this.roots.find((r) => inside(r.dir, real));
    if (!root)
      this.refuse(field, path, `resolves (through a symlink) to '${real}', outside the directories the daemon may use`);
    if (write && !root.writable)
      this.refuse(field, path, `is in a read-only directory of the daemon (set readOnly or overlay)`);
    return real;
  }

  private access(field: string, path: string, real: string, write: boolean): void {
    try {
      accessSync(real, write ? constants.R_OK | constants.W_OK : constants.R_OK);
    } catch {
      throw new ApiError(
        400,
        `${field}: '${path}' is not ${write ? "writable" : "readable"} by the daemon${write ? "; set readOnly or overlay" : ""}`,
      );
    }
  }
}
