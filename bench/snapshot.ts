// Snapshots against booting: boots the Debian image to its shell (the reference: what a new VM
// costs without a snapshot), snapshots it (run --snapshot-on-exit), then restores it several times
// (run --restore) and measures the time from process start to the shell's answer to a command typed
// at once; also the snapshot's size and time, the deflated variant, and the resident memory of an
// idle restored clone against the booted VM (clone density). One run per RAM size.
//
//   npx tsc -p . && node dist/bench/snapshot.js [--memory 128M,1G] [--restores 3] [--cpus 2]
//
// --cpus N > 1 runs the guest on N vCPU threads (snapshots gather the threads' harts, restores
// start N threads: docs/SNAPSHOTS.md "vCPU threads").
//
// A raw snapshot restores lazily (pages read on first touch, docs/SNAPSHOTS.md) or, with
// --restore-eager, eagerly; the two are run alternately. A deflated one always restores eagerly.
// Besides wall time (noisy on a shared host), the restored process's CPU time (user+sys) at the
// answer is reported.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ensureImage } from "../src/images/index.js";
import { cpuMs, rssMiB } from "./procStat.js";

const argv = process.argv.slice(2);
const arg = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
const sizes = arg("--memory", "128M,1G").split(",");
const restores = Number(arg("--restores", "3"));
const cpus = arg("--cpus", "1");
const TV = "bin/typevisor.js";

interface Run {
  p: ChildProcess;
  out: string;
  err: string;
  t0: number;
}

function start(args: string[]): Run {
  const p = spawn(process.execPath, [TV, "run", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const r: Run = { p, out: "", err: "", t0: performance.now() };
  p.stdout!.on("data", (d: Buffer) => (r.out += d.toString("latin1")));
  p.stderr!.on("data", (d: Buffer) => (r.err += d.toString("latin1")));
  return r;
}

async function until(r: Run, re: RegExp, ms: number): Promise<number> {
  const t = performance.now();
  while (!re.test(r.out)) {
    if (performance.now() - t > ms) throw new Error(`timed out waiting for ${re}:\n${r.out.slice(-1500)}\n${r.err}`);
    await new Promise((res) => setTimeout(res, 5));
  }
  return performance.now() - r.t0;
}

async function stop(r: Run): Promise<void> {
  const done = new Promise((res) => r.p.on("exit", res));
  r.p.kill("SIGTERM");
  await done;
}

const img = await ensureImage("debian-riscv64", { quiet: true });
const dir = mkdtempSync(join(tmpdir(), "tv-bench-snap-"));
const rows: string[] = [];
try {
  for (const mem of sizes) {
    const disk = join(dir, `disk-${mem}.ext4`);
    copyFileSync(img.disk!, disk);
    const snap = join(dir, `s-${mem}.tvsnap`);
    const base = ["--kernel", img.kernel, "--initrd", img.initrd, "--disk", disk, "--memory", mem, "--cpus", cpus];
    const boot = start([...base, "--snapshot-on-exit", snap]);
    const bootMs = await until(boot, /typevisor:\/# /, 600_000);
    boot.p.stdin!.write("echo B$((6*7))\n");
    await until(boot, /B42/, 60_000);
    await new Promise((res) => setTimeout(res, 2000)); // settle: the idle RSS of a booted VM
    const bootRss = rssMiB(boot.p.pid!);
    await stop(boot);
    const m = /snapshot written to .* \(([\d.]+) MiB, (\d+) of (\d+) RAM pages stored, (\d+) ms\)/.exec(boot.err);
    if (!m) throw new Error(`no snapshot: ${boot.err}`);
    const snapMs = Number(m[4]);
    // Deflated: the same machine saved again from a restore (the same pages), compressed.
    const z = join(dir, `s-${mem}-z.tvsnap`);
    const zr = start(["--restore", snap, "--snapshot-on-exit", z, "--snapshot-compress"]);
    zr.p.stdin!.write("echo Z$((6*7))\n");
    await until(zr, /Z42/, 120_000);
    await stop(zr);
    const zm = /snapshot written to .* \(([\d.]+) MiB, .* (\d+) ms\)/.exec(zr.err);
    const variants = [
      ["raw, lazy", snap, []],
      ["raw, eager", snap, ["--restore-eager"]],
      ["deflate (eager)", z, []],
    ] as const;
    const res = variants.map(() => ({ times: [] as number[], cpu: [] as number[], rss: [] as number[] }));
    for (let i = 0; i < restores; i++) {
      for (const [k, [, file, extra]] of variants.entries()) {
        const r = start(["--restore", file, ...extra]);
        r.p.stdin!.write(`echo R$((40+${i}))\n`);
        res[k]!.times.push(await until(r, new RegExp(`R${40 + i}(?!\\d)`), 120_000));
        res[k]!.cpu.push(cpuMs(r.p.pid!));
        await new Promise((resolve) => setTimeout(resolve, 2000));
        res[k]!.rss.push(rssMiB(r.p.pid!));
        await stop(r);
      }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    for (const [k, [label, file]] of variants.entries()) {
      const { times, cpu, rss } = res[k]!;
      rows.push(
        `| ${mem} | ${label} | ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB | ${file === snap ? snapMs : (zm?.[2] ?? "?")} ms | ${(bootMs / 1000).toFixed(1)} s | ${(med(times) / 1000).toFixed(2)} s (${times.map((t) => (t / 1000).toFixed(2)).join(", ")}) | ${med(cpu)} ms | ${bootRss.toFixed(0)} MiB | ${med(rss).toFixed(0)} MiB | ${(1024 / bootRss).toFixed(1)} / ${(1024 / med(rss)).toFixed(1)} | ${loadavg()
          .map((x) => x.toFixed(1))
          .join(" ")} |`,
      );
      process.stderr.write(rows.at(-1)! + "\n");
    }
    rmSync(snap, { force: true });
    rmSync(z, { force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  [
    "| guest RAM | snapshot, restore | snapshot size | snapshot time (guest paused) | boot to shell (reference) | restore to shell answer, median (runs) | CPU to the answer, median | RSS booted VM | RSS restored clone | VMs per GiB of host RAM: booted / clones | load average |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n") + "\n",
);
