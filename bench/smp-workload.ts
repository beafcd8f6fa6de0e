// Multi-core scaling: Typevisor's vCPU threads (src/vmm/vcpu) against QEMU's MTTCG, in the same run.
//
//   npx tsc -p . && node dist/bench/smp-workload.js [--memory 512M] [--engine dbt] [--workload PATH] [--skip-boot] [--skip-workload]
//
// 1. Two copies of ../shared/bench/cpu-workload.sh run at the same time inside the Debian guest
//    (from its data disk), on 1 vCPU and on 2 vCPUs, for Typevisor (--cpus 1 / --cpus 2) and for
//    qemu-system-riscv64 -M virt (TCG, -smp 1 / -smp 2: one host thread per vCPU). Prints the wall
//    time of the pair (the guest's /proc/uptime, which both machines keep in real time) and each
//    machine's speed-up from 1 to 2 vCPUs, then Typevisor's time relative to QEMU's at 1 and 2 vCPUs.
//    The guest's BENCH-CHECK lines (sizes and digests of the work) must be the same on every machine:
//    the parallel run computes what the single one does.
// 2. Boot time to the initramfs marker and to poweroff with --cpus 4 against --cpus 1 (QEMU -smp 4 / 1
//    beside it).
// Needs the debian-riscv64 image (typevisor image pull), qemu-system-riscv64 and debugfs (e2fsprogs).
// Record the host's load with the numbers: 2 vCPUs can only be faster on a host with 2 idle cores.
import { spawn, execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ensureImage } from "../src/images/index.js";
import { DEFAULT_ENGINE } from "../src/dbt/Engine.js";
import { parseEngine } from "../src/cli/EngineSetup.js";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : dflt);
const memory = opt("--memory", "512M");
const engine = parseEngine("smp-workload", opt("--engine", DEFAULT_ENGINE));
const WORKLOAD = resolve(opt("--workload", "../shared/bench/cpu-workload.sh"));
const skipBoot = argv.includes("--skip-boot");
const skipWorkload = argv.includes("--skip-workload");

interface Result {
  bootOk: number;
  exit: number;
  out: string;
}

function timed(cmd: string[], marker: string, timeoutS = 3600): Promise<Result> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    let bootOk = NaN;
    let out = "";
    let err = "";
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.setEncoding("latin1").on("data", (d: string) => {
      out += d;
      if (Number.isNaN(bootOk) && out.includes(marker)) bootOk = (performance.now() - t0) / 1000;
    });
    child.stderr.setEncoding("latin1").on("data", (d: string) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutS * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return fail(new Error(`${cmd[0]} exited with ${code}\n${out.slice(-2000)}\n${err.slice(-2000)}`));
      done({ bootOk, exit: (performance.now() - t0) / 1000, out });
    });
  });
}

function typevisor(cpus: number, kernel: string, initrd: string, append: string, disk?: string): string[] {
  return [
    process.execPath,
    "bin/typevisor.js",
    "run",
    "--engine",
    engine,
    "--cpus",
    String(cpus),
    "--kernel",
    kernel,
    "--initrd",
    initrd,
    "--memory",
    memory,
    "--append",
    append,
    ...(disk ? ["--disk", disk] : []),
  ];
}

function qemu(cpus: number, kernel: string, initrd: string, append: string, disk?: string): string[] {
  return [
    "qemu-system-riscv64",
    "-M",
    "virt",
    "-m",
    memory,
    "-smp",
    String(cpus),
    "-nographic",
    "-bios",
    "default",
    "-kernel",
    kernel,
    "-initrd",
    initrd,
    "-append",
    append,
    ...(disk ? ["-drive", `file=${disk},if=none,format=raw,id=hd0`, "-device", "virtio-blk-device,drive=hd0"] : []),
  ];
}

// The pair of workloads, started together and waited for; the wall time comes from /proc/uptime.
const PAIR = `up() { read u _ < /proc/uptime; echo "$u"; }
t0=$(up)
sh /mnt/cpu-workload.sh /tmp/w1 > /tmp/o1 2>&1 &
sh /mnt/cpu-workload.sh /tmp/w2 > /tmp/o2 2>&1 &
wait
t1=$(up)
cat /tmp/o1 /tmp/o2
echo "NPROC $(nproc)"
awk -v a="$t0" -v b="$t1" 'BEGIN{printf "PAIR-WALL %.2f\\n", b-a}'
`;

const img = await ensureImage("debian-riscv64", { quiet: true });
const line = (s: string) => console.log(s);
const load = () => loadavg()[0]!.toFixed(2);
line(`# smp-workload: engine ${engine}, ${memory} RAM, host load average ${load()} at start`);

if (!existsSync(WORKLOAD)) throw new Error(`${WORKLOAD} is missing`);
const dir = mkdtempSync(join(tmpdir(), "tv-smp-bench-"));
try {
  const disk = join(dir, "disk.img");
  copyFileSync(img.disk, disk);
  const pair = join(dir, "pair.sh");
  writeFileSync(pair, PAIR);
  execFileSync("debugfs", ["-w", "-R", `write ${WORKLOAD} cpu-workload.sh`, disk], { stdio: "ignore" });
  execFileSync("debugfs", ["-w", "-R", `write ${pair} pair.sh`, disk], { stdio: "ignore" });
  const cmd = `console=ttyS0 quiet tv.cmd="sh /mnt/pair.sh"`;
  const runs: [string, (n: number) => string[]][] = [
    ["typevisor", (n) => typevisor(n, img.kernel, img.initrd, cmd, disk)],
    ["qemu-tcg", (n) => qemu(n, img.kernel, img.initrd, cmd, disk)],
  ];
  const wall: Record<string, number> = {};
  const checks = new Set<string>();
  if (!skipWorkload)
    line(`# two copies of cpu-workload.sh at once inside the guest (wall time of the pair, guest /proc/uptime)`);
  for (const [name, mk] of skipWorkload ? [] : runs) {
    for (const n of [1, 2]) {
      const before = load();
      const r = await timed(mk(n), "TYPEVISOR-CMD-BEGIN");
      const w = /PAIR-WALL ([\d.]+)/.exec(r.out);
      const np = /NPROC (\d+)/.exec(r.out);
      for (const m of r.out.matchAll(/BENCH-CHECK .*/g)) checks.add(m[0].trim());
      if (!w) throw new Error(`${name} -smp ${n}: no PAIR-WALL line\n${r.out.slice(-2000)}`);
      wall[`${name}/${n}`] = Number(w[1]);
      line(
        `${name.padEnd(10)} vCPUs ${n} (nproc ${np?.[1] ?? "?"})  pair ${w[1]} s   process ${r.exit.toFixed(1)} s   load ${before} -> ${load()}`,
      );
    }
  }
  for (const [name] of skipWorkload ? [] : runs) {
    line(`speed-up ${name} 1 -> 2 vCPUs: ${(wall[`${name}/1`]! / wall[`${name}/2`]!).toFixed(2)}x`);
  }
  for (const n of skipWorkload ? [] : [1, 2]) {
    line(`ratio typevisor/qemu at ${n} vCPU(s): ${(wall[`typevisor/${n}`]! / wall[`qemu-tcg/${n}`]!).toFixed(2)}x`);
  }
  if (!skipWorkload)
    line(
      checks.size === 1
        ? `same results on every machine: ${[...checks][0]}`
        : `RESULTS DIFFER between machines:\n  ${[...checks].join("\n  ")}`,
    );

  if (!skipBoot) {
    line(`# boot to the initramfs marker and to poweroff (tv.poweroff=1)`);
    const bootArgs = "console=ttyS0 quiet tv.poweroff=1 tv.nodisk=1";
    const boot: Record<string, Result> = {};
    for (const n of [1, 4]) {
      boot[`typevisor/${n}`] = await timed(typevisor(n, img.kernel, img.initrd, bootArgs), "TYPEVISOR-BOOT-OK");
      boot[`qemu-tcg/${n}`] = await timed(qemu(n, img.kernel, img.initrd, bootArgs), "TYPEVISOR-BOOT-OK");
    }
    for (const [k, r] of Object.entries(boot)) {
      line(`${k.padEnd(12)} marker ${r.bootOk.toFixed(1)} s   poweroff ${r.exit.toFixed(1)} s`);
    }
    for (const name of ["typevisor", "qemu-tcg"]) {
      line(`boot ${name} --cpus 4 / --cpus 1: ${(boot[`${name}/4`]!.bootOk / boot[`${name}/1`]!.bootOk).toFixed(2)}x`);
    }
  }
  line(`# host load average ${load()} at the end`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
