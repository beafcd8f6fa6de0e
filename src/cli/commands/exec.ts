// `typevisor exec`: runs a RISC-V 64 Linux program directly on the host, its system calls served by
// the user-mode ABI layer (src/abi/Kernel.ts) on one hart in U-mode. See docs/EXEC.md.
import type { Command } from "../Command.js";
import { engineBytes, useEngine } from "../../dbt/Engine.js";
import { engineOptionsFromEnv, parseEngine, reportEngineStatsAtExit, setEngineTiering } from "../EngineSetup.js";
import { UsageError, parseCommandArgs, parseSize } from "../Command.js";
import { GuestMemory } from "../../memory/GuestMemory.js";
import { IoBus } from "../../memory/IoBus.js";
import { Hart } from "../../riscv/Hart.js";
import { DEFAULT_MAX_PROCS, Kernel } from "../../abi/Kernel.js";

/**
 * Dispatches into a page before exec translates it (the translator's default is 512, chosen for a
 * Linux boot). A user program's start-up (the dynamic loader, libc and interpreter initialisation)
 * runs most of its code only a few times: translating it, and V8's TurboFan recompiling it, cost
 * more than interpreting it. Measured in CPU seconds on the loaded 2-core host (issue 15), 512 ->
 * 16384: busybox sh running `ls /usr/bin | wc -l` 1.5-1.85 -> 0.48, python3 -B -c pass 10.5-12 ->
 * 4.0-4.3; busybox gzip of 16 MB 2.7-3.4 -> 2.8-3.1 and sha256sum 1.06-1.18 -> 1.17-1.2 (within the
 * noise of that host).
 */
const EXEC_HOT_THRESHOLD = 16384;

const usage = `Usage: typevisor exec [--root DIR | -L DIR] [--env K=V]... [--clear-env] [--strace] [--memory SIZE]
                      [--max-procs N] [--engine E] PROGRAM [ARGS...]

Runs a RISC-V 64 Linux ELF program (static or dynamically linked) on this host, like qemu-riscv64:
the program's system calls are translated to the host's.

Options:
  --root DIR       make DIR the program's "/" (it cannot reach anything outside DIR); the program
                   interpreter (ld-linux-riscv64-lp64d.so.1) and libraries are looked up there.
                   Without --root the program sees the host's files.
  -L, --sysroot DIR
                   as qemu-riscv64 -L: absolute paths the program opens (its interpreter
                   /lib/ld-linux-riscv64-lp64d.so.1, libraries, /etc files) are looked up in DIR
                   first, then on the host; the program and the working directory are the host's.
                   Example: -L /usr/riscv64-linux-gnu for programs built with riscv64-linux-gnu-gcc.
                   Not a boundary (use --root for that); cannot be combined with --root.
  --env K=V        set an environment variable for the program (repeatable). The program gets
                   Typevisor's own environment plus these, as under qemu-user.
  --clear-env      start from an empty environment (PATH=/usr/local/bin:/usr/bin:/bin) instead.
  --strace         print every system call and its result to stderr, as strace does.
  --memory SIZE    guest memory pool shared by all guest processes (default 2047M; untouched memory
                   costs nothing). A process whose page cannot get memory is killed (SIGKILL,
                   as by Linux's OOM killer) with a message; the others go on.
  --max-procs N    most guest processes at once (RLIMIT_NPROC; default ${DEFAULT_MAX_PROCS}): fork and
                   clone fail with EAGAIN beyond it, so a fork bomb stops there.
  --engine E       CPU engine: dbt (binary translation to WebAssembly, default) or interp (interpreter).
                   dbt translates a code page after ${EXEC_HOT_THRESHOLD} dispatches (TYPEVISOR_DBT_HOT=N changes it).

Sockets (TCP/UDP over IPv4/IPv6, AF_UNIX) use the host's network stack as qemu-riscv64 does: a guest
server listens on the host's ports. Under --root, AF_UNIX socket files are made inside DIR.

The exit status is the program's; a program killed by a signal exits with 128+signal and the
message a shell would print (e.g. "Segmentation fault", status 139).`;

export const command: Command = {
  name: "exec",
  summary: "run a RISC-V 64 Linux program directly (system calls translated)",
  usage,
  async run(argv: string[]): Promise<number> {
    // Options end at the program name: everything after it belongs to the program.
    let split = 0;
    while (split < argv.length) {
      const a = argv[split]!;
      if (a === "--") break;
      if (!a.startsWith("--") && a !== "-L") break;
      split += a === "--strace" || a === "--inherit-env" || a === "--clear-env" || a.includes("=") ? 1 : 2;
      if (split > argv.length) split = argv.length;
    }
    const ours = argv.slice(0, split);
    let rest = argv.slice(split);
    if (rest[0] === "--") rest = rest.slice(1);
    const { values } = parseCommandArgs(
      "exec",
      ours,
      {
        root: { type: "string" },
        sysroot: { type: "string", short: "L" },
        env: { type: "string", multiple: true },
        strace: { type: "boolean" },
        "inherit-env": { type: "boolean" },
        "clear-env": { type: "boolean" },
        memory: { type: "string" },
        "max-procs": { type: "string" },
        engine: { type: "string" },
      },
      false,
    );
    const engine = parseEngine("exec", values.engine);
    if (rest.length === 0) throw new UsageError("exec: missing PROGRAM (see 'typevisor exec --help')");
    const env: string[] = [];
    const envMap = new Map<string, string>();
    if (!values["clear-env"]) {
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined) envMap.set(k, v);
    } else {
      envMap.set("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    for (const kv of values.env ?? []) {
      const eq = kv.indexOf("=");
      if (eq <= 0) throw new UsageError(`exec: --env '${kv}' is not of the form NAME=VALUE`);
      envMap.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
    for (const [k, v] of envMap) env.push(`${k}=${v}`);
    // Default: 2 GiB less 1 MiB, so the translator's engine area (registers, TLB mirrors) after the
    // pool stays below 2^31 in the wasm memory, where V8 folds its constant addresses into x86-64
    // displacements; at 2 GiB exactly every register access needed an extra instruction (measured:
    // sha256sum 2.7 -> 2.0 s, gzip 5.2 -> 4.3 s).
    const size = values.memory ? parseSize(values.memory, "--memory") : 2 * 1024 ** 3 - (1 << 20);
    if (size < 16 << 20 || size > 3 * 1024 ** 3 || size % 4096 !== 0) {
      throw new UsageError("exec: --memory must be between 16M and 3G");
    }
    let maxProcs = DEFAULT_MAX_PROCS;
    if (values["max-procs"] !== undefined) {
      maxProcs = Number(values["max-procs"]);
      if (!/^\d+$/.test(values["max-procs"]) || maxProcs < 1 || maxProcs > 1_000_000) {
        throw new UsageError(`exec: --max-procs '${values["max-procs"]}' must be a whole number from 1 to 1000000`);
      }
    }
    const memory = new GuestMemory({ base: 0x8000_0000, size, engineBytes: engineBytes(engine) });
    const hart = new Hart({ memory, bus: new IoBus() });
    // Long-running user programs gain from V8's TurboFan tier-up (src/dbt/WasmTiering.ts, docs/DBT.md).
    setEngineTiering(true);
    // A page is translated after EXEC_HOT_THRESHOLD dispatches unless TYPEVISOR_DBT_HOT says otherwise.
    const engineOpts = { hotThreshold: EXEC_HOT_THRESHOLD, ...engineOptionsFromEnv() };
    reportEngineStatsAtExit(hart, useEngine(hart, engine, engineOpts));
    let kernel: Kernel;
    try {
      kernel = new Kernel({
        memory,
        cpu: hart,
        root: values.root,
        sysroot: values.sysroot,
        strace: values.strace ?? false,
        maxProcs,
      });
    } catch (e) {
      throw new UsageError(`exec: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      kernel.spawn(rest[0]!, rest, env);
    } catch (e) {
      // 127 as a shell reports a command it cannot run.
      throw new UsageError(`exec: ${e instanceof Error ? e.message : String(e)}`, 127);
    }
    const status = await kernel.run();
    // A read of the host's stdin may still be waiting in libuv's thread pool (the program ended
    // without consuming all input); it would keep Typevisor alive until the next line is typed.
    if (kernel.stdin.started) process.exit(status);
    return status;
  },
};
