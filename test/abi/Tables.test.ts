// The riscv64 system call table, errno mapping from Node errors, and the stat structure layouts.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { SYSCALL_NAMES, syscallName, sysno } from "../../src/abi/SyscallTable.js";
import { Errno, errnoName, errnoOf } from "../../src/abi/Errno.js";
import { packStat, packStatx, STAT_SIZE, STATX_SIZE, type StatInfo } from "../../src/abi/Stat.js";

test("system call numbers are the asm-generic ones riscv64 uses", () => {
  const expected: [string, number][] = [
    ["getcwd", 17],
    ["dup3", 24],
    ["fcntl", 25],
    ["ioctl", 29],
    ["openat", 56],
    ["close", 57],
    ["pipe2", 59],
    ["getdents64", 61],
    ["lseek", 62],
    ["read", 63],
    ["write", 64],
    ["newfstatat", 79],
    ["fstat", 80],
    ["exit_group", 94],
    ["futex", 98],
    ["clock_gettime", 113],
    ["rt_sigreturn", 139],
    ["uname", 160],
    ["brk", 214],
    ["munmap", 215],
    ["clone", 220],
    ["execve", 221],
    ["mmap", 222],
    ["wait4", 260],
    ["prlimit64", 261],
    ["renameat2", 276],
    ["getrandom", 278],
    ["statx", 291],
    ["riscv_hwprobe", 258],
    ["riscv_flush_icache", 259],
    ["clone3", 435],
    ["faccessat2", 439],
  ];
  for (const [name, n] of expected) assert.equal(sysno(name), n, name);
  assert.equal(SYSCALL_NAMES[1079], undefined, "no old-style open/stat numbers on riscv64");
  assert.equal(syscallName(9999), "syscall_9999");
});

test("Node's host errors map to Linux errno values by name", () => {
  const err = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return errnoOf(e);
    }
    return 0;
  };
  assert.equal(
    err(() => fs.readFileSync("/nonexistent/file")),
    Errno.ENOENT,
  );
  assert.equal(
    err(() => fs.readdirSync("/etc/passwd")),
    Errno.ENOTDIR,
  );
  assert.equal(
    err(() => fs.mkdirSync("/")),
    Errno.EEXIST,
  );
  assert.equal(errnoOf(new Error("something odd")), Errno.EIO);
  assert.equal(Errno.ENOENT, 2);
  assert.equal(Errno.EAGAIN, 11);
  assert.equal(Errno.ENOSYS, 38);
  assert.equal(Errno.ELOOP, 40);
  assert.equal(errnoName(14), "EFAULT");
});

const sample: StatInfo = {
  dev: 0x803n,
  ino: 123456789n,
  mode: 0o100644,
  nlink: 2,
  uid: 1000,
  gid: 100,
  rdev: 0n,
  size: 5000n,
  blksize: 4096,
  blocks: 16n,
  atimeNs: 1_700_000_000_123_456_789n,
  mtimeNs: 1_600_000_000_000_000_001n,
  ctimeNs: 1_500_000_000_999_999_999n,
  birthtimeNs: 1_400_000_000_000_000_000n,
};

test("struct stat is the 128-byte asm-generic layout", () => {
  const b = packStat(sample);
  const d = new DataView(b.buffer);
  assert.equal(b.length, STAT_SIZE);
  assert.equal(d.getBigUint64(0, true), 0x803n);
  assert.equal(d.getBigUint64(8, true), 123456789n);
  assert.equal(d.getUint32(16, true), 0o100644);
  assert.equal(d.getUint32(20, true), 2);
  assert.equal(d.getUint32(24, true), 1000);
  assert.equal(d.getUint32(28, true), 100);
  assert.equal(d.getBigInt64(48, true), 5000n);
  assert.equal(d.getInt32(56, true), 4096);
  assert.equal(d.getBigInt64(64, true), 16n);
  assert.equal(d.getBigInt64(72, true), 1_700_000_000n);
  assert.equal(d.getBigUint64(80, true), 123_456_789n);
  assert.equal(d.getBigInt64(88, true), 1_600_000_000n);
  assert.equal(d.getBigUint64(96, true), 1n);
  assert.equal(d.getBigInt64(104, true), 1_500_000_000n);
  assert.equal(d.getBigUint64(112, true), 999_999_999n);
});

test("struct statx is the 256-byte linux/stat.h layout", () => {
  const b = packStatx(sample);
  const d = new DataView(b.buffer);
  assert.equal(b.length, STATX_SIZE);
  assert.equal(d.getUint32(0, true) & 0x7ff, 0x7ff);
  assert.equal(d.getUint32(16, true), 2);
  assert.equal(d.getUint16(28, true), 0o100644);
  assert.equal(d.getBigUint64(32, true), 123456789n);
  assert.equal(d.getBigUint64(40, true), 5000n);
  assert.equal(d.getBigInt64(112, true), 1_600_000_000n, "stx_mtime.tv_sec");
  assert.equal(d.getUint32(120, true), 1, "stx_mtime.tv_nsec");
  assert.equal(d.getUint32(136, true), 8, "stx_dev_major");
  assert.equal(d.getUint32(140, true), 3, "stx_dev_minor");
});
