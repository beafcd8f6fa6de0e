// Shared helpers for the Linux boot tests: get the Debian image (or a reason to skip), and run
// `typevisor run` as a child process collecting its console output.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import type { TestContext } from "node:test";

export interface DebianImage {
  kernel: string;
  initrd: string;
  disk: string;
}

/** The debian-riscv64 image (kernel, busybox initramfs, ext4 disk), or a string saying why not. */
export async function debianImage(): Promise<DebianImage | string> {
  const env = process.env;
  if (env["TYPEVISOR_TEST_KERNEL"] && env["TYPEVISOR_TEST_INITRD"] && existsSync(env["TYPEVISOR_TEST_KERNEL"])) {
    return {
      kernel: env["TYPEVISOR_TEST_KERNEL"],
      initrd: env["TYPEVISOR_TEST_INITRD"],
      disk: env["TYPEVISOR_TEST_DISK"] ?? "",
    };
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

/**
 * The guest writes a file on its virtio-blk ext4 disk and reboots; Typevisor restarts the VM (same
 * process) and the second boot finds the file, then powers off. The second boot also checks the
 * RTC's date, writes to hvc0 (virtio-console) and reads /dev/hwrng (virtio-rng). `extra` are more
 * `run` flags (e.g. --engine dbt).
 */
export async function checkDiskSurvivesReboot(t: TestContext, extra: string[], timeoutMs: number): Promise<void> {
  const img = await debianImage();
  if (typeof img === "string") return t.skip(img);
  if (!img.disk) return t.skip("the image has no data disk");
  const dir = mkdtempSync(join(tmpdir(), "tv-boot-disk-"));
  try {
    const disk = join(dir, "disk.img");
    copyFileSync(img.disk, disk);
    const stamp = `stamp-${process.pid}`;
    const cmd =
      `if [ -f /mnt/tv-stamp ]; then echo FOUND:$(cat /mnt/tv-stamp); date +YEAR:%Y; ` +
      `echo HVC:ok > /dev/hvc0; echo RNG:$(head -c 16 /dev/hwrng | wc -c); ` +
      `else echo ${stamp} > /mnt/tv-stamp; sync; umount /mnt; echo WROTE; reboot -f; fi`;
    const r = await typevisorRun(
      [
        "--kernel",
        img.kernel,
        "--initrd",
        img.initrd,
        "--disk",
        disk,
        "--append",
        `console=ttyS0 quiet tv.cmd="${cmd}"`,
        "--memory",
        "256M",
        "--stats",
        ...extra,
      ],
      timeoutMs,
    );
    assert.match(r.stdout, /WROTE/, tail(r));
    assert.match(r.stdout, new RegExp(`FOUND:${stamp}`), tail(r));
    assert.match(r.stdout, new RegExp(`YEAR:${new Date().getUTCFullYear()}`), tail(r));
    assert.match(r.stdout, /HVC:ok/, tail(r));
    assert.match(r.stdout, /RNG:16/, tail(r));
    assert.match(r.stderr, /reboots: 1/, tail(r));
    assert.equal(r.status, 0, tail(r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
