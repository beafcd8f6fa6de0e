// Boot-to-marker in the browser against the same boot under Node, in the same run (issue 20): the
// browser's share of the engine's speed. Both boot debian-riscv64 (kernel, initramfs, data disk held
// in memory) through the embedding API with the same memory, engine and kernel command line, and
// time from the boot call to the initramfs marker TYPEVISOR-BOOT-OK (printed by the image's init
// once the disk is mounted), plus the guest MIPS over that time.
//
//   npx tsc -p . && npm run bundle:web && node dist/bench/web-boot.js [--memory 256M] [--engine dbt] [--cpus 1] [--runs 1]
//
// --cpus N (N > 1): each vCPU on its own thread on both sides (worker_threads / Web Workers).
//
// Node: in this process with V8 Liftoff-only, as `typevisor run` boots (src/dbt/WasmTiering.ts).
// Chromium: Debian's /usr/bin/chromium headless via playwright-core, the page served by
// `typevisor web`'s server, measured inside the page (the VM runs in a Web Worker); once with
// Chromium's default tiering and once with --js-flags=--liftoff-only, the same V8 flag as Node.
// Runs alternate Node / Chromium so host load drifts hit both alike.
import { readFileSync } from "node:fs";
import { ensureImage } from "../src/images/index.js";
import { boot } from "../src/web/Typevisor.js";
import { serveWeb } from "../src/cli/commands/web.js";
import { setWasmTiering } from "../src/dbt/WasmTiering.js";
import { CHROMIUM } from "../test/web/browser.js";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : dflt);
const memory = opt("--memory", "256M");
const engine = opt("--engine", "dbt") as "dbt" | "interp";
const runs = Number(opt("--runs", "1"));
const cpus = Number(opt("--cpus", "1"));
const MARK = "TYPEVISOR-BOOT-OK";
const append = "console=ttyS0 quiet";

interface Result {
  seconds: number;
  mips: number;
}

async function nodeBoot(img: { kernel: string; initrd: string; disk: string }): Promise<Result> {
  const t0 = performance.now();
  const vm = await boot({
    kernel: readFileSync(img.kernel),
    initrd: readFileSync(img.initrd),
    disks: [readFileSync(img.disk)],
    memory,
    engine,
    append,
    cpus,
  });
  let out = "";
  const seconds = await new Promise<number>((resolve) => {
    vm.on("console", (b) => {
      out += Buffer.from(b).toString("latin1");
      if (out.includes(MARK)) resolve((performance.now() - t0) / 1000);
      else if (out.length > 65536) out = out.slice(-1024);
    });
  });
  const s = await vm.stats();
  vm.stop();
  await vm.exited;
  return { seconds, mips: s.instructions / seconds / 1e6 };
}

async function chromiumBoot(url: string, liftoffOnly: boolean): Promise<Result> {
  const { chromium } = await import("playwright-core");
  const args = [
    ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
    ...(liftoffOnly ? ["--js-flags=--liftoff-only"] : []),
  ];
  const browser = await chromium.launch({ executablePath: CHROMIUM, args });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    // Measured in the page: from Typevisor.boot() (files are fetched from localhost first, as the
    // Node side reads them from disk) to the marker on the console.
    const r = (await page.evaluate(
      `(async () => {
        const { boot } = await import("./typevisor.js");
        const t0 = performance.now();
        const vm = await boot({ kernel: "image/kernel", initrd: "image/initrd", disks: ["image/disk"],
          memory: ${JSON.stringify(memory)}, engine: ${JSON.stringify(engine)}, append: ${JSON.stringify(append)},
          cpus: ${cpus} });
        const dec = new TextDecoder("latin1");
        let out = "";
        const seconds = await new Promise((resolve) => vm.on("console", (b) => {
          out += dec.decode(b);
          if (out.includes(${JSON.stringify(MARK)})) resolve((performance.now() - t0) / 1000);
          else if (out.length > 65536) out = out.slice(-1024);
        }));
        const s = await vm.stats();
        vm.stop();
        return { seconds, mips: s.instructions / seconds / 1e6 };
      })()`,
    )) as Result;
    return r;
  } finally {
    await browser.close();
  }
}

const img = await ensureImage("debian-riscv64", { quiet: true });
setWasmTiering({ tierUp: false });
// An empty boot.json: the page loads, and the bench boots through the embedding library itself.
const web = await serveWeb({
  port: 0,
  files: img,
  boot: { name: "bench", kernel: "image/kernel", initrd: "image/initrd", disks: ["image/disk"], append, memory },
});
const rows: [string, Result][] = [];
try {
  for (let i = 0; i < runs; i++) {
    rows.push(["node (liftoff-only)", await nodeBoot(img)]);
    rows.push(["chromium (liftoff-only)", await chromiumBoot(`${web.url}bench-blank`, true)]);
    rows.push(["chromium (default tiering)", await chromiumBoot(`${web.url}bench-blank`, false)]);
  }
} finally {
  await web.close();
}
console.log(`boot to ${MARK}, debian-riscv64, --memory ${memory}, --engine ${engine}, --cpus ${cpus}, ${runs} run(s)`);
for (const [what, r] of rows)
  console.log(`${what.padEnd(28)} ${r.seconds.toFixed(1).padStart(6)} s  ${r.mips.toFixed(1).padStart(6)} MIPS`);
const avg = (name: string) => {
  const rs = rows.filter(([w]) => w === name).map(([, r]) => r.seconds);
  return rs.reduce((a, b) => a + b, 0) / rs.length;
};
const n = avg("node (liftoff-only)");
console.log(
  `chromium/node time: liftoff-only ${(avg("chromium (liftoff-only)") / n).toFixed(2)}x, default tiering ${(avg("chromium (default tiering)") / n).toFixed(2)}x`,
);
