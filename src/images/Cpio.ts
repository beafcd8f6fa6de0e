// A writer for the "new ASCII" (newc, magic 070701) cpio format: the only format the Linux kernel
// unpacks as an initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
//
// Each entry is a 110-byte header of 13 eight-digit hex fields (ino, mode, uid, gid, nlink, mtime,
// filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check), then the NUL-terminated name
// padded to a multiple of 4, then the data padded to a multiple of 4. The archive ends with an entry
// named "TRAILER!!!". The output is deterministic: inode numbers follow insertion order, owners are
// root, and every entry carries the same mtime (given by the caller), so the same inputs always give
// byte-identical archives (and the manifest's sha256 is reproducible).

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

interface Entry {
  readonly path: string;
  readonly mode: number;
  readonly data: Uint8Array;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
}

export class CpioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CpioError";
  }
}

export interface CpioOptions {
  /** Modification time (seconds since the epoch) stamped on every entry. */
  readonly mtime?: number;
}

export class CpioWriter {
  private readonly entries: Entry[] = [];
  private readonly byPath = new Map<string, Entry>();
  private readonly mtime: number;

  constructor(options: CpioOptions = {}) {
    this.mtime = options.mtime ?? 0;
    if (!Number.isInteger(this.mtime) || this.mtime < 0 || this.mtime > 0xffffffff) {
      throw new CpioError(`cpio: mtime ${this.mtime} does not fit the 32-bit newc field`);
    }
  }

  /** Adds a directory (and any missing parents). Adding an existing directory again is a no-op. */
  directory(path: string, mode = 0o755): void {
    const p = normalize(path);
    const existing = this.byPath.get(p);
    if (existing) {
      if ((existing.mode & 0o170000) !== S_IFDIR)
        throw new CpioError(`cpio: '${p}' already exists and is not a directory`);
      return;
    }
    this.parents(p);
    this.add({ path: p, mode: S_IFDIR | (mode & 0o7777), data: EMPTY, rdevMajor: 0, rdevMinor: 0 });
  }

  /** Adds a regular file with the given contents. */
  file(path: string, data: Uint8Array, mode = 0o644): void {
    const p = normalize(path);
    this.parents(p);
    this.add({ path: p, mode: S_IFREG | (mode & 0o7777), data, rdevMajor: 0, rdevMinor: 0 });
  }

  /** Adds a symbolic link; its data is the target path (POSIX cpio stores link targets as file data). */
  symlink(path: string, target: string): void {
    const p = normalize(path);
    if (target.length === 0) throw new CpioError(`cpio: symlink '${p}' has an empty target`);
    this.parents(p);
    this.add({ path: p, mode: S_IFLNK | 0o777, data: Buffer.from(target, "utf8"), rdevMajor: 0, rdevMinor: 0 });
  }

  /** Adds a character device node (e.g. /dev/console 5:1, which the kernel opens before running init). */
  charDevice(path: string, major: number, minor: number, mode = 0o600): void {
    const p = normalize(path);
    this.parents(p);
    this.add({ path: p, mode: S_IFCHR | (mode & 0o7777), data: EMPTY, rdevMajor: major, rdevMinor: minor });
  }

  has(path: string): boolean {
    return this.byPath.has(normalize(path));
  }

  /** The paths added so far, in archive order. */
  paths(): string[] {
    return this.entries.map((e) => e.path);
  }

  /** Serializes the archive, ending with the TRAILER!!! entry. */
  finish(): Buffer {
    // A directory's link count is 2 ("." and its entry in the parent) plus one ".." per subdirectory.
    const subdirs = new Map<string, number>();
    for (const e of this.entries) {
      if ((e.mode & 0o170000) !== S_IFDIR) continue;
      const parent = parentOf(e.path);
      if (parent !== undefined) subdirs.set(parent, (subdirs.get(parent) ?? 0) + 1);
    }
    const chunks: Buffer[] = [];
    let ino = 1;
    for (const e of this.entries) {
      const isDir = (e.mode & 0o170000) === S_IFDIR;
      const nlink = isDir ? 2 + (subdirs.get(e.path) ?? 0) : 1;
      chunks.push(...record(ino++, e.mode, nlink, this.mtime, e.path, e.data, e.rdevMajor, e.rdevMinor));
    }
    chunks.push(...record(0, 0, 1, 0, "TRAILER!!!", EMPTY, 0, 0));
    return Buffer.concat(chunks);
  }

  private parents(p: string): void {
    const parent = parentOf(p);
    if (parent !== undefined && !this.byPath.has(parent)) this.directory(parent);
    else if (parent !== undefined) {
      const e = this.byPath.get(parent);
      if (e && (e.mode & 0o170000) !== S_IFDIR)
        throw new CpioError(`cpio: '${parent}' is not a directory, cannot hold '${p}'`);
    }
  }

  private add(e: Entry): void {
    if (this.byPath.has(e.path)) throw new CpioError(`cpio: '${e.path}' was added twice`);
    this.byPath.set(e.path, e);
    this.entries.push(e);
  }
}

const EMPTY = new Uint8Array(0);

function normalize(path: string): string {
  const parts = path.split("/").filter((s) => s.length > 0 && s !== ".");
  if (parts.length === 0) throw new CpioError(`cpio: '${path}' is not a usable entry name`);
  if (parts.includes("..")) throw new CpioError(`cpio: '${path}' contains '..'`);
  for (const s of parts) if (s.includes("\0")) throw new CpioError(`cpio: '${path}' contains a NUL byte`);
  return parts.join("/");
}

function parentOf(p: string): string | undefined {
  const i = p.lastIndexOf("/");
  return i < 0 ? undefined : p.slice(0, i);
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new CpioError(`cpio: field value ${n} does not fit 8 hex digits`);
  return n.toString(16).padStart(8, "0");
}

function pad4(n: number): Buffer {
  const r = (4 - (n % 4)) % 4;
  return Buffer.alloc(r);
}

function record(
  ino: number,
  mode: number,
  nlink: number,
  mtime: number,
  name: string,
  data: Uint8Array,
  rdevMajor: number,
  rdevMinor: number,
): Buffer[] {
  const nameBytes = Buffer.from(name + "\0", "utf8");
  const header =
    "070701" +
    hex8(ino) +
    hex8(mode) +
    hex8(0) + // uid: root
    hex8(0) + // gid: root
    hex8(nlink) +
    hex8(mtime) +
    hex8(data.length) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(rdevMajor) +
    hex8(rdevMinor) +
    hex8(nameBytes.length) +
    hex8(0); // check: only used by the 070702 "crc" variant
  const head = Buffer.from(header, "ascii");
  // The name is padded so that header+name ends on a 4-byte boundary; the data likewise.
  return [
    head,
    nameBytes,
    pad4(head.length + nameBytes.length),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    pad4(data.length),
  ];
}
