// Shared helpers for the Linux boot tests: get the Debian image (or a reason to skip), and run
// `typevisor run` as a child process collecting its console output.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

export interface DebianImage {
  kernel: string;
  initrd: string;
  disk: string;
}

/** The debian-riscv64 image (kernel, busybox initramfs, ext4 disk), or a string saying why not. */
export async function debianImage(): Promise<DebianImage | string> {
  const env = process.env;
  if (env["TYPEVISOR_TEST_KERNEL"] && env["TYPEVISOR_TEST_INITRD"] && existsSync(env["TYPEVISOR_TEST_KERNEL"])) {
    return { kernel: env["TYPEVISOR_TEST_KERNEL"], initrd: env["TYPEVISOR_TEST_INITRD"], disk: env["TYPEVISOR_TEST_DISK"] ?? "" };
  }
  try {
    const images = await import("../../src/images/index.js");
    return await images.ensureImage("debian-riscv64", { quiet: true });
  } catch (e) {
    return `the Debian image could not be assembled (is the Debian archive reachable?): ${(e as Error).message.split("\n")[0]}`;
  }
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `typevisor run ARGS` with stdin closed; kills it after timeoutMs (the status is then null). */
export function typevisorRun(args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/typevisor.js", "run", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("latin1").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("latin1").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code, stdout, stderr });
    });
  });
}

/** The tail of a run's output, for assertion messages. */
export function tail(r: RunResult, n = 3000): string {
  return `--- stdout (tail) ---\n${r.stdout.slice(-n)}\n--- stderr ---\n${r.stderr.slice(-n)}`;
}
