// Packing of the stat structures the riscv64 ABI uses: struct stat from
// include/uapi/asm-generic/stat.h (128 bytes: riscv64 has no struct stat of its own) and
// struct statx from include/uapi/linux/stat.h (256 bytes).
import type * as fs from "node:fs";

export const STAT_SIZE = 128;
export const STATX_SIZE = 256;

export const S_IFMT = 0o170000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFSOCK = 0o140000;

/** The fields we fill, as a plain record (bigint times in ns, like Node's BigIntStats). */
export interface StatInfo {
  dev: bigint;
  ino: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: bigint;
  size: bigint;
  blksize: number;
  blocks: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  birthtimeNs: bigint;
}

export function statInfoOf(s: fs.BigIntStats): StatInfo {
  return {
    dev: s.dev,
    ino: s.ino,
    mode: Number(s.mode),
    nlink: Number(s.nlink),
    uid: Number(s.uid),
    gid: Number(s.gid),
    rdev: s.rdev,
    size: s.size,
    blksize: Number(s.blksize),
    blocks: s.blocks,
    atimeNs: s.atimeNs,
    mtimeNs: s.mtimeNs,
    ctimeNs: s.ctimeNs,
    birthtimeNs: s.birthtimeNs,
  };
}

/** A synthetic stat for objects with no host file (pipes). */
export function syntheticStat(mode: number, ino: number, uid: number, gid: number): StatInfo {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    dev: 12n,
    ino: BigInt(ino),
    mode,
    nlink: 1,
    uid,
    gid,
    rdev: 0n,
    size: 0n,
    blksize: 4096,
    blocks: 0n,
    atimeNs: now,
    mtimeNs: now,
    ctimeNs: now,
    birthtimeNs: now,
  };
}

const NS = 1_000_000_000n;

/** Linux's new_encode_dev: major/minor packing in st_dev/st_rdev is the host's; pass it through. */
export function packStat(s: StatInfo): Uint8Array {
  const b = new Uint8Array(STAT_SIZE);
  const d = new DataView(b.buffer);
  d.setBigUint64(0, s.dev, true);
  d.setBigUint64(8, s.ino, true);
  d.setUint32(16, s.mode, true);
  d.setUint32(20, s.nlink, true);
  d.setUint32(24, s.uid, true);
  d.setUint32(28, s.gid, true);
  d.setBigUint64(32, s.rdev, true);
  d.setBigInt64(48, s.size, true);
  d.setInt32(56, s.blksize, true);
  d.setBigInt64(64, s.blocks, true);
  const t = (off: number, ns: bigint) => {
    d.setBigInt64(off, ns / NS, true);
    d.setBigUint64(off + 8, ns % NS, true);
  };
  t(72, s.atimeNs);
  t(88, s.mtimeNs);
  t(104, s.ctimeNs);
  return b;
}

// statx mask bits (include/uapi/linux/stat.h): STATX_BASIC_STATS | STATX_BTIME.
const STATX_BASIC_STATS = 0x7ff;
const STATX_BTIME = 0x800;

export function packStatx(s: StatInfo): Uint8Array {
  const b = new Uint8Array(STATX_SIZE);
  const d = new DataView(b.buffer);
  d.setUint32(0, STATX_BASIC_STATS | STATX_BTIME, true);
  d.setUint32(4, s.blksize, true);
  d.setUint32(16, s.nlink, true);
  d.setUint32(20, s.uid, true);
  d.setUint32(24, s.gid, true);
  d.setUint16(28, s.mode, true);
  d.setBigUint64(32, s.ino, true);
  d.setBigUint64(40, s.size, true);
  d.setBigUint64(48, s.blocks, true);
  const t = (off: number, ns: bigint) => {
    d.setBigInt64(off, ns / NS, true);
    d.setUint32(off + 8, Number(ns % NS), true);
  };
  t(64, s.atimeNs);
  t(80, s.birthtimeNs);
  t(96, s.ctimeNs);
  t(112, s.mtimeNs);
  // Linux's huge-encoded dev_t (new_encode_dev): major = bits 8..19 and 32..43, minor = the rest.
  const major = (x: bigint) => Number(((x >> 8n) & 0xfffn) | ((x >> 32n) & ~0xfffn));
  const minor = (x: bigint) => Number((x & 0xffn) | ((x >> 12n) & ~0xffn)) >>> 0;
  d.setUint32(128, major(s.rdev), true);
  d.setUint32(132, minor(s.rdev), true);
  d.setUint32(136, major(s.dev), true);
  d.setUint32(140, minor(s.dev), true);
  return b;
}
