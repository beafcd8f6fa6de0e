// Live migration between two daemons on this host (docs/SNAPSHOTS.md): a booted Debian guest moves
// between daemon A and daemon B, first idle, then while test/control/dirtier.c (a static riscv64
// program written into the guest's disk) rewrites a 64 MiB buffer in 8-byte stores at a set rate
// (10 and 50 MB/s by default, and 0: as fast as it goes), checking every word before rewriting it.
// The rate the guest reached is measured from the program's own clock (its "P<pass> <ms>" lines);
// after each migration the destination must show two whole passes (every word checked against what
// the source stored last) that go on from the source's without a gap, and no "BAD" line.
// For each: rounds, data sent, total time and downtime (guest paused on the source until the
// destination runs it), and the --max-downtime target; a migration refused because the guest
// dirties memory faster than it can be sent is reported as such.
//
//   npx tsc -p . && node dist/bench/migration.js [--memory 256M] [--max-downtime 300] [--rates 10,50,0] [--buffer 64]
//
// Needs the debian-riscv64 image (typevisor image pull), riscv64-linux-gnu-gcc and debugfs (e2fsprogs).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ensureImage } from "../src/images/index.js";
import { Daemon } from "../src/control/Daemon.js";
import { call, type Endpoint } from "../src/control/Client.js";
import { buildLinuxProgram } from "../test/control/guest.js";

const argv = process.argv.slice(2);
const arg = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
const memoryMiB = Math.floor(Number(arg("--memory", "256M").replace(/M$/i, "")));
const maxDowntimeMs = Number(arg("--max-downtime", "300"));
const rates = arg("--rates", "10,50,0").split(",").map(Number);
const bufferMiB = Number(arg("--buffer", "64"));
const TOKEN = "bench-migration-token-0123456789abcdef";

const img = await ensureImage("debian-riscv64", { quiet: true });
const dir = mkdtempSync(join(tmpdir(), "tv-bench-mig-"));
const disk = join(dir, "disk.ext4");
copyFileSync(img.disk!, disk);
execFileSync("debugfs", ["-w", "-R", `write ${buildLinuxProgram("dirtier.c")} dirtier`, disk], { stdio: "ignore" });

async function daemon(name: string) {
  const stateDir = join(dir, name);
  const d = new Daemon({
    stateDir,
    socket: join(dir, `${name}.sock`),
    listen: { host: "127.0.0.1", port: 0, token: TOKEN },
    vmsOutliveDaemon: false,
    allowDirs: [dirname(img.kernel), dir],
    resolveImage: async () => ({ kernel: img.kernel, initrd: img.initrd }),
  });
  await d.start();
  const ep: Endpoint = { url: `http://127.0.0.1:${d.tcpPort}`, token: TOKEN };
  return { d, ep };
}
type Host = Awaited<ReturnType<typeof daemon>>;

const consoleOf = async (h: Host, vm: string) => (await call(h.ep, "GET", `/v1/vms/${vm}/console`)).text;

async function waitConsole(h: Host, vm: string, ok: (text: string) => boolean, ms: number, what: string) {
  const t0 = Date.now();
  for (;;) {
    const text = await consoleOf(h, vm);
    if (ok(text)) return text;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const type = (h: Host, vm: string, line: string) => h.d.vms.sendInput(h.d.vms.get(vm).id, Buffer.from(line + "\n"));

/** The dirtier's passes after marker `m` (or in the whole text): [pass, ms]. */
function passes(text: string, m?: string): [number, number][] {
  const from = m === undefined ? 0 : text.lastIndexOf(`\n${m}`);
  if (from < 0) return [];
  return [...text.slice(from).matchAll(/^P(\d+) (\d+)\r?$/gm)].map((x) => [Number(x[1]), Number(x[2])]);
}

const a = await daemon("a");
const b = await daemon("b");
const rows: string[] = [];
let at = a;
let other = b;
let name = "g";
let serial = 0;
try {
  const r = await call(a.ep, "POST", "/v1/vms?start=true", {
    name,
    image: "debian-riscv64",
    memoryMiB,
    disks: [{ path: disk, overlay: true }],
  });
  if (r.status !== 201) throw new Error(r.text);
  await waitConsole(a, name, (t) => /typevisor:\/# /.test(t), 600_000, "the shell");

  /** Migrates the VM from `at` to `other` under a new name; false if the source refused. */
  const migrate = async (label: string, bound = maxDowntimeMs): Promise<boolean> => {
    const as = `g${++serial}`;
    const t0 = performance.now();
    const m = await call(at.ep, "POST", `/v1/vms/${name}/migrate`, {
      to: other.ep.url,
      token: TOKEN,
      maxDowntimeMs: bound,
      name: as,
    });
    const wall = performance.now() - t0;
    const load = loadavg()[0]!.toFixed(1);
    if (m.status !== 200) {
      rows.push(
        `| ${memoryMiB} MiB | ${label} | refused: ${(m.body as { error?: string }).error ?? m.text} | | | | | ${bound} ms | ${load} |`,
      );
      process.stderr.write(rows.at(-1)! + "\n");
      return false;
    }
    const res = (
      m.body as {
        result: { rounds: number; bytesSent: number; finalBytes: number; totalMs: number; downtimeMs: number };
      }
    ).result;
    rows.push(
      `| ${memoryMiB} MiB | ${label} | ${res.rounds} | ${(res.bytesSent / 2 ** 20).toFixed(1)} MiB | ${(res.finalBytes / 2 ** 20).toFixed(1)} MiB | ${(wall / 1000).toFixed(2)} s | ${res.downtimeMs.toFixed(0)} ms | ${bound} ms | ${load} |`,
    );
    process.stderr.write(rows.at(-1)! + "\n");
    [at, other] = [other, at];
    name = as;
    return true;
  };

  await migrate("idle");
  for (const rate of rates) {
    // The marker is computed by the shell, so the echoed command line does not match it.
    const mark = `M${1000 + rate}`;
    type(at, name, `echo M$((1000+${rate})); /mnt/dirtier ${bufferMiB} ${rate} & D=$!`);
    // The rate over passes 2-5: the first one is slower (the guest kernel faults the buffer in) and
    // the next may catch up with the schedule unpaced.
    const before = await waitConsole(at, name, (t) => passes(t, mark).length >= 5, 300_000, `5 passes at ${rate} MB/s`);
    const p = passes(before, mark);
    const [p0, t0] = p[1]!;
    const [p1, t1] = p.at(-1)!;
    const reached = ((p1 - p0) * bufferMiB * 1.048576) / ((t1 - t0) / 1000);
    const label = `dirtier ${bufferMiB} MiB at ${rate === 0 ? "full speed" : `${rate} MB/s`}: ${reached.toFixed(1)} MB/s reached`;
    const source = { h: at, vm: name };
    // A guest that dirties faster than the link carries is refused at the target: once more with ten
    // times the bound, to see what it would cost.
    if ((await migrate(label)) || (await migrate(`${label} (again)`, 10 * maxDowntimeMs))) {
      const after = await waitConsole(
        at,
        name,
        (t) => passes(t).length >= 2 || t.includes("BAD"),
        300_000,
        "2 passes on the destination",
      );
      const seq = [...passes(await consoleOf(source.h, source.vm), mark), ...passes(after)].map((x) => x[0]);
      if (after.includes("BAD")) throw new Error(`the dirtier found a wrong word after the migration: ${after}`);
      seq.forEach((n, i) => {
        if (n !== seq[0]! + i) throw new Error(`pass ${n} after ${seq[i - 1]} across the migration`);
      });
    }
    type(at, name, "kill $D; wait $D");
    await new Promise((r) => setTimeout(r, 2000));
  }
} finally {
  await a.d.stop();
  await b.d.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  [
    "| guest RAM | guest activity | pre-copy rounds | data sent | sent while stopped | total | downtime | target | load avg |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n") + "\n",
);
