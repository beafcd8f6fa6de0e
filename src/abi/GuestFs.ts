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
// Without --root the guest sees the host's files directly, like qemu-user. With a sysroot
// (`exec -L DIR`, qemu-user's -L / QEMU_LD_PREFIX, util/path.c) an absolute path is looked up in
// DIR first and on the host if DIR does not have it: the program's interpreter, libraries and /etc
// files come from DIR, everything else (the program, the working directory) is the host's. A
// sysroot is a convenience, not a boundary: --root is the boundary.
import * as fs from "node:fs";
import * as nodePath from "node:path";
import { Errno, errnoOf, fail } from "./Errno.js";

/** Linux's MAXSYMLINKS (fs/namei.c): more links than this in one resolution is ELOOP. */
const MAX_SYMLINKS = 40;
/** PATH_MAX (include/uapi/linux/limits.h). */
export const PATH_MAX = 4096;

/** O_PATH (include/uapi/asm-generic/fcntl.h): Node's fs.constants lacks it. */
const O_PATH = 0o10000000;

export interface Resolved {
  /** The path to hand to Node's fs. */
  host: string;
  /** The canonical guest path ("/" + components), used for getcwd and /proc/self/exe. */
  guest: string;
}

export class GuestFs {
  /** Absolute host path of the guest's "/", or undefined when the guest sees the host's files. */
  readonly root: string | undefined;

  /**
   * Flags to add to a host open(2) of a resolved path: under --root every guest symlink has been
   * followed by resolve(), so the host must follow none (one appearing since is a host race).
   */
  readonly hostNoFollow: number;
  /** `exec -L DIR`: absolute paths are tried under this host directory first (no --root then). */
  readonly sysroot: string | undefined;

  constructor(root?: string, sysroot?: string) {
    this.sysroot = undefined;
    if (root === undefined) {
      this.root = undefined;
      this.hostNoFollow = 0;
      if (sysroot !== undefined) {
        let real: string;
        try {
          real = fs.realpathSync(sysroot);
        } catch {
          throw new Error(`-L ${sysroot}: no such directory (give a sysroot such as /usr/riscv64-linux-gnu)`);
        }
        if (!fs.statSync(real).isDirectory()) throw new Error(`-L ${sysroot}: not a directory`);
        this.sysroot = real === "/" ? undefined : real;
      }
      return;
    }
    if (sysroot !== undefined)
      throw new Error("--root and -L cannot be combined: --root already decides where every path is looked up");
    this.hostNoFollow = fs.constants.O_NOFOLLOW;
    let real: string;
    try {
      real = fs.realpathSync(root);
    } catch {
      throw new Error(`--root ${root}: no such directory (give the directory to use as the guest's /)`);
    }
    if (!fs.statSync(real).isDirectory()) throw new Error(`--root ${root}: not a directory`);
    this.root = real;
  }

  /** The host paths an absolute guest path is looked up at, in order (for error messages). */
  searchedFor(guestAbsolute: string): string[] {
    if (this.root !== undefined) return [this.hostOf(nodePath.posix.normalize(guestAbsolute))];
    if (this.sysroot !== undefined) return [this.sysroot + nodePath.posix.normalize(guestAbsolute), guestAbsolute];
    return [guestAbsolute];
  }

  /** Host path of a canonical guest path (no symlink checks: use resolve for guest input). */
  hostOf(guestCanonical: string): string {
    if (this.root === undefined) return guestCanonical;
    return guestCanonical === "/" ? this.root : this.root + guestCanonical;
  }

  /**
   * Calls fn with a host path for the object a resolved path names that the host cannot re-walk:
   * under --root, /proc/self/fd/N of an O_PATH|O_NOFOLLOW descriptor of it. Calls that follow a
   * final symlink on the host (chmod, truncate, access, utimes, statfs) then act on the inode
   * resolve() vetted, not on a symlink someone put there since. Host errors propagate as thrown.
   */
  pinned<T>(host: string, fn: (hostPath: string) => T): T {
    if (this.root === undefined) return fn(host);
    const fd = fs.openSync(host, O_PATH | fs.constants.O_NOFOLLOW);
    try {
      return fn(`/proc/self/fd/${fd}`);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Calls fn with a host path for the canonical guest path `guest` (one resolve() gave) that no
   * symlink can redirect, not even one put on it since by another process (another VM sharing the
   * directory over 9p, say): under --root each directory on the way is opened with
   * O_PATH|O_NOFOLLOW|O_DIRECTORY from the one before, starting at the root, and fn gets
   * /proc/self/fd/N/NAME of the last. A component that has become a symlink fails (ENOTDIR), it is
   * never followed. The final component is fn's: use calls that do not follow it, or pinned().
   */
  beneath<T>(guest: string, fn: (hostPath: string) => T): T {
    if (this.root === undefined) return fn(guest);
    const parts = guest.split("/").filter((c) => c.length > 0);
    const last = parts.pop();
    if (last === undefined) return fn(this.root);
    let fd = fs.openSync(this.root, O_PATH | fs.constants.O_DIRECTORY);
    try {
      for (const c of parts) {
        const next = fs.openSync(
          `/proc/self/fd/${fd}/${c}`,
          O_PATH | fs.constants.O_NOFOLLOW | fs.constants.O_DIRECTORY,
        );
        fs.closeSync(fd);
        fd = next;
      }
      return fn(`/proc/self/fd/${fd}/${last}`);
    } finally {
      fs.closeSync(fd);
    }
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
      let h = g;
      if (this.sysroot !== undefined && path.startsWith("/") && g !== "/") {
        const inSysroot = this.sysroot + g;
        if (fs.lstatSync(inSysroot, { throwIfNoEntry: false }) !== undefined) h = inSysroot;
      }
      // Keep a trailing slash: it means "must be a directory" to the host kernel too.
      const host = path.endsWith("/") && g !== "/" ? h + "/" : h;
      return { host, guest: g };
    }
    const trailingSlash = path.endsWith("/");
    // Components still to walk, in order (a stack reversed so pop() gives the next one). A relative
    // path walks its base again from the root: the base is only the text of where the working
    // directory (or a dirfd) was, and the guest may since have replaced a directory on it by a
    // symlink; trusting that text would hand the host a path through an unvetted link.
    const todo = path
      .split("/")
      .filter((c) => c.length > 0)
      .reverse();
    if (!path.startsWith("/")) {
      const b = base.split("/").filter((c) => c.length > 0);
      for (let i = b.length - 1; i >= 0; i--) todo.push(b[i]!);
    }
    const done: string[] = [];
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
      // Every component but the last must be a directory that exists ("." and ".." count as
      // components after it: "file/.." is ENOTDIR, "missing/.." is ENOENT), as Linux's
      // link_path_walk requires; a trailing slash makes the last one a directory too.
      const isLast = todo.length === 0;
      if (isLast && !followLast && !trailingSlash) break;
      const host = this.root + "/" + done.join("/");
      let st: fs.Stats;
      try {
        st = fs.lstatSync(host);
      } catch (e) {
        // A missing last component is what creat/mkdir/rename targets look like: the host call
        // made with this path reports it. A missing directory in the middle ends the walk here;
        // walking on by text ("/x/../l" when /x is missing) could lead anywhere.
        if (isLast) break;
        fail(errnoOf(e));
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) fail(Errno.ELOOP);
        const target = fs.readlinkSync(host);
        done.pop();
        if (target.startsWith("/")) done.length = 0; // absolute link: restart at the guest's root
        const parts = target.split("/").filter((p) => p.length > 0);
        // A target ending in "/" must name a directory: a "." after it makes the walk check that.
        if (target.endsWith("/") && parts.length > 0) todo.push(".");
        for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
        continue;
      }
      if ((!isLast || trailingSlash) && !st.isDirectory()) fail(Errno.ENOTDIR);
    }
    const guest = "/" + done.join("/");
    let host = this.hostOf(guest);
    if (trailingSlash && guest !== "/") host += "/";
    return { host, guest };
  }
}
