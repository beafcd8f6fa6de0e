// Shared helpers for the ABI tests: compiling the C test programs with the riscv64 cross compiler
// and running them under `typevisor exec` (and under qemu-riscv64, the differential oracle).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (this file is dist/test/abi/helpers.js). */
export const repo = join(here, "..", "..", "..");
export const programsDir = join(repo, "test", "abi", "programs");
const runner = join(here, "runExec.js");

export function have(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).status === 0;
}

let buildDir: string | undefined;
// The compiled programs and scratch directories go when the test file's process ends.
process.on("exit", () => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

/** Compiles test/abi/programs/NAME.c statically for riscv64; undefined if no cross compiler. */
export function compile(name: string, extra: string[] = []): string | undefined {
  if (!have("riscv64-linux-gnu-gcc")) return undefined;
  buildDir ??= mkdtempSync(join(tmpdir(), "tv-abi-"));
  const out = join(buildDir, name + (extra.includes("-static") || extra.length === 0 ? "" : "-dyn"));
  if (existsSync(out)) return out;
  const r = spawnSync(
    "riscv64-linux-gnu-gcc",
    ["-O1", ...(extra.length ? extra : ["-static"]), "-o", out, join(programsDir, name + ".c")],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`compiling ${name}.c failed:\n${r.stderr}`);
  return out;
}

/** Compiles test/abi/programs/NAME.c statically for the host (the real kernel as an oracle). */
export function compileHost(name: string): string | undefined {
  if (!have("gcc")) return undefined;
  buildDir ??= mkdtempSync(join(tmpdir(), "tv-abi-"));
  const out = join(buildDir, name + "-host");
  if (existsSync(out)) return out;
  const r = spawnSync("gcc", ["-O1", "-static", "-o", out, join(programsDir, name + ".c")], { encoding: "utf8" });
  if (r.status !== 0) return undefined; // no static libc for the host: the caller skips
  return out;
}

export function scratch(name: string): string {
  buildDir ??= mkdtempSync(join(tmpdir(), "tv-abi-"));
  const d = join(buildDir, name);
  mkdirSync(d, { recursive: true });
  return d;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment for a `--engine dbt` run that must exercise the translator: exec translates a page
 * only after 16384 dispatches, which a short test program never reaches.
 */
export const TRANSLATE_EVERYTHING = { ...process.env, TYPEVISOR_DBT_HOT: "1" };

/** Runs `typevisor exec ARGS` (in a child Node process) with optional stdin and environment. */
export function texec(
  args: string[],
  input?: string | Buffer,
  timeoutMs = 120_000,
  cwd?: string,
  env?: NodeJS.ProcessEnv,
): Run {
  const r = spawnSync(process.execPath, [runner, ...args], {
    input: input ?? "",
    timeout: timeoutMs,
    maxBuffer: 256 << 20,
    cwd,
    env,
  });
  return { status: r.status, stdout: r.stdout.toString("latin1"), stderr: r.stderr.toString("latin1") };
}

/** Runs a command directly (qemu-riscv64, host busybox). */
export function run(cmd: string, args: string[], input?: string | Buffer, timeoutMs = 120_000, cwd?: string): Run {
  const r = spawnSync(cmd, args, { input: input ?? "", timeout: timeoutMs, maxBuffer: 256 << 20, cwd });
  return { status: r.status, stdout: r.stdout.toString("latin1"), stderr: r.stderr.toString("latin1") };
}
