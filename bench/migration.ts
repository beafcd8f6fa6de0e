// Live migration between two daemons on this host (docs/SNAPSHOTS.md): a booted Debian guest moves
// from daemon A to daemon B while idle, then back from B to A while a shell loop in the guest
// rewrites a tmpfs file over and over (the dirtying rate it reaches is printed: it depends on how
// fast the guest runs here). For each: rounds, data sent, total time and downtime (guest paused on
// the source until the destination runs it), and the --max-downtime target.
//
//   npx tsc -p . && node dist/bench/migration.js [--memory 256M] [--max-downtime 300]
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ensureImage } from "../src/images/index.js";
import { Daemon } from "../src/control/Daemon.js";
import { call, type Endpoint } from "../src/control/Client.js";

const argv = process.argv.slice(2);
const arg = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
const memoryMiB = Math.floor(Number(arg("--memory", "256M").replace(/M$/i, "")));
const maxDowntimeMs = Number(arg("--max-downtime", "300"));
const TOKEN = "bench-migration-token-0123456789abcdef";

const img = await ensureImage("debian-riscv64", { quiet: true });
const dir = mkdtempSync(join(tmpdir(), "tv-bench-mig-"));
const disk = join(dir, "disk.ext4");
copyFileSync(img.disk!, disk);

async function daemon(name: string, port: number) {
  const stateDir = join(dir, name);
  const d = new Daemon({
    stateDir,
    socket: join(dir, `${name}.sock`),
    listen: { host: "127.0.0.1", port, token: TOKEN },
    vmsOutliveDaemon: false,
    allowDirs: [dirname(img.kernel), dir],
    resolveImage: async () => ({ kernel: img.kernel, initrd: img.initrd }),
  });
  await d.start();
  const ep: Endpoint = { url: `http://127.0.0.1:${d.tcpPort}`, token: TOKEN };
  return { d, ep };
}

async function waitConsole(ep: Endpoint, re: RegExp, ms: number, vm = "g"): Promise<void> {
  const t0 = Date.now();
  while (!re.test((await call(ep, "GET", `/v1/vms/${vm}/console`)).text)) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const a = await daemon("a", 0);
const b = await daemon("b", 0);
const rows: string[] = [];
try {
  const r = await call(a.ep, "POST", "/v1/vms?start=true", {
    name: "g",
    image: "debian-riscv64",
    memoryMiB,
    disks: [{ path: disk, overlay: true }],
  });
  if (r.status !== 201) throw new Error(r.text);
  await waitConsole(a.ep, /typevisor:\/# /, 600_000);
  const migrate = async (from: typeof a, to: typeof a, label: string, name: string, as: string) => {
    const t0 = performance.now();
    const m = await call(from.ep, "POST", `/v1/vms/${name}/migrate`, {
      to: to.ep.url,
      token: TOKEN,
      maxDowntimeMs,
      name: as,
    });
    const wall = performance.now() - t0;
    if (m.status !== 200) throw new Error(m.text);
    const res = (
      m.body as {
        result: { rounds: number; bytesSent: number; finalPages: number; totalMs: number; downtimeMs: number };
      }
    ).result;
    rows.push(
      `| ${memoryMiB} MiB | ${label} | ${res.rounds} | ${(res.bytesSent / 2 ** 20).toFixed(1)} MiB | ${((res.finalPages * 4096) / 2 ** 20).toFixed(1)} MiB | ${(wall / 1000).toFixed(2)} s | ${res.downtimeMs.toFixed(0)} ms | ${maxDowntimeMs} ms |`,
    );
    process.stderr.write(rows.at(-1)! + "\n");
  };
  await migrate(a, b, "idle", "g", "g");
  // A dirtying loop: the kernel copies one of two 8 MiB tmpfs files (each 1 MiB of random bytes
  // eight times, different in the two) over a third, in place
  // (dd conv=notrunc: the same page-cache pages get new contents each time), as fast as the guest
  // goes; the guest counts the MiB it rewrote in /dev/shm/n. The rate it reaches is measured before
  // the migration and printed.
  const g = b.d.vms.get("g").id;
  b.d.vms.sendInput(
    g,
    Buffer.from(
      "for f in a b; do dd if=/dev/urandom of=/dev/shm/r bs=1M count=1 2>/dev/null; for i in 1 2 3 4 5 6 7 8; do cat /dev/shm/r; done > /dev/shm/$f; done; cp /dev/shm/a /dev/shm/d; echo DIRTY-$((6*7))\n",
    ),
  );
  await waitConsole(b.ep, /DIRTY-42/, 120_000);
  b.d.vms.sendInput(
    g,
    Buffer.from(
      "(n=0; while :; do for f in a b; do dd if=/dev/shm/$f of=/dev/shm/d bs=1M conv=notrunc 2>/dev/null; n=$((n+8)); echo $n > /dev/shm/n; done; done) &\n",
    ),
  );
  const probe = async (tag: string) => {
    b.d.vms.sendInput(g, Buffer.from(`echo ${tag}=$(cat /dev/shm/n) $(cat /proc/uptime)\n`));
    const re = new RegExp(`${tag}=(\\d+) ([\\d.]+)`);
    await waitConsole(b.ep, re, 30_000);
    const m = re.exec((await call(b.ep, "GET", "/v1/vms/g/console")).text)!;
    return { mib: Number(m[1]), at: Number(m[2]) };
  };
  await new Promise((r) => setTimeout(r, 2000));
  const p0 = await probe("RATE0");
  await new Promise((r) => setTimeout(r, 5000));
  const p1 = await probe("RATE1");
  const rate = ((p1.mib - p0.mib) * 1.048576) / (p1.at - p0.at);
  // Back to A under another name (A keeps the first VM's stopped record: its disk overlay is there).
  await migrate(b, a, `rewriting 8 MiB of tmpfs in a loop at ${rate.toFixed(0)} MB/s (guest time)`, "g", "g2");
  process.stderr.write(
    `guest dirtying rate: ${rate.toFixed(1)} MB/s over ${(p1.at - p0.at).toFixed(1)} s of guest time\n`,
  );
} finally {
  await a.d.stop();
  await b.d.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  [
    "| guest RAM | guest activity | pre-copy rounds | data sent | sent while stopped | total | downtime | target |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n") + "\n",
);
