// Runs a command in a Typevisor guest as part of an image build: the image's own kernel and
// initramfs boot with a disk attached (on /mnt) and tv.cmd="COMMAND", with no network. This is how
// maintainer scripts of a root disk run on riscv64 without qemu-user-static on the host: the
// guest runs Debian's kernel and the scripts run in a chroot on the disk, as in debootstrap's
// second stage.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { MemoryBackend } from "../devices/chardev/MemoryBackend.js";
import { buildVirtMachine } from "../vmm/MachineBuilder.js";
import { nodeBackends } from "../vmm/NodeBackends.js";
import { AssemblyError } from "./LinuxImage.js";
import type { Progress } from "./Progress.js";

export interface GuestStageOptions {
  readonly kernel: string;
  readonly initrd: string;
  /** The disk the command works on; written in place. */
  readonly disk: string;
  /** Run with sh -c in the initramfs (busybox); no double quotes (it travels as tv.cmd="..."). */
  readonly command: string;
  /** A line the command prints when it succeeded. */
  readonly okMarker: string;
  readonly memoryMiB?: number;
  /** Give up after this long (default 60 min: a loaded 2-core host is slow). */
  readonly timeoutMs?: number;
  /** The console is copied here as it runs (to follow a long build, or see why it failed). */
  readonly logFile?: string;
  /** Lines of the console that are worth showing as progress (matched against each line). */
  readonly progressLine?: RegExp;
}

export interface GuestStageResult {
  /** The console output of the whole boot. */
  readonly log: string;
  readonly seconds: number;
  /** The line holding okMarker. */
  readonly okLine: string;
}

export async function runGuestStage(o: GuestStageOptions, progress: Progress): Promise<GuestStageResult> {
  if (o.command.includes('"')) throw new AssemblyError(`guest stage command must not contain '"': ${o.command}`);
  const console = new MemoryBackend();
  const machine = await buildVirtMachine(
    {
      memory: (o.memoryMiB ?? 1024) * 1024 * 1024,
      cpus: 1,
      kernel: { name: o.kernel, bytes: readFileSync(o.kernel) },
      initrd: { name: o.initrd, bytes: readFileSync(o.initrd) },
      append: `console=ttyS0 quiet tv.nonet=1 tv.cmd="${o.command}"`,
      disks: [{ path: o.disk, readOnly: false }],
      nics: [],
    },
    { console, backends: nodeBackends() },
  );
  const t0 = Date.now();
  if (o.logFile) writeFileSync(o.logFile, "");
  const timeout = o.timeoutMs ?? 3_600_000;
  let shown = 0;
  const timer = setInterval(() => {
    if (Date.now() - t0 > timeout) machine.vm.stop();
    const text = console.text();
    const lines = text.slice(shown).split("\n");
    lines.pop(); // an unfinished line waits for the next tick
    if (o.logFile && lines.length > 0) appendFileSync(o.logFile, lines.map((l) => l + "\n").join(""));
    for (const l of lines) {
      shown += l.length + 1;
      if (o.progressLine?.test(l)) progress.update(0.5, l.trim().slice(0, 60));
    }
  }, 1000);
  let exit;
  try {
    exit = await machine.run();
  } finally {
    clearInterval(timer);
  }
  const log = console.text();
  const seconds = (Date.now() - t0) / 1000;
  const okLine = log.split("\n").find((l) => l.includes(o.okMarker));
  if (exit.reason !== "poweroff" || !/TYPEVISOR-CMD-END rc=0\b/.test(log) || !okLine) {
    const why =
      exit.reason === "stopped" ? `it did not finish within ${Math.round(timeout / 60000)} min` : `${exit.reason}`;
    throw new AssemblyError(
      `the build VM (${o.command}) failed: ${why}${exit.message ? ` (${exit.message})` : ""}; its console said:\n${log.slice(-6000)}`,
    );
  }
  return { log, seconds, okLine: okLine.trim() };
}
