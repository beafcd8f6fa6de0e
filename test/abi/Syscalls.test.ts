// Unit tests of the system call handlers (src/abi/syscalls/), through the kernel's dispatcher with a
// scripted CPU: registers set as the riscv64 syscall ABI does, results read back from a0 and from
// the process's memory. A few focused checks per area; the C programs (ExecPrograms.test.ts)
// compare whole behaviours with qemu-riscv64.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AddressSpace, PROT_READ, PROT_WRITE } from "../../src/abi/AddressSpace.js";
import { Errno, SyscallError } from "../../src/abi/Errno.js";
import { OutOfFramesError } from "../../src/abi/FrameAllocator.js";
import { BLOCK, Kernel, type SyscallResult } from "../../src/abi/Kernel.js";
import { FdTable } from "../../src/abi/OpenFile.js";
import type { Process } from "../../src/abi/Process.js";
import { implementedSyscalls } from "../../src/abi/Syscalls.js";
import { SYSCALL_NAMES, sysno } from "../../src/abi/SyscallTable.js";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { ScriptedCpu } from "./ScriptedCpu.js";

const BUF = 0x10000;
const dir = mkdtempSync(join(tmpdir(), "tv-sys-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

interface Rig {
  k: Kernel;
  cpu: ScriptedCpu;
  p: Process;
  logs: string[];
  /** Makes one system call as the guest would; returns a0 (negative: -errno). */
  call(name: string, ...args: (number | bigint)[]): number;
  str(s: string, at?: number): number;
}

function rig(opts: { maxProcs?: number; root?: string } = {}): Rig {
  const memory = new GuestMemory({ base: 0x8000_0000, size: 16 << 20, shared: false });
  const cpu = new ScriptedCpu();
  const logs: string[] = [];
  const k = new Kernel({ memory, cpu, log: (l) => logs.push(l), maxProcs: opts.maxProcs, root: opts.root });
  const p = k.newProcess(new AddressSpace(k.frames), new FdTable());
  p.cwd = dir;
  k.init = p;
  p.space.map(BUF, 16 * 4096, PROT_READ | PROT_WRITE, "scratch");
  const call = (name: string, ...args: (number | bigint)[]): number => {
    cpu.load(name, args);
    let r: SyscallResult;
    try {
      r = k.syscalls.dispatch(p, sysno(name));
    } catch (e) {
      if (e instanceof SyscallError) return -e.errno;
      if (e instanceof OutOfFramesError) return -Errno.ENOMEM;
      throw e;
    }
    if (r === BLOCK) return Number.NaN;
    return Number(r);
  };
  const str = (s: string, at = BUF + 0x8000) => {
    p.space.write(at, Buffer.from(s + "\0"));
    return at;
  };
  return { k, cpu, p, logs, call, str };
}

test("dispatch: every handler is a named riscv64 call; an unknown number is ENOSYS, reported once", () => {
  const nrs = implementedSyscalls();
  assert.ok(nrs.length > 130, `${nrs.length} calls`);
  for (const nr of nrs) assert.ok(SYSCALL_NAMES[nr], `handler for unnamed call ${nr}`);
  const r = rig();
  r.cpu.load("getpid", []);
  assert.equal(r.k.syscalls.dispatch(r.p, 9999), -Errno.ENOSYS);
  assert.equal(r.k.syscalls.dispatch(r.p, 9999), -Errno.ENOSYS);
  assert.equal(r.k.syscalls.dispatch(r.p, -1), -Errno.ENOSYS);
  assert.deepEqual(r.logs.filter((l) => /9999/.test(l)).length, 1);
});

test("files: openat/write/lseek/pread64/fstat/close on a host file, ENOENT and EFAULT", () => {
  const { call, str, p } = rig();
  const O_RDWR = 2,
    O_CREAT = 0o100;
  const fd = call("openat", -100, str("f.txt"), O_RDWR | O_CREAT, 0o644);
  assert.equal(fd, 0, "lowest free descriptor");
  p.space.write(BUF, Buffer.from("hello world"));
  assert.equal(call("write", fd, BUF, 11), 11);
  assert.equal(readFileSync(join(dir, "f.txt"), "utf8"), "hello world");
  assert.equal(call("lseek", fd, 6, 0), 6);
  assert.equal(call("pread64", fd, BUF + 100, 5, 0), 5);
  assert.equal(Buffer.from(p.space.read(BUF + 100, 5)).toString(), "hello");
  assert.equal(call("read", fd, BUF + 200, 100), 5, "read continues at the file offset");
  assert.equal(call("fstat", fd, BUF + 300), 0);
  assert.equal(new DataView(p.space.read(BUF + 300, 128).buffer).getBigInt64(48, true), 11n, "st_size");
  assert.equal(call("pread64", fd, BUF, 1, -1), -Errno.EINVAL);
  assert.equal(call("close", fd), 0);
  assert.equal(call("close", fd), -Errno.EBADF);
  assert.equal(call("openat", -100, str("missing/x"), 0, 0), -Errno.ENOENT);
  assert.equal(call("openat", -100, 0xdead_0000, 0, 0), -Errno.EFAULT);
});

test("files: mkdirat, getdents64, renameat2 NOREPLACE, unlinkat, getcwd, chdir", () => {
  const { call, str, p } = rig();
  writeFileSync(join(dir, "g1"), "");
  assert.equal(call("mkdirat", -100, str("sub"), 0o755), 0);
  assert.equal(call("mkdirat", -100, str("sub"), 0o755), -Errno.EEXIST);
  assert.equal(call("renameat2", -100, str("g1", BUF + 0x8000), -100, str("sub/g2", BUF + 0x9000), 1), 0);
  writeFileSync(join(dir, "g1"), "");
  assert.equal(call("renameat2", -100, str("g1", BUF + 0x8000), -100, str("sub/g2", BUF + 0x9000), 1), -Errno.EEXIST);
  const fd = call("openat", -100, str("sub"), 0o200000, 0);
  const n = call("getdents64", fd, BUF, 4096);
  const names: string[] = [];
  const bytes = p.space.read(BUF, n);
  for (let o = 0; o < n;) {
    const reclen = bytes[o + 16]! | (bytes[o + 17]! << 8);
    names.push(
      Buffer.from(bytes.subarray(o + 19, o + reclen))
        .toString()
        .replace(/\0+$/, ""),
    );
    o += reclen;
  }
  assert.deepEqual(names.sort(), [".", "..", "g2"]);
  assert.equal(call("unlinkat", -100, str("sub"), 0), -Errno.EISDIR);
  assert.equal(call("unlinkat", fd, str("g2"), 0), 0, "relative to a directory descriptor");
  assert.equal(call("chdir", str("sub")), 0);
  const len = call("getcwd", BUF, 4096);
  assert.equal(Buffer.from(p.space.read(BUF, len - 1)).toString(), join(dir, "sub"));
  assert.equal(call("getcwd", BUF, 3), -Errno.ERANGE);
  assert.equal(call("unlinkat", -100, str(join(dir, "sub")), 0x200), 0, "AT_REMOVEDIR");
});

test("descriptors: pipe2, dup3, fcntl descriptor flags, ioctl on a non-terminal", () => {
  const { call, p } = rig();
  assert.equal(call("pipe2", BUF, 0), 0);
  const [rd, wr] = [...new Int32Array(p.space.read(BUF, 8).buffer)];
  p.space.write(BUF + 64, Buffer.from("ping"));
  assert.equal(call("write", wr!, BUF + 64, 4), 4);
  assert.equal(call("dup3", rd!, 10, 0o2000000), 10);
  assert.equal(call("fcntl", 10, 1, 0), 1, "F_GETFD: FD_CLOEXEC from dup3");
  assert.equal(call("fcntl", rd!, 1, 0), 0);
  assert.equal(call("dup3", rd!, rd!, 0), -Errno.EINVAL);
  assert.equal(call("read", 10, BUF + 128, 100), 4);
  assert.equal(Buffer.from(p.space.read(BUF + 128, 4)).toString(), "ping");
  assert.ok(Number.isNaN(call("read", 10, BUF + 128, 100)), "an empty pipe with a writer blocks");
  assert.equal(call("fcntl", rd!, 4, 0o4000), 0, "F_SETFL O_NONBLOCK");
  assert.equal(call("read", rd!, BUF + 128, 100), -Errno.EAGAIN, "shared open file description");
  assert.equal(call("ioctl", rd!, 0x5401, BUF), -Errno.ENOTTY, "TCGETS on a pipe");
  assert.equal(call("close", wr!), 0);
  assert.equal(call("read", 10, BUF + 128, 100), 0, "EOF once every writer is gone");
});

test("memory: mmap anonymous, misaligned munmap, overcommit guess, brk", () => {
  const { call, p, k } = rig();
  const PROT_RW = 3,
    MAP_PRIVATE_ANON = 0x22;
  const a = call("mmap", 0, 10000, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
  assert.ok(a > 0 && a % 4096 === 0);
  p.space.write(a + 9999, new Uint8Array([5]));
  assert.equal(call("munmap", a + 1, 4096), -Errno.EINVAL);
  assert.equal(call("munmap", a, 12288), 0);
  assert.equal(call("mmap", 0, 4096, 0x10, MAP_PRIVATE_ANON, -1, 0), -Errno.EINVAL, "unknown PROT bit");
  assert.equal(call("mmap", 0, (k.frames.total + 1) * 4096, PROT_RW, MAP_PRIVATE_ANON, -1, 0), -Errno.ENOMEM);
  assert.ok(
    call("mmap", 0, (k.frames.total + 1) * 4096, 1, MAP_PRIVATE_ANON, -1, 0) > 0,
    "read-only reservations are not committed",
  );
  p.space.brkStart = p.space.brk = 0x40_0000;
  assert.equal(call("brk", 0), 0x40_0000);
  assert.equal(call("brk", 0x40_8000), 0x40_8000);
  assert.equal(
    call("brk", 0x40_0000 + (k.frames.total + 64) * 4096),
    0x40_8000,
    "brk beyond all memory fails: old break",
  );
});

test("time: clock_gettime and gettimeofday agree with the host; clock_getres; a bad pointer is EFAULT", () => {
  const { call, p } = rig();
  assert.equal(call("clock_gettime", 0, BUF), 0);
  const sec = Number(new DataView(p.space.read(BUF, 16).buffer).getBigInt64(0, true));
  assert.ok(Math.abs(sec - Date.now() / 1000) < 5);
  assert.equal(call("clock_gettime", 1, BUF), 0);
  const ns = new DataView(p.space.read(BUF, 16).buffer).getBigInt64(8, true);
  assert.ok(ns >= 0n && ns < 1_000_000_000n);
  assert.equal(call("clock_getres", 1, BUF), 0);
  assert.equal(call("clock_gettime", 0, 0xdead_0000), -Errno.EFAULT);
  assert.equal(call("gettimeofday", BUF, 0), 0);
  assert.ok(Math.abs(Number(new DataView(p.space.read(BUF, 16).buffer).getBigInt64(0, true)) - Date.now() / 1000) < 5);
});

test("identity: pids, uname, prlimit (RLIMIT_NPROC is --max-procs), getrandom", () => {
  const { call, p } = rig({ maxProcs: 77 });
  assert.equal(call("getpid"), p.pid);
  assert.equal(call("gettid"), p.pid);
  assert.equal(call("uname", BUF), 0);
  const u = Buffer.from(p.space.read(BUF, 65 * 5));
  assert.equal(u.subarray(0, 5).toString(), "Linux");
  assert.equal(u.subarray(65 * 4, 65 * 4 + 7).toString(), "riscv64");
  assert.equal(call("prlimit64", 0, 6, 0, BUF), 0);
  assert.deepEqual([...new BigUint64Array(p.space.read(BUF, 16).buffer)], [77n, 77n]);
  assert.equal(call("prlimit64", 0, 99, 0, BUF), -Errno.EINVAL);
  assert.equal(call("getrandom", BUF, 32, 0), 32);
});

test("signals: rt_sigaction refuses SIGKILL, rt_sigprocmask round-trips and never blocks SIGKILL, kill -0", () => {
  const { call, p } = rig();
  assert.equal(call("rt_sigaction", 9, BUF, 0, 8), -Errno.EINVAL);
  assert.equal(call("rt_sigaction", 10, 0, BUF + 64, 8), 0);
  assert.equal(call("rt_sigaction", 10, 0, 0, 4), -Errno.EINVAL, "sigsetsize must be 8");
  p.space.write(BUF, new Uint8Array(new BigUint64Array([(1n << 8n) | (1n << 9n)]).buffer)); // SIGKILL (9), SIGUSR1 (10)
  assert.equal(call("rt_sigprocmask", 0, BUF, 0, 8), 0);
  assert.equal(call("rt_sigprocmask", 0, 0, BUF + 8, 8), 0);
  assert.equal(new BigUint64Array(p.space.read(BUF + 8, 8).buffer)[0], 1n << 9n, "SIGUSR1 blocked, SIGKILL not");
  assert.equal(call("kill", p.pid, 0), 0);
  assert.equal(call("kill", 4242, 0), -Errno.ESRCH);
});

test("processes: fork, the process limit is EAGAIN, wait4 without children ECHILD, CLONE_THREAD needs CLONE_SIGHAND", () => {
  const { call, k } = rig({ maxProcs: 2 });
  const SIGCHLD = 17;
  const child = call("clone", SIGCHLD, 0, 0, 0, 0);
  assert.ok(child > 0);
  assert.equal(k.procs.size, 2);
  assert.equal(call("clone", SIGCHLD, 0, 0, 0, 0), -Errno.EAGAIN);
  assert.equal(call("wait4", 4242, 0, 1, 0), -Errno.ECHILD);
  assert.equal(call("wait4", -1, 0, 1, 0), 0, "WNOHANG with a running child");
  k.exitProcess(k.procs.get(child)!, 3, false);
  assert.equal(call("wait4", -1, BUF, 0, 0), child);
  assert.equal(k.procs.size, 1, "reaped: the slot is free again");
  assert.equal(call("clone", 0x100 | 0x10000, 0, 0, 0, 0), -Errno.EINVAL, "CLONE_THREAD without CLONE_SIGHAND");
  assert.equal(call("clone", 0x100, 0, 0, 0, 0), -Errno.EINVAL, "CLONE_VM alone (no vfork, no thread group)");
});

test("threads: clone(CLONE_THREAD) shares the process, tgkill targets one thread, futex wake/requeue", () => {
  const { call, k, p } = rig();
  const THREAD = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x80000 | 0x100000 | 0x200000;
  const tid = call("clone", THREAD, BUF + 0x4000, BUF, 0x1234, BUF + 8);
  assert.ok(tid > p.pid);
  const t = k.procs.get(tid)!;
  assert.equal(t.tgid, p.pid, "same process id");
  assert.equal(t.space, p.space);
  assert.equal(t.fds, p.fds);
  assert.equal(t.actions, p.actions);
  assert.equal(t.x[4], 0x1234n, "tp from CLONE_SETTLS");
  assert.equal(p.space.readU32(BUF), tid, "CLONE_PARENT_SETTID");
  assert.equal(call("tgkill", p.pid, tid, 10), 0);
  assert.equal(t.pending, 1n << 9n, "SIGUSR1 pending on the thread only");
  assert.equal(p.pending, 0n);
  assert.equal(call("tgkill", 4242, tid, 10), -Errno.ESRCH, "wrong thread group");
  // futex: nobody waits yet; a wait with a changed value is EAGAIN; the only thread cannot wait alone.
  p.space.write(BUF + 64, new Uint8Array([1, 0, 0, 0]));
  assert.equal(call("futex", BUF + 64, 129, 5), 0, "FUTEX_WAKE_PRIVATE with no waiter");
  assert.equal(call("futex", BUF + 64, 128, 2, 0), -Errno.EAGAIN, "value changed");
  assert.equal(call("futex", BUF + 66, 128, 1, 0), -Errno.EINVAL, "misaligned");
  k.exitThread(t, 0);
  assert.equal(p.space.readU32(BUF + 8), 0, "CLONE_CHILD_CLEARTID zeroed at exit");
  assert.equal(k.procs.has(tid), false);
  assert.equal(call("futex", BUF + 64, 128, 1, 0), -Errno.EDEADLK, "a lone thread waiting forever");
});

test("a scripted program runs through the scheduler: results land in a0, exit_group ends it with its status", async () => {
  const { k, cpu, p } = rig();
  k.runQueue.push(p);
  cpu.script.push(
    { name: "getpid", args: [] },
    { name: "getppid", args: [] },
    { name: "close", args: [55] },
    { name: "exit_group", args: [3] },
  );
  assert.equal(await k.run(), 3);
  assert.deepEqual(cpu.results, [BigInt(p.pid), 1n, BigInt(-Errno.EBADF)]);
});

test("switching between threads drops the hart's LR reservation (an SC must not pair with another thread's LR)", async () => {
  const { k, cpu, p } = rig();
  k.runQueue.push(p);
  const THREAD = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000;
  cpu.script.push({ name: "clone", args: [THREAD, BUF + 0x4000, 0, 0, 0] });
  // Enough calls for both tasks to get slices (a slice ends after about 20 traps here).
  for (let i = 0; i < 100; i++) cpu.script.push({ name: "gettid", args: [] });
  cpu.script.push({ name: "exit_group", args: [0] });
  const before = cpu.reservationClears;
  assert.equal(await k.run(), 0);
  const tids = new Set(
    cpu.results
      .slice(1)
      .map(Number)
      .filter((v) => v > 0),
  );
  assert.equal(tids.size, 2, "both threads ran");
  assert.ok(cpu.reservationClears - before >= 2, `${cpu.reservationClears - before} clears`);
});
