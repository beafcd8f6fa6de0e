// Real RISC-V programs (compiled from test/abi/programs/*.c with Debian's riscv64 cross gcc) under
// `typevisor exec`, compared with Debian's qemu-riscv64 running the same binary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile, have, run, scratch, texec, TRANSLATE_EVERYTHING } from "./helpers.js";

const noGcc = !have("riscv64-linux-gnu-gcc")
  ? "riscv64-linux-gnu-gcc is not installed (apt-get install gcc-riscv64-linux-gnu)"
  : undefined;
const noQemu = !have("qemu-riscv64") ? "qemu-riscv64 is not installed (apt-get install qemu-user)" : undefined;

test("file and directory system calls give the same results as under qemu-riscv64", (t) => {
  if (noGcc || noQemu) return t.skip(noGcc ?? noQemu);
  const bin = compile("files")!;
  const a = scratch("files-qemu");
  const b = scratch("files-tv");
  const q = run("qemu-riscv64", [bin, a]);
  const r = texec([bin, b]);
  assert.equal(q.status, 0, q.stderr);
  assert.equal(r.stderr, "");
  assert.equal(r.stdout.replaceAll(b, "DIR"), q.stdout.replaceAll(a, "DIR"));
  assert.equal(r.status, 0);
  assert.match(r.stdout, /read back: world/);
  assert.deepEqual(readdirSync(b), [], "the program removed everything it created");
});

test("hostile system call arguments get Linux's errors and the program survives", (t) => {
  if (noGcc || noQemu) return t.skip(noGcc ?? noQemu);
  const bin = compile("hostile")!;
  const q = run("qemu-riscv64", [bin], "some input\n");
  const r = texec([bin], "some input\n");
  assert.equal(r.stdout, q.stdout);
  assert.match(r.stdout, /survived/);
  assert.equal(r.status, 0);
  // An unknown system call is reported once, with its number.
  assert.match(r.stderr, /unsupported system call 9999/);
});

test("fork, pipes, wait4, execve, exit statuses and signal handlers behave as on Linux", (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("procs")!;
  const r = texec([bin]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "pipe total=128000 waited right child=1 exited=1 code=7",
      "wait again: -1 errno=ECHILD",
      "exec'd child argv[2]=xyz",
      "exec child exit=42",
      "segv child signaled=1 sig=11",
      "killed child sig=15",
      "handler ran: got=1010",
      "blocked: got=0",
      "unblocked: got=1010",
      "write to closed pipe: -1 errno=EPIPE",
      "getppid>0: 1, getpid!=child: 1",
      "",
    ].join("\n"),
  );
});

test("a crashing program ends with 'Segmentation fault' and status 139, not a Typevisor crash", (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("crash")!;
  const r = texec([bin]);
  assert.equal(r.status, 139);
  assert.match(r.stderr, /Segmentation fault/);
  assert.equal(r.stdout, "before\n");
});

test("a dynamically linked program runs with its interpreter and libc from --root", (t) => {
  if (noGcc) return t.skip(noGcc);
  const lib = "/usr/riscv64-linux-gnu/lib";
  if (!existsSync(join(lib, "ld-linux-riscv64-lp64d.so.1"))) return t.skip("no riscv64 libc (libc6-riscv64-cross)");
  const bin = compile("crash", ["-O1"])!;
  const root = scratch("dynroot");
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "lib"), { recursive: true });
  run("cp", ["-L", join(lib, "ld-linux-riscv64-lp64d.so.1"), join(lib, "libc.so.6"), join(root, "lib")]);
  run("cp", [bin, join(root, "prog")]);
  const r = texec(["--root", root, "/prog", "ok"]);
  assert.equal(r.stdout, "before\nno crash requested\n");
  assert.equal(r.status, 0, r.stderr);
});

test("a missing program is a clear error, not a stack trace", () => {
  const r = texec(["/nonexistent/prog"]);
  assert.equal(r.status, 127);
  assert.match(r.stderr, /\/nonexistent\/prog: no such file/);
});

test("the initial stack, auxv, --env, poll timeouts, mremap and terminal ioctls match qemu-riscv64", (t) => {
  if (noGcc || noQemu) return t.skip(noGcc ?? noQemu);
  const bin = compile("misc")!;
  const q = spawnSync("qemu-riscv64", [bin, "one"], { env: { FOO: "bar" }, encoding: "utf8" });
  const r = texec(["--env", "FOO=bar", bin, "one"]);
  assert.equal(r.stdout, q.stdout);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /poll timeout r=0 waited>=50ms=1/);
});

test("--strace prints each system call with its arguments and result", (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("crash")!;
  const r = texec(["--strace", bin, "x"]);
  assert.equal(r.status, 0);
  assert.match(r.stderr, /\[pid \d+\] write\(1, 0x[0-9a-f]+, 7, .*\) = 7\n/);
  assert.match(r.stderr, /\[pid \d+\] exit_group\(0/);
  assert.match(r.stderr, /brk\(0, .*\) = 0x[0-9a-f]+/);
});

async function interrupt(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(new URL(".", import.meta.url).pathname, "runExec.js"), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve) => {
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes("ready")) resolve();
    });
  });
  child.kill("SIGINT");
  const status = await new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  return { status, stdout, stderr };
}

test("SIGINT sent to Typevisor reaches a guest blocked in pause(): default action and a handler", async (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("sleeper")!;
  const a = await interrupt([bin]);
  assert.equal(a.status, 130);
  assert.equal(a.stdout, "ready\n");
  const b = await interrupt([bin, "catch"]);
  assert.equal(b.stdout, "ready\ncaught 2\n");
  assert.equal(b.status, 9);
});

test("vfork and posix_spawn share the parent's memory until exec: spawn failures are reported", (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("spawn")!;
  const r = texec([bin]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    "spawned child via-vfork\nvfork child exit 5\nspawned child via-posix_spawn\nposix_spawn r=0 exit 5\nposix_spawn of missing file r=2\n",
  );
});

test("a fork bomb stops at the process limit with EAGAIN, not a crash (--max-procs, RLIMIT_NPROC)", (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("forkbomb")!;
  const r = texec(["--max-procs", "64", bin], undefined, 60_000);
  assert.match(r.stdout, /^fork failed after \d+: EAGAIN \(RLIMIT_NPROC 64\)\n$/);
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
  // The default limit ends it too, long before the memory pool runs out.
  const d = texec([bin], undefined, 60_000);
  assert.match(d.stdout, /^fork failed after \d+: EAGAIN \(RLIMIT_NPROC 4096\)\n$/);
  assert.equal(d.stderr, "");
  assert.equal(d.status, 0);
});

test("a fork bomb in too little memory: processes that cannot get a page are OOM-killed, never a SIGSEGV or a crash", (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("forkbomb")!;
  const r = texec(["--memory", "16M", bin], undefined, 60_000);
  assert.match(r.stderr, /typevisor: out of memory: killed process \d+ \(forkbomb\): .*16 MiB/);
  assert.doesNotMatch(r.stderr, /Segmentation fault|internal error/);
  // The first process either saw fork fail (ENOMEM/EAGAIN) or was itself killed (SIGKILL: 137).
  assert.ok(r.status === 0 || r.status === 137, `status ${r.status}`);
  if (r.status === 0) assert.match(r.stdout, /fork failed after \d+: (ENOMEM|EAGAIN)/);
});

test("memory exhaustion: mmap and brk beyond all memory get ENOMEM, a child that touches too much is OOM-killed alone", (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("oom")!;
  const r = texec(["--memory", "64M", bin, "16"], undefined, 60_000);
  assert.equal(
    r.stdout,
    [
      "mmap 64 GiB: ENOMEM",
      "sbrk 64 GiB: ENOMEM",
      "brk unchanged: 1",
      "untouched 16 MiB mappings: 64",
      "child: killed by signal 9",
      "parent touched 16 MiB after the child died: 2",
      "",
    ].join("\n"),
  );
  assert.match(
    r.stderr,
    /^typevisor: out of memory: killed process \d+ \(oom\): out of guest memory: all 16384 frames \(64 MiB\) are in use \(raise --memory\)\n$/,
  );
  assert.equal(r.status, 0);
});

test("close_range, copy_file_range, waitid, epoll and SIGALRM from setitimer/alarm match qemu-riscv64", (t) => {
  if (noGcc || noQemu) return t.skip(noGcc ?? noQemu);
  const bin = compile("newcalls")!;
  const q = run("qemu-riscv64", [bin, scratch("newcalls-qemu")]);
  const r = texec([bin, scratch("newcalls-tv")], undefined, 60_000);
  assert.equal(q.status, 0, q.stderr);
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, q.stdout);
  assert.match(r.stdout, /3 alarms while computing\n/);
  assert.match(r.stdout, /epoll_wait blocking: 1 \[0x1111 0x1\]/);
  assert.equal(r.status, 0);
});

const sysroot = "/usr/riscv64-linux-gnu";
const noSysroot = !existsSync(join(sysroot, "lib/ld-linux-riscv64-lp64d.so.1"))
  ? `${sysroot} has no riscv64 libc (apt-get install gcc-riscv64-linux-gnu)`
  : undefined;

test("exec -L DIR (--sysroot) runs a dynamically linked program as qemu-riscv64 -L does: interpreter and libc from DIR, files and cwd the user's", (t) => {
  if (noGcc || noQemu || noSysroot) return t.skip(noGcc ?? noQemu ?? noSysroot);
  const bin = compile("sysroot", ["-O1"])!;
  const cwd = scratch("sysroot-cwd");
  writeFileSync(join(cwd, "input.txt"), "user file\n");
  const q = run("qemu-riscv64", ["-L", sysroot, bin], undefined, 60_000, cwd);
  assert.equal(q.status, 3, q.stderr);
  for (const args of [["-L", sysroot], ["--sysroot", sysroot], [`--sysroot=${sysroot}`]]) {
    const r = texec([...args, bin], undefined, 60_000, cwd);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, q.stdout);
    assert.equal(r.status, 3);
  }
  assert.match(q.stdout, /read user file/);
});

test("a dynamic program without its interpreter gets an error naming the interpreter and where it was looked for", (t) => {
  if (noGcc) return t.skip(noGcc);
  const bin = compile("sysroot", ["-O1"])!;
  const empty = scratch("no-sysroot");
  const r = texec(["-L", empty, bin]);
  assert.equal(r.status, 127);
  assert.match(
    r.stderr,
    new RegExp(
      `its program interpreter /lib/ld-linux-riscv64-lp64d.so.1 was not found \\(looked for ${empty}/lib/ld-linux-riscv64-lp64d.so.1 and /lib/ld-linux-riscv64-lp64d.so.1\\); give the directory that holds it with -L DIR`,
    ),
  );
  const root = scratch("root-without-ld");
  copyFileSync(bin, join(root, "prog"));
  const rr = texec(["--root", root, "/prog"]);
  assert.equal(rr.status, 127);
  assert.match(
    rr.stderr,
    new RegExp(`looked for ${root}/lib/ld-linux-riscv64-lp64d.so.1\\); it must be inside --root`),
  );
  const both = texec(["--root", root, "-L", empty, "/prog"]);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--root and -L cannot be combined/);
});

test("8 POSIX threads (mutex, condvar, barrier, TLS, timed wait, pthread_kill, join) match qemu-riscv64; a crash in a thread ends the process", (t) => {
  if (noGcc || noQemu) return t.skip(noGcc ?? noQemu);
  const bin = compile("threads", ["-O1", "-static", "-pthread"])!;
  const q = run("qemu-riscv64", [bin]);
  assert.equal(q.status, 7, q.stderr);
  for (const engine of ["dbt", "interp"]) {
    const r = texec(["--engine", engine, bin], undefined, 60_000, undefined, TRANSLATE_EVERYTHING);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, q.stdout);
    assert.equal(r.status, 7);
  }
  assert.match(
    q.stdout,
    /sum=720000 \(expected 720000\)\ntls per thread ok=1, main tls=100\nbarrier serial threads=1\nturn order: 0 1 2 3 4 5 6 7\n/,
  );
  const c = texec([bin, "crash"], undefined, 60_000);
  assert.equal(c.status, 139);
  assert.match(c.stderr, /Segmentation fault/);
  assert.equal(c.stdout, "");
});
