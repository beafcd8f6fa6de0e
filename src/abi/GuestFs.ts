// The guest's view of the file system: guest paths ("/etc/passwd", "../x") become host paths.
//
// With --root DIR, DIR is the guest's "/" and nothing outside it is reachable. Linux resolves a
// path one component at a time (path_resolution(7)), following symbolic links as it goes; we do the
// same walk on the host, but with the root clamped: ".." at the root stays at the root, and a
// symlink's target is re-resolved *inside* the root (an absolute target restarts at the root, a
// relative one continues from the link's directory). The host is then handed a path that contains
// no symlink components we have not already vetted, except the last one when the caller asked for
// lstat/readlink/unlink semantics ("nofollow"), which operate on the link itself.
//
// Without --root the guest sees the host's files directly, like qemu-user.
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { Errno, fail } from "./Errno.js";

/** Linux's MAXSYMLINKS (fs/namei.c): more links than this in one resolution is ELOOP. */
const MAX_SYMLINKS = 40;
/** PATH_MAX (include/uapi/linux/limits.h). */
export const PATH_MAX = 4096;

export interface Resolved {
  /** The path to hand to Node's fs. */
  host: string;
  /** The canonical guest path ("/" + components), used for getcwd and /proc/self/exe. */
  guest: string;
}

export class GuestFs {
  /** Absolute host path of the guest's "/", or undefined when the guest sees the host's files. */
  readonly root: string | undefined;

  constructor(root?: string) {
    if (root === undefined) {
      this.root = undefined;
      return;
    }
    let real: string;
    try {
      real = fs.realpathSync(root);
    } catch {
      throw new Error(`--root ${root}: no such directory (give the directory to use as the guest's /)`);
    }
    if (!fs.statSync(real).isDirectory()) throw new Error(`--root ${root}: not a directory`);
    this.root = real;
  }

  /** Host path of a canonical guest path (no symlink checks: use resolve for guest input). */
  hostOf(guestCanonical: string): string {
    if (this.root === undefined) return guestCanonical;
    return guestCanonical === "/" ? this.root : this.root + guestCanonical;
  }

  /**
   * Resolves a guest path relative to the guest directory `base` (a canonical guest path).
   * followLast: follow a symlink in the final component (open, stat) or not (lstat, unlink, readlink).
   * Errors: ENOENT for "", ENAMETOOLONG, ELOOP.
   */
  resolve(base: string, path: string, followLast = true): Resolved {
    if (path.length === 0) fail(Errno.ENOENT);
    if (path.length >= PATH_MAX) fail(Errno.ENAMETOOLONG);
    if (this.root === undefined) {
      const g = nodePath.posix.resolve(base, path);
      // Keep a trailing slash: it means "must be a directory" to the host kernel too.
      const host = path.endsWith("/") && g !== "/" ? g + "/" : g;
      return { host, guest: g };
    }
    const trailingSlash = path.endsWith("/");
    // Components still to walk, in order (a stack reversed so pop() gives the next one).
    const todo = path.split("/").filter((c) => c.length > 0).reverse();
    const done: string[] = path.startsWith("/") ? [] : base.split("/").filter((c) => c.length > 0);
    let links = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === ".") continue;
      if (c === "..") {
        done.pop(); // at the root this is a no-op: ".." of "/" is "/" (path_resolution(7))
        continue;
      }
      if (c.length > 255) fail(Errno.ENAMETOOLONG);
      done.push(c);
      const isLast = todo.length === 0;
      if (isLast && !followLast && !trailingSlash) break;
      const host = this.root + "/" + done.join("/");
      let st: fs.Stats;
      try {
        st = fs.lstatSync(host);
      } catch {
        // A missing component: the host call made with this path reports ENOENT/ENOTDIR itself.
        // Stop resolving and keep the rest lexical but clamped, so it still cannot leave the root.
        while (todo.length > 0) {
          const r = todo.pop()!;
          if (r === "..") done.pop();
          else if (r !== ".") done.push(r);
        }
        break;
      }
      if (!st.isSymbolicLink()) continue;
      if (++links > MAX_SYMLINKS) fail(Errno.ELOOP);
      const target = fs.readlinkSync(host);
      done.pop();
      if (target.startsWith("/")) done.length = 0; // absolute link: restart at the guest's root
      const parts = target.split("/").filter((p) => p.length > 0);
      for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
    }
    const guest = "/" + done.join("/");
    let host = this.hostOf(guest);
    if (trailingSlash && guest !== "/") host += "/";
    return { host, guest };
  }
}
