// Clones through the daemon (vm restore): time from the restore request to the clone's shell
// answering a command typed at once, with the daemon's warm spare VM process (SpareVmProcess.ts)
// and without it (a new Node process per clone), alternately. Two daemons in this process: A keeps
// a warm spare, B does not; the Debian guest is booted and snapshotted on A and the snapshot copied
// to B. Also the CPU the clone's process used from the moment it was connected to the answer, its
// total CPU, and the resident memory of an idle clone and of the spare.
//
//   npx tsc -p . && node dist/bench/snapshot-clones.js [--memory 128M] [--clones 4]
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ensureImage } from "../src/images/index.js";
import { Daemon } from "../src/control/Daemon.js";
import { cpuMs, rssMiB } from "./procStat.js";

const argv = process.argv.slice(2);
const arg = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
const memoryMiB = Math.floor(Number(arg("--memory", "128M").replace(/M$/i, "")));
const clones = Number(arg("--clones", "4"));

const img = await ensureImage("debian-riscv64", { quiet: true });
const dir = mkdtempSync(join(tmpdir(), "tv-bench-clones-"));
const disk = join(dir, "disk.ext4");
copyFileSync(img.disk!, disk);

async function daemon(name: string, warmSpare: boolean): Promise<Daemon> {
  const d = new Daemon({
    stateDir: join(dir, name),
    socket: join(dir, `${name}.sock`),
    vmsOutliveDaemon: false,
    warmSpare,
    allowDirs: [dirname(img.kernel), dir],
    resolveImage: async () => ({ kernel: img.kernel, initrd: img.initrd }),
  });
  await d.start();
  return d;
}

/** Resolves when the VM's console output (from now on) matches re. */
function waitOutput(d: Daemon, id: string, re: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = "";
    const t = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${re}: ${text.slice(-500)}`));
    }, ms);
    const off = d.vms.onConsole(id, (b) => {
      text += Buffer.from(b).toString("latin1");
      if (re.test(text)) {
        clearTimeout(t);
        off();
        resolve();
      }
    });
  });
}

const a = await daemon("a", true);
const b = await daemon("b", false);
const rows: string[] = [];
try {
  const g = a.vms.create({
    name: "g",
    arch: "riscv64",
    engine: "dbt",
    cpus: 1,
    image: "debian-riscv64",
    memoryMiB,
    disks: [{ path: disk, overlay: true }],
  });
  const shell = waitOutput(a, g.id, /typevisor:\/# /, 600_000);
  await a.vms.start(g.id);
  await shell;
  await new Promise((r) => setTimeout(r, 2000));
  await a.vms.snapshot("g", "s");
  await a.vms.kill("g");
  // The same snapshot on B: its directory copied, the frozen disks' paths pointed at the copy.
  const sa = join(dir, "a", "snapshots", "s");
  const sb = join(dir, "b", "snapshots", "s");
  cpSync(sa, sb, { recursive: true });
  writeFileSync(join(sb, "meta.json"), readFileSync(join(sa, "meta.json"), "utf8").split(sa).join(sb));
  const results: Record<string, { wall: number[]; cpu: number[]; total: number[]; rss: number[] }> = {};
  let spareRss = NaN;
  for (let i = 0; i < clones; i++) {
    for (const [label, d] of [
      ["warm spare", a],
      ["new process", b],
    ] as const) {
      // Time for A's spare to start and warm up (it follows every restore).
      await new Promise((r) => setTimeout(r, 8000));
      const name = `c${i}-${label === "warm spare" ? "a" : "b"}`;
      const t0 = performance.now();
      const rec = await d.vms.restore("s", name);
      const pid = d.vms.pid(rec.id)!;
      const inSpare = existsSync(join(d.vms.vmDir(rec.id), "proc-tag"));
      const c0 = cpuMs(pid);
      const answer = waitOutput(d, rec.id, new RegExp(`R${40 + i}(?!\\d)`), 120_000);
      d.vms.sendInput(rec.id, Buffer.from(`echo R$((40+${i}))\n`));
      await answer;
      const wall = performance.now() - t0;
      const r = (results[label] ??= { wall: [], cpu: [], total: [], rss: [] });
      r.wall.push(wall);
      r.total.push(cpuMs(pid));
      r.cpu.push(cpuMs(pid) - c0);
      await new Promise((res) => setTimeout(res, 2000));
      r.rss.push(rssMiB(pid));
      process.stderr.write(
        `${name}${inSpare ? " (in the spare)" : ""}: ${wall.toFixed(0)} ms, CPU after connect ${r.cpu.at(-1)} ms, total ${r.total.at(-1)} ms, RSS ${r.rss.at(-1)!.toFixed(0)} MiB, load ${loadavg()
          .map((x) => x.toFixed(1))
          .join(" ")}\n`,
      );
      await d.vms.kill(name);
      await d.vms.delete(name, true);
    }
  }
  const spareDirs = readdirSync(join(dir, "a", "spares"));
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (spareDirs.some((s) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes(s))) spareRss = rssMiB(Number(p));
    } catch {
      // gone
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  for (const [label, r] of Object.entries(results))
    rows.push(
      `| ${memoryMiB} MiB | ${label} | ${(med(r.wall) / 1000).toFixed(2)} s (${r.wall.map((w) => (w / 1000).toFixed(2)).join(", ")}) | ${med(r.cpu)} ms | ${med(r.total)} ms | ${med(r.rss).toFixed(0)} MiB |`,
    );
  rows.push(
    `\nidle warm spare: RSS ${spareRss.toFixed(0)} MiB; load average at the end ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")}`,
  );
} finally {
  await a.stop();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  [
    "| guest RAM | clone's process | restore request to shell answer, median (runs) | CPU from connected to answer | process CPU total | RSS idle clone |",
    "|---|---|---|---|---|---|",
    ...rows,
  ].join("\n") + "\n",
);
