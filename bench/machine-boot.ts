// Boot time and in-guest CPU work: Typevisor's virt board against qemu-system-riscv64 -M virt (TCG),
// with the same kernel, initramfs, disk contents and guest memory, in the same run.
//
//   npx tsc -p . && node dist/bench/machine-boot.js [--memory 512M] [--engine interp,dbt] [--skip-workload] [--workload PATH] [--help]
//
// The defaults are issue 14's setting (1 hart, 512 MiB).
//
// --engine: Typevisor's CPU engine(s), comma-separated (default: DEFAULT_ENGINE of src/dbt/Engine.ts);
// each one is measured in the same run as QEMU, e.g. --engine interp,dbt for interpreter, binary
// translator and QEMU side by side.
//
// For each machine it prints: seconds from process start to the initramfs marker TYPEVISOR-BOOT-OK,
// to process exit after poweroff (tv.poweroff=1), the process's peak RSS and CPU time (user+sys of
// all its threads: on a loaded host wall times swing with the load, CPU times much less), and for the CPU workload
// (../shared/bench/cpu-workload.sh run inside the guest from the data disk) its BENCH line, then the
// Typevisor/QEMU ratios. Needs the debian-riscv64 image (typevisor image pull), /usr/bin/time,
// qemu-system-riscv64 and debugfs (e2fsprogs).
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ensureImage } from "../src/images/index.js";
import { DEFAULT_ENGINE, type EngineName } from "../src/dbt/Engine.js";
import { parseEngine } from "../src/cli/EngineSetup.js";

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(`usage: node dist/bench/machine-boot.js [options]
Boots Debian's kernel + initramfs on Typevisor and on qemu-system-riscv64 -M virt (TCG) in the same
run, then (unless --skip-workload) runs cpu-workload.sh inside both guests. Prints for each: seconds
from process start to the initramfs marker and to exit, peak RSS, CPU time (user+sys), and ratios.
  --memory SIZE        guest RAM (default 512M, issue 14's setting)
  --engine E[,E...]    Typevisor's engine(s): interp, dbt (default ${DEFAULT_ENGINE}); each measured
  --skip-workload      boot only
  --workload PATH      the in-guest workload (default ../shared/bench/cpu-workload.sh)
`);
  process.exit(0);
}
const memory = argv.includes("--memory") ? argv[argv.indexOf("--memory") + 1]! : "512M";
const skipWorkload = argv.includes("--skip-workload");
const engineArg = argv.includes("--engine") ? argv[argv.indexOf("--engine") + 1] : undefined;
const engines: EngineName[] =
  engineArg === undefined
    ? [DEFAULT_ENGINE]
    : [...new Set(engineArg.split(",").map((e) => parseEngine("machine-boot", e)))];
// --workload PATH: the workload script (default ../shared/bench/cpu-workload.sh from the current
// directory, i.e. the repository checkout beside the shared folder).
const WORKLOAD = resolve(
  argv.includes("--workload") ? argv[argv.indexOf("--workload") + 1]! : "../shared/bench/cpu-workload.sh",
);

interface Result {
  bootOk: number;
  exit: number;
  maxRssMiB: number;
  /** User + system CPU seconds of the whole process (all threads). */
  cpuS: number;
  out: string;
}

function timed(cmd: string[], marker: string, timeoutS = 3600): Promise<Result> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    let bootOk = NaN;
    let out = "";
    let err = "";
    const child = spawn("/usr/bin/time", ["-f", "TV-MAXRSS-KB %M TV-CPU %U %S", ...cmd], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.setEncoding("latin1").on("data", (d: string) => {
      out += d;
      if (Number.isNaN(bootOk) && out.includes(marker)) bootOk = (performance.now() - t0) / 1000;
    });
    child.stderr.setEncoding("latin1").on("data", (d: string) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutS * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      const exit = (performance.now() - t0) / 1000;
      const m = /TV-MAXRSS-KB (\d+) TV-CPU ([\d.]+) ([\d.]+)/.exec(err);
      if (code !== 0) return fail(new Error(`${cmd[0]} exited with ${code}\n${out.slice(-2000)}\n${err.slice(-2000)}`));
      done({
        bootOk,
        exit,
        maxRssMiB: m ? Number(m[1]) / 1024 : NaN,
        cpuS: m ? Number(m[2]) + Number(m[3]) : NaN,
        out,
      });
    });
  });
}

function typevisor(engine: EngineName, kernel: string, initrd: string, append: string, disk?: string): string[] {
  return [
    process.execPath,
    "bin/typevisor.js",
    "run",
    "--engine",
    engine,
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

function qemu(kernel: string, initrd: string, append: string, disk?: string): string[] {
  return [
    "qemu-system-riscv64",
    "-M",
    "virt",
    "-m",
    memory,
    "-smp",
    "1",
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

const img = await ensureImage("debian-riscv64", { quiet: true });
const report: string[] = [];
const line = (s: string) => {
  console.log(s);
  report.push(s);
};

line(
  `# boot: Debian debian-riscv64 kernel + busybox initramfs, ${memory} RAM, 1 hart, tv.poweroff=1, engines ${engines.join(", ")}`,
);
const bootArgs = "console=ttyS0 quiet tv.poweroff=1 tv.nodisk=1";
const tvs: [string, Result][] = [];
for (const e of engines)
  tvs.push([`tv-${e}`, await timed(typevisor(e, img.kernel, img.initrd, bootArgs), "TYPEVISOR-BOOT-OK")]);
const q = await timed(qemu(img.kernel, img.initrd, bootArgs), "TYPEVISOR-BOOT-OK");
for (const [name, r] of [...tvs, ["qemu-tcg", q] as const]) {
  line(
    `${name.padEnd(10)} marker ${r.bootOk.toFixed(1)} s   poweroff ${r.exit.toFixed(1)} s   peak RSS ${r.maxRssMiB.toFixed(0)} MiB   CPU ${r.cpuS.toFixed(1)} s`,
  );
}
for (const [name, tv] of tvs) {
  line(
    `ratio ${name}/qemu: marker ${(tv.bootOk / q.bootOk).toFixed(2)}x, poweroff ${(tv.exit / q.exit).toFixed(2)}x, RSS ${(tv.maxRssMiB / q.maxRssMiB).toFixed(2)}x, CPU ${(tv.cpuS / q.cpuS).toFixed(2)}x`,
  );
}

if (!skipWorkload) {
  if (!existsSync(WORKLOAD)) throw new Error(`${WORKLOAD} is missing`);
  const dir = mkdtempSync(join(tmpdir(), "tv-bench-"));
  try {
    const disk = join(dir, "disk.img");
    copyFileSync(img.disk, disk);
    execFileSync("debugfs", ["-w", "-R", `write ${WORKLOAD} cpu-workload.sh`, disk], { stdio: "ignore" });
    const cmd = `console=ttyS0 quiet tv.cmd="sh /mnt/cpu-workload.sh /tmp/w"`;
    const tvws: [string, Result][] = [];
    for (const e of engines)
      tvws.push([`tv-${e}`, await timed(typevisor(e, img.kernel, img.initrd, cmd, disk), "TYPEVISOR-CMD-BEGIN")]);
    const qw = await timed(qemu(img.kernel, img.initrd, cmd, disk), "TYPEVISOR-CMD-BEGIN");
    const bench = (r: Result) => /BENCH gen=.*total=([\d.]+)/.exec(r.out);
    const b = bench(qw);
    line(`# cpu-workload.sh inside the guest (times from the guest's /proc/uptime)`);
    for (const [name, tvw] of tvws)
      line(`${name.padEnd(10)} ${bench(tvw)?.[0] ?? "no BENCH line"}   peak RSS ${tvw.maxRssMiB.toFixed(0)} MiB`);
    line(`qemu-tcg   ${b?.[0] ?? "no BENCH line"}   peak RSS ${qw.maxRssMiB.toFixed(0)} MiB`);
    for (const [name, tvw] of tvws) {
      const a = bench(tvw);
      if (a && b) line(`ratio ${name}/qemu total: ${(Number(a[1]) / Number(b[1])).toFixed(2)}x`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
