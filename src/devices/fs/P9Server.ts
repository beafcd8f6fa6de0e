// A 9P2000.L file server exporting one host directory (the protocol Linux's v9fs speaks over
// virtio-9p; message layouts from Linux include/net/9p/9p.h and net/9p/protocol.c, semantics from
// the 9P2000.L description in QEMU's and diod's documentation).
//
// Confinement: every fid is a canonical path inside the share, and every host path comes from the
// same resolver as `typevisor exec --root` (src/abi/GuestFs.ts): ".." stops at the share's root, a
// walk never follows a symlink (the guest kernel reads links with Treadlink and resolves them in its
// own namespace), files are opened with O_NOFOLLOW, and names containing "/" are refused. Every
// host call goes through GuestFs.beneath, which reaches the path by O_PATH|O_NOFOLLOW descriptors,
// so a link swapped in between a check and the call (another VM on the same folder) is not
// followed. Read-only shares refuse every modifying message with EROFS. Host uid/gid are shown as they are: files the
// guest creates belong to the user running Typevisor, and a guest user with that uid owns them.
//
// The server is synchronous (fs.*Sync): a request is served inside the queue notification. That
// keeps the device simple; large transfers block the run loop for their duration.
import * as fs from "node:fs";
import { GuestFs } from "../../abi/GuestFs.js";
import { Errno, SyscallError } from "../../abi/Errno.js";

// Message types (include/net/9p/9p.h enum p9_msg_t).
const T = {
  lerror: 6,
  statfs: 8,
  lopen: 12,
  lcreate: 14,
  symlink: 16,
  mknod: 18,
  rename: 20,
  readlink: 22,
  getattr: 24,
  setattr: 26,
  xattrwalk: 30,
  xattrcreate: 32,
  readdir: 40,
  fsync: 50,
  lock: 52,
  getlock: 54,
  link: 70,
  mkdir: 72,
  renameat: 74,
  unlinkat: 76,
  version: 100,
  auth: 102,
  attach: 104,
  flush: 108,
  walk: 110,
  read: 116,
  write: 118,
  clunk: 120,
  remove: 122,
} as const;

const QT_DIR = 0x80;
const QT_SYMLINK = 0x02;
/** Header: size[4] type[1] tag[2]. Reads and writes carry at most msize minus their headers. */
const IOHDRSZ = 24;
const MAX_MSIZE = 512 * 1024;
/** Smallest msize accepted: room for a walk of 16 names and a readdir entry (Linux asks for >= 4096). */
const MIN_MSIZE = 4096;
/** At most this many fids per guest (each may hold a host descriptor). */
const MAX_FIDS = 4096;
/**
 * Names held for open directories, all fids together: a listing is read at Tlopen, so without a
 * bound a guest opening one huge directory on every fid would hold millions of names in the host.
 */
const MAX_LISTED = 1 << 20;
const AT_REMOVEDIR = 0x200;
// Linux open flags (asm-generic/fcntl.h) in Tlopen/Tlcreate, mapped to the host's.
const L_O_ACCMODE = 3;
const L_O_TRUNC = 0o1000;
const L_O_APPEND = 0o2000;
const L_O_DIRECTORY = 0o200000;
// Tsetattr valid bits (include/net/9p/9p.h P9_ATTR_*).
const ATTR_MODE = 1;
const ATTR_UID = 2;
const ATTR_GID = 4;
const ATTR_SIZE = 8;
const ATTR_ATIME = 16;
const ATTR_MTIME = 32;
const ATTR_ATIME_SET = 128;
const ATTR_MTIME_SET = 256;

interface Fid {
  /** Canonical path inside the share ("/" is its root). */
  path: string;
  fd?: number;
  /** Directory listing of an open directory, with "." and "..". */
  entries?: string[];
}

/** Reads a T-message's fields; running past its end is EINVAL (a hostile or truncated message). */
class Reader {
  off = 7;
  constructor(private readonly b: Buffer) {}
  private need(n: number): void {
    if (this.off + n > this.b.length) throw new SyscallError(Errno.EINVAL);
  }
  u8(): number {
    this.need(1);
    const v = this.b.readUInt8(this.off);
    this.off += 1;
    return v;
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16LE(this.off);
    this.off += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = Number(this.b.readBigUInt64LE(this.off));
    this.off += 8;
    return v;
  }
  str(): string {
    const n = this.u16();
    this.need(n);
    const s = this.b.toString("utf8", this.off, this.off + n);
    this.off += n;
    return s;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const s = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return s;
  }
}

class Writer {
  private b: Buffer;
  off = 7;
  constructor(size: number) {
    this.b = Buffer.alloc(size);
  }
  private room(n: number): void {
    if (this.off + n > this.b.length) {
      const g = Buffer.alloc(Math.max(this.b.length * 2, this.off + n));
      this.b.copy(g);
      this.b = g;
    }
  }
  u8(v: number): this {
    this.room(1);
    this.b.writeUInt8(v, this.off);
    this.off += 1;
    return this;
  }
  u16(v: number): this {
    this.room(2);
    this.b.writeUInt16LE(v, this.off);
    this.off += 2;
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.b.writeUInt32LE(v >>> 0, this.off);
    this.off += 4;
    return this;
  }
  u64(v: number | bigint): this {
    this.room(8);
    this.b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), this.off);
    this.off += 8;
    return this;
  }
  str(s: string): this {
    const n = Buffer.byteLength(s);
    this.u16(n);
    this.room(n);
    this.b.write(s, this.off);
    this.off += n;
    return this;
  }
  bytes(d: Uint8Array): this {
    this.room(d.length);
    this.b.set(d, this.off);
    this.off += d.length;
    return this;
  }
  /** n bytes of the message to fill in place (a read's data, without a copy). */
  reserve(n: number): Buffer {
    this.room(n);
    const s = this.b.subarray(this.off, this.off + n);
    return s;
  }
  qid(st: fs.BigIntStats): this {
    const type = st.isDirectory() ? QT_DIR : st.isSymbolicLink() ? QT_SYMLINK : 0;
    return this.u8(type)
      .u32(Number(st.mtimeNs & 0xffffffffn))
      .u64(st.ino);
  }
  finish(type: number, tag: number): Buffer {
    this.b.writeUInt32LE(this.off, 0);
    this.b.writeUInt8(type, 4);
    this.b.writeUInt16LE(tag, 5);
    return this.b.subarray(0, this.off);
  }
}

export interface P9ServerOptions {
  readOnly?: boolean;
  /** Directory entries held for open directory fids, all together (default MAX_LISTED). */
  maxListed?: number;
}

export class P9Server {
  private readonly fsys: GuestFs;
  private readonly fids = new Map<number, Fid>();
  private msize = 8192;
  readonly readOnly: boolean;
  private readonly ownUid = process.getuid?.() ?? -1;
  private readonly ownGid = process.getgid?.() ?? -1;
  private readonly maxListed: number;
  /** Entries held by open directory fids now (bounded by maxListed). */
  private listed = 0;

  /** Fids the guest holds (a mounted share holds at least its root): snapshots refuse while any is open. */
  get openFids(): number {
    return this.fids.size;
  }

  /** @param root the host directory to export (must exist) */
  constructor(
    readonly root: string,
    opts: P9ServerOptions = {},
  ) {
    this.fsys = new GuestFs(root);
    this.readOnly = opts.readOnly ?? false;
    this.maxListed = opts.maxListed ?? MAX_LISTED;
  }

  /** Forgets fid n: closes its descriptor, releases its listing. */
  private drop(n: number, f: Fid): void {
    if (f.fd !== undefined) fs.closeSync(f.fd);
    if (f.entries) this.listed -= f.entries.length;
    this.fids.delete(n);
  }

  /** The largest message this server accepts (negotiated by Tversion). */
  get maxMessage(): number {
    return this.msize;
  }

  /** Serves one T-message; returns the R-message (Rlerror on any failure). */
  handle(req: Uint8Array): Buffer {
    const all = Buffer.from(req.buffer, req.byteOffset, req.byteLength);
    if (all.length < 7) return P9Server.error(0xffff, Errno.EINVAL);
    const tag = all.readUInt16LE(5);
    // size[4] counts the whole message; it may be shorter than the buffer it came in, never longer.
    const size = all.readUInt32LE(0);
    if (size < 7 || size > all.length || size > this.msize) return P9Server.error(tag, Errno.EINVAL);
    const b = all.subarray(0, size);
    const type = b.readUInt8(4);
    try {
      const w = this.dispatch(type, new Reader(b));
      return w.finish(type + 1, tag);
    } catch (e) {
      const errno = e instanceof SyscallError ? e.errno : errnoOfHost(e);
      return P9Server.error(tag, errno);
    }
  }

  /** An Rlerror (9P2000.L's only error reply: a Linux errno). */
  static error(tag: number, errno: number): Buffer {
    return new Writer(11).u32(errno).finish(T.lerror + 1, tag);
  }

  private fid(n: number): Fid {
    const f = this.fids.get(n);
    if (!f) throw new SyscallError(Errno.EBADF);
    return f;
  }

  private newFid(n: number, f: Fid): void {
    if (this.fids.has(n)) throw new SyscallError(Errno.EBADF);
    if (this.fids.size >= MAX_FIDS) throw new SyscallError(Errno.ENFILE);
    this.fids.set(n, f);
  }

  /**
   * Runs fn on the host path of a canonical share path, walked without following any symlink on
   * the host, even one another VM sharing the directory swapped in since the path was resolved.
   */
  private at<T>(path: string, fn: (host: string) => T): T {
    return this.fsys.beneath(path, fn);
  }

  /** The canonical path of `name` in directory `dir` (one component, never a link followed). */
  private child(dir: string, name: string): string {
    // "." and ".." never name a new or removed entry (Linux's VFS does not send them): refusing them
    // keeps unlinkat(root, "..") from removing the share's own directory on the host.
    if (name.length === 0 || name === "." || name === ".." || name.includes("/") || name.includes("\0"))
      throw new SyscallError(Errno.EINVAL);
    return this.fsys.resolve(dir, name, false).guest;
  }

  private writable(): void {
    if (this.readOnly) throw new SyscallError(Errno.EROFS);
  }

  private lstat(path: string): fs.BigIntStats {
    return this.at(path, (h) => fs.lstatSync(h, { bigint: true }));
  }

  private reply(): Writer {
    return new Writer(64);
  }

  private dispatch(type: number, r: Reader): Writer {
    switch (type) {
      case T.version: {
        const msize = r.u32();
        const version = r.str();
        // The server's msize may only lower the client's (intro(5), version).
        if (msize < MIN_MSIZE) throw new SyscallError(Errno.EINVAL);
        this.msize = Math.min(msize, MAX_MSIZE);
        this.reset();
        return this.reply()
          .u32(this.msize)
          .str(version === "9P2000.L" ? "9P2000.L" : "unknown");
      }
      case T.auth:
        throw new SyscallError(Errno.EOPNOTSUPP);
      case T.attach: {
        const fid = r.u32();
        this.newFid(fid, { path: "/" });
        return this.reply().qid(this.lstat("/"));
      }
      case T.flush:
        return this.reply(); // requests are served synchronously: nothing is ever in flight
      case T.walk: {
        const fidNo = r.u32();
        const fid = this.fid(fidNo);
        const newfid = r.u32();
        const n = r.u16();
        if (n > 16) throw new SyscallError(Errno.EINVAL);
        // All names first: a message too short for them is EINVAL, not a partial walk.
        const names: string[] = [];
        for (let i = 0; i < n; i++) names.push(r.str());
        const w = this.reply().u16(0);
        let path = fid.path;
        let count = 0;
        for (let i = 0; i < n; i++) {
          const name = names[i]!;
          let next: string;
          let st: fs.BigIntStats;
          try {
            // A walk goes through directories only; ".." of the share's root is the root.
            if (!this.lstat(path).isDirectory()) throw new SyscallError(Errno.ENOTDIR);
            next = name === ".." || name === "." ? this.fsys.resolve(path, name, false).guest : this.child(path, name);
            st = this.lstat(next);
          } catch (e) {
            if (i === 0) throw e;
            break;
          }
          w.qid(st);
          path = next;
          count++;
        }
        if (count === n) {
          if (newfid === fidNo) fid.path = path;
          else this.newFid(newfid, { path });
        }
        const end = w.off;
        w.off = 7;
        w.u16(count);
        w.off = end;
        return w;
      }
      case T.getattr: {
        const f = this.fid(r.u32());
        const st = f.fd !== undefined ? fs.fstatSync(f.fd, { bigint: true }) : this.lstat(f.path);
        return this.reply()
          .u64(0x7ff) // P9_GETATTR_BASIC
          .qid(st)
          .u32(Number(st.mode))
          .u32(Number(st.uid))
          .u32(Number(st.gid))
          .u64(st.nlink)
          .u64(st.rdev)
          .u64(st.size)
          .u64(st.blksize)
          .u64(st.blocks)
          .u64(st.atimeNs / 1_000_000_000n)
          .u64(st.atimeNs % 1_000_000_000n)
          .u64(st.mtimeNs / 1_000_000_000n)
          .u64(st.mtimeNs % 1_000_000_000n)
          .u64(st.ctimeNs / 1_000_000_000n)
          .u64(st.ctimeNs % 1_000_000_000n)
          .u64(0)
          .u64(0)
          .u64(0)
          .u64(0);
      }
      case T.setattr: {
        this.writable();
        const f = this.fid(r.u32());
        const valid = r.u32();
        const mode = r.u32();
        const uid = r.u32();
        const gid = r.u32();
        const size = r.u64();
        const atime = r.u64() + r.u64() / 1e9;
        const mtime = r.u64() + r.u64() / 1e9;
        if (this.lstat(f.path).isSymbolicLink()) throw new SyscallError(Errno.ELOOP);
        this.at(f.path, (h) => {
          // chmod and truncate follow a final symlink: they act through an O_PATH|O_NOFOLLOW pin of
          // the object just checked (a link swapped in since is then what they reach: refused).
          if (valid & ATTR_MODE) this.fsys.pinned(h, (p) => fs.chmodSync(p, mode & 0o7777));
          if (valid & (ATTR_UID | ATTR_GID)) {
            // Root in the guest is this user on the host: ownership changes to it are no-ops.
            const u = valid & ATTR_UID ? (uid === 0 ? this.ownUid : uid) : -1;
            const g = valid & ATTR_GID ? (gid === 0 ? this.ownGid : gid) : -1;
            if (u !== -1 || g !== -1) fs.lchownSync(h, u, g);
          }
          if (valid & ATTR_SIZE) this.fsys.pinned(h, (p) => fs.truncateSync(p, size));
          if (valid & (ATTR_ATIME | ATTR_MTIME)) {
            const st = fs.lstatSync(h, { bigint: true });
            const now = Date.now() / 1000;
            const a = valid & ATTR_ATIME ? (valid & ATTR_ATIME_SET ? atime : now) : Number(st.atimeMs) / 1000;
            const m = valid & ATTR_MTIME ? (valid & ATTR_MTIME_SET ? mtime : now) : Number(st.mtimeMs) / 1000;
            fs.lutimesSync(h, a, m);
          }
        });
        return this.reply();
      }
      case T.lopen: {
        const f = this.fid(r.u32());
        const flags = r.u32();
        if (f.fd !== undefined || f.entries) throw new SyscallError(Errno.EBADF);
        const st = this.lstat(f.path);
        if (st.isSymbolicLink()) throw new SyscallError(Errno.ELOOP);
        // FIFOs, sockets and device nodes are not opened: the server is synchronous and a FIFO's
        // open or read would block the whole machine; a host device is not the guest's.
        if (!st.isDirectory() && !st.isFile()) throw new SyscallError(Errno.ENXIO);
        if (st.isDirectory()) {
          // Listed through an O_PATH|O_NOFOLLOW pin: a symlink swapped in since the lstat is not listed.
          const names = this.at(f.path, (h) => this.fsys.pinned(h, (p) => fs.readdirSync(p)));
          if (this.listed + names.length + 2 > this.maxListed) throw new SyscallError(Errno.ENFILE);
          f.entries = [".", "..", ...names];
          this.listed += f.entries.length;
        } else {
          const acc = flags & L_O_ACCMODE;
          if (acc !== 0 || flags & (L_O_TRUNC | L_O_APPEND)) this.writable();
          f.fd = this.at(f.path, (h) => fs.openSync(h, hostFlags(flags) | fs.constants.O_NOFOLLOW));
        }
        return this.reply()
          .qid(st)
          .u32(this.msize - IOHDRSZ);
      }
      case T.lcreate: {
        this.writable();
        const f = this.fid(r.u32());
        const name = r.str();
        const flags = r.u32();
        const mode = r.u32();
        if (f.fd !== undefined || f.entries) throw new SyscallError(Errno.EBADF);
        const path = this.child(f.path, name);
        const fd = this.at(path, (h) =>
          fs.openSync(
            h,
            hostFlags(flags) | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
            mode & 0o7777,
          ),
        );
        // Tlcreate turns the directory fid into the new file's open fid.
        f.path = path;
        f.fd = fd;
        return this.reply()
          .qid(fs.fstatSync(fd, { bigint: true }))
          .u32(this.msize - IOHDRSZ);
      }
      case T.read: {
        const f = this.fid(r.u32());
        const offset = r.u64();
        const count = Math.min(r.u32(), this.msize - IOHDRSZ);
        if (f.fd === undefined) throw new SyscallError(Errno.EBADF);
        const w = new Writer(11 + count).u32(0);
        const n = fs.readSync(f.fd, w.reserve(count), 0, count, offset);
        w.off -= 4;
        w.u32(n);
        w.off += n;
        return w;
      }
      case T.write: {
        this.writable();
        const f = this.fid(r.u32());
        const offset = r.u64();
        const count = r.u32();
        if (f.fd === undefined) throw new SyscallError(Errno.EBADF);
        const n = fs.writeSync(f.fd, r.bytes(count), 0, count, offset); // bytes() checks count against the message
        return this.reply().u32(n);
      }
      case T.readdir: {
        const f = this.fid(r.u32());
        const offset = r.u64();
        const count = Math.min(r.u32(), this.msize - IOHDRSZ);
        if (!f.entries) throw new SyscallError(Errno.EBADF);
        const entries = f.entries;
        const w = new Writer(11 + count).u32(0);
        let used = 0;
        // The entries are host names of one directory: each is looked up from a pin of that
        // directory (one walk per batch, not one per entry; a link swapped in for it lists nothing).
        this.at(f.path, (h) =>
          this.fsys.pinned(h, (dir) => {
            for (let i = offset; i < entries.length; i++) {
              const name = entries[i]!;
              let st: fs.BigIntStats;
              try {
                if (name === ".") st = this.lstat(f.path);
                else if (name === "..") st = this.lstat(this.fsys.resolve(f.path, "..", false).guest);
                else st = fs.lstatSync(`${dir}/${name}`, { bigint: true });
              } catch {
                continue; // removed since the listing
              }
              const size = 13 + 8 + 1 + 2 + Buffer.byteLength(name);
              if (used + size > count) break;
              w.qid(st)
                .u64(i + 1)
                .u8(direntType(st))
                .str(name);
              used += size;
            }
          }),
        );
        const end = w.off;
        w.off = 7;
        w.u32(used);
        w.off = end;
        return w;
      }
      case T.clunk: {
        const n = r.u32();
        this.drop(n, this.fid(n));
        return this.reply();
      }
      case T.remove: {
        const n = r.u32();
        const f = this.fid(n);
        this.drop(n, f);
        this.writable();
        if (f.path === "/") throw new SyscallError(Errno.EBUSY);
        const dir = this.lstat(f.path).isDirectory();
        this.at(f.path, (h) => (dir ? fs.rmdirSync(h) : fs.unlinkSync(h)));
        return this.reply();
      }
      case T.statfs: {
        this.fid(r.u32());
        const s = fs.statfsSync(this.root, { bigint: true });
        return this.reply()
          .u32(Number(s.type))
          .u32(Number(s.bsize))
          .u64(s.blocks)
          .u64(s.bfree)
          .u64(s.bavail)
          .u64(s.files)
          .u64(s.ffree)
          .u64(0)
          .u32(255);
      }
      case T.fsync: {
        const f = this.fid(r.u32());
        if (f.fd !== undefined) fs.fsyncSync(f.fd);
        return this.reply();
      }
      case T.mkdir: {
        this.writable();
        const d = this.fid(r.u32());
        const path = this.child(d.path, r.str());
        const mode = r.u32();
        this.at(path, (h) => fs.mkdirSync(h, mode & 0o7777));
        return this.reply().qid(this.lstat(path));
      }
      case T.symlink: {
        this.writable();
        const d = this.fid(r.u32());
        const path = this.child(d.path, r.str());
        const target = r.str();
        // The target is stored as text: the guest resolves it in its own namespace, the host never follows it.
        this.at(path, (h) => fs.symlinkSync(target, h));
        return this.reply().qid(this.lstat(path));
      }
      case T.readlink: {
        const f = this.fid(r.u32());
        return this.reply().str(this.at(f.path, (h) => fs.readlinkSync(h)));
      }
      case T.link: {
        this.writable();
        const d = this.fid(r.u32());
        const f = this.fid(r.u32());
        const path = this.child(d.path, r.str());
        if (this.lstat(f.path).isDirectory()) throw new SyscallError(Errno.EPERM);
        this.at(f.path, (from) => this.at(path, (to) => fs.linkSync(from, to)));
        return this.reply();
      }
      case T.rename: {
        this.writable();
        const f = this.fid(r.u32());
        const d = this.fid(r.u32());
        const path = this.child(d.path, r.str());
        if (f.path === "/") throw new SyscallError(Errno.EBUSY);
        this.at(f.path, (old) => this.at(path, (to) => fs.renameSync(old, to)));
        f.path = path;
        return this.reply();
      }
      case T.renameat: {
        this.writable();
        const od = this.fid(r.u32());
        const from = this.child(od.path, r.str());
        const nd = this.fid(r.u32());
        const to = this.child(nd.path, r.str());
        this.at(from, (a) => this.at(to, (b) => fs.renameSync(a, b)));
        return this.reply();
      }
      case T.unlinkat: {
        this.writable();
        const d = this.fid(r.u32());
        const path = this.child(d.path, r.str());
        const flags = r.u32();
        this.at(path, (h) => (flags & AT_REMOVEDIR ? fs.rmdirSync(h) : fs.unlinkSync(h)));
        return this.reply();
      }
      case T.lock:
        return this.reply().u8(0); // P9_LOCK_SUCCESS: locks are advisory and local to the guest
      case T.getlock: {
        this.fid(r.u32());
        r.u8();
        const start = r.u64();
        const length = r.u64();
        const proc = r.u32();
        const client = r.str();
        return this.reply().u8(2).u64(start).u64(length).u32(proc).str(client); // F_UNLCK: no conflict
      }
      case T.xattrwalk:
      case T.xattrcreate:
        throw new SyscallError(Errno.EOPNOTSUPP);
      case T.mknod:
        throw new SyscallError(Errno.EPERM);
      default:
        throw new SyscallError(Errno.EOPNOTSUPP);
    }
  }

  /** Closes every open host descriptor (device reset or VM end). */
  reset(): void {
    for (const [n, f] of this.fids) this.drop(n, f);
  }
}

function hostFlags(l: number): number {
  const c = fs.constants;
  const acc = l & L_O_ACCMODE;
  let h = acc === 0 ? c.O_RDONLY : acc === 1 ? c.O_WRONLY : c.O_RDWR;
  if (l & L_O_TRUNC) h |= c.O_TRUNC;
  if (l & L_O_APPEND) h |= c.O_APPEND;
  if (l & L_O_DIRECTORY) h |= c.O_DIRECTORY;
  return h;
}

/** d_type (include/linux/fs_types.h DT_*). */
function direntType(st: fs.BigIntStats): number {
  if (st.isDirectory()) return 4;
  if (st.isSymbolicLink()) return 10;
  if (st.isFile()) return 8;
  if (st.isCharacterDevice()) return 2;
  if (st.isBlockDevice()) return 6;
  if (st.isFIFO()) return 1;
  if (st.isSocket()) return 12;
  return 0;
}

function errnoOfHost(e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code === "string" && Object.prototype.hasOwnProperty.call(Errno, code))
    return Errno[code as keyof typeof Errno];
  return Errno.EIO;
}
