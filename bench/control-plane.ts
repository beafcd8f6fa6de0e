// Control-plane benchmark (issue: the Domain 0 daemon): create-to-running latency through the API,
// time to the guest's shell, and how many small idle VMs (Debian kernel + busybox at a shell) one
// host runs at once, with the daemon's and each VM's resident memory. 128 MiB is the smallest guest
// that works: Debian's 6.12 kernel with the 11.5 MiB initramfs does not boot in 64 MiB, on QEMU either.
//
//   npm run build && node dist/bench/control-plane.js [--vms N] [--memory 128]
//
// Uses the default image (typevisor image pull debian-riscv64). VMs are booted one after another
// (each to its TYPEVISOR-BOOT-OK marker), then all are left idle at their shell and measured.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Daemon } from "../src/control/Daemon.js";
import { call } from "../src/control/Client.js";
import { ensureImage } from "../src/images/index.js";

const { values } = parseArgs({
  options: { vms: { type: "string", default: "4" }, memory: { type: "string", default: "128" } },
});
const n = Number(values.vms);
const memoryMiB = Number(values.memory);

await ensureImage("debian-riscv64", { quiet: true });
const dir = mkdtempSync(join(tmpdir(), "tv-bench-cp-"));
const daemon = new Daemon({
  stateDir: dir,
  socket: join(dir, "d.sock"),
  resolveImage: (name) => ensureImage(name, { quiet: true }),
});
await daemon.start();
const ep = { socket: join(dir, "d.sock") };
const mib = (b: number) => (b / 2 ** 20).toFixed(1);

interface Row {
  name: string;
  createMs: number;
  startMs: number;
  bootS: number;
  rss?: number;
}
const rows: Row[] = [];
try {
  for (let i = 0; i < n; i++) {
    const name = `idle${i}`;
    const t0 = performance.now();
    const c = await call(ep, "POST", "/v1/vms", {
      name,
      image: "debian-riscv64",
      memoryMiB,
      append: "console=ttyS0 quiet",
    });
    if (c.status !== 201) throw new Error(`create: ${c.text}`);
    const t1 = performance.now();
    const s = await call(ep, "POST", `/v1/vms/${name}/start`);
    if (s.status !== 200) throw new Error(`start: ${s.text}`);
    const t2 = performance.now();
    for (;;) {
      const text = (await call(ep, "GET", `/v1/vms/${name}/console`)).text;
      if (text.includes("TYPEVISOR-BOOT-OK")) break;
      const v = (await call(ep, "GET", `/v1/vms/${name}`)).body as { status: string; lastExit?: unknown };
      if (v.status === "stopped")
        throw new Error(`${name} stopped during boot: ${JSON.stringify(v.lastExit)}\n${text.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    rows.push({ name, createMs: t1 - t0, startMs: t2 - t1, bootS: (performance.now() - t2) / 1000 });
    process.stderr.write(`${name}: at its shell after ${rows[i]!.bootS.toFixed(1)} s\n`);
  }
  await new Promise((r) => setTimeout(r, 3000)); // idle, stats refreshed
  let total = 0;
  for (const r of rows) {
    const st = (await call(ep, "GET", `/v1/vms/${r.name}/stats`)).body as { rssBytes: number };
    r.rss = st.rssBytes;
    total += st.rssBytes;
  }
  const daemonRss = process.memoryUsage.rss();
  console.log(`| VM | create (API) ms | start (API) ms | start to shell s | VM process RSS MiB |`);
  console.log(`|---|---|---|---|---|`);
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.createMs.toFixed(1)} | ${r.startMs.toFixed(1)} | ${r.bootS.toFixed(1)} | ${mib(r.rss!)} |`,
    );
  console.log(
    `\n${n} idle VMs of ${memoryMiB} MiB at a shell: VM processes ${mib(total)} MiB in all (${mib(total / n)} MiB each), daemon ${mib(daemonRss)} MiB`,
  );
} finally {
  await daemon.stop();
}
