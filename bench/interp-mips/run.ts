// Interpreter MIPS benchmark: one CPU-bound RV64 program (kernel.c), built now with the Debian
// cross compiler, run on qemu-riscv64 (user mode, JIT) and on Typevisor's hart (interpreter,
// in-process, ecall write/exit served by this script) in the same run. Prints Typevisor's guest
// MIPS (instructions retired / seconds), QEMU's wall time for the same program and the ratio.
//
//   npx tsc -p . && node dist/bench/interp-mips/run.js [--rounds N] [--repeat K] [--dbt] [--hot-tier N]
// --dbt also runs it with the binary translator (src/dbt) attached, when that exists; --hot-tier N
// compiles a unit again with TurboFan once it has run N instructions (DbtOptions.hotTier; 0: never;
// default the translator's, which this short program does not reach).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { parseElf, PT_LOAD } from "../../src/boot/Elf.js";
import { loadElf, loadSpan } from "../../src/boot/ElfLoader.js";
import { GuestMemory } from "../../src/memory/GuestMemory.js";
import { IoBus } from "../../src/memory/IoBus.js";
import { Hart, ExitReason, PRIV_M } from "../../src/riscv/Hart.js";
import { CSR_MSTATUS, MS_FS_SHIFT } from "../../src/riscv/Csr.js";
import { gpa } from "../../src/memory/Address.js";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "1500" },
    repeat: { type: "string", default: "1" },
    dbt: { type: "boolean", default: false },
    "hot-tier": { type: "string" },
  },
});
const rounds = Number(values.rounds);
const repeat = Math.max(1, Number(values.repeat));
const src = fileURLToPath(new URL("../../../bench/interp-mips/kernel.c", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tv-bench-"));
const elfPath = join(dir, "kernel");
const cc = spawnSync(
  "riscv64-linux-gnu-gcc",
  [
    "-O2",
    "-static",
    "-nostdlib",
    "-fno-stack-protector",
    "-fno-builtin",
    "-march=rv64gc",
    "-mabi=lp64d",
    `-DROUNDS=${rounds}`,
    "-o",
    elfPath,
    src,
  ],
  { encoding: "utf8" },
);
if (cc.status !== 0) {
  process.stderr.write(
    `interp-mips: cannot build kernel.c (need gcc-riscv64-linux-gnu): ${cc.error ? String(cc.error) : cc.stderr}\n`,
  );
  process.exit(2);
}

function runQemu(): { seconds: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync("qemu-riscv64", [elfPath], { encoding: "utf8" });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`qemu-riscv64 failed: ${r.error ? String(r.error) : r.stderr}`);
  return { seconds, out: r.stdout };
}

type Attach = { bytes: number; attach(h: Hart): void };
async function loadDbt(): Promise<Attach | string> {
  try {
    const mod = (await import(new URL("../../src/dbt/Dbt.js", import.meta.url).href)) as Record<string, unknown>;
    const attach = mod["attachDbt"],
      bytes = mod["DBT_ENGINE_BYTES"];
    if (typeof attach !== "function" || typeof bytes !== "number")
      return "src/dbt/Dbt.ts lacks attachDbt/DBT_ENGINE_BYTES";
    // As typevisor's VMs and run-elf run it: Liftoff only (src/dbt/WasmTiering.ts).
    const tiering = (await import(new URL("../../src/dbt/WasmTiering.js", import.meta.url).href)) as {
      setWasmTiering(t: { tierUp: boolean }): void;
    };
    tiering.setWasmTiering({ tierUp: false });
    return {
      bytes,
      attach: (h) => {
        const hotTier = values["hot-tier"];
        (attach as (h: Hart, o: { hotTier?: number }) => unknown)(
          h,
          hotTier === undefined ? {} : { hotTier: Number(hotTier) },
        );
      },
    };
  } catch (e) {
    return `binary translator not available: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function runTypevisor(dbt?: Attach): { seconds: number; out: string; instret: number } {
  const elf = parseElf(readFileSync(elfPath), elfPath);
  const span = loadSpan(elf, true);
  const base = Math.floor(span.low / 4096) * 4096;
  const size = 16 << 20;
  const memory = new GuestMemory({ base, size, shared: dbt !== undefined, engineBytes: dbt?.bytes });
  loadElf(elf, memory, true);
  void PT_LOAD;
  const hart = new Hart({ memory, bus: new IoBus() });
  hart.priv = PRIV_M;
  hart.writeCsr(CSR_MSTATUS, 1n << BigInt(MS_FS_SHIFT)); // FS = Initial
  hart.exitMask = 0xffff_ffff;
  hart.setPc(elf.entry);
  hart.setX(2, BigInt(base + size - 64)); // sp at the top of RAM, as a Linux stack would be
  dbt?.attach(hart);
  let out = "";
  const t0 = performance.now();
  for (;;) {
    const reason = hart.run(10_000_000);
    if (reason !== ExitReason.Trap) continue;
    if (hart.exitCause !== 11)
      throw new Error(`Typevisor: exception ${hart.exitCause} at 0x${hart.getPc().toString(16)}`);
    const nr = Number(hart.getX(17));
    if (nr === 93) break;
    if (nr === 64)
      out += Buffer.from(memory.read(gpa(Number(hart.getX(11))), Number(hart.getX(12)))).toString("latin1");
    hart.setPc(hart.getPc() + 4n);
  }
  return { seconds: (performance.now() - t0) / 1000, out, instret: hart.instret };
}

const q = runQemu();
let best: { seconds: number; out: string; instret: number } | undefined;
for (let k = 0; k < repeat; k++) {
  const t = runTypevisor();
  if (!best || t.seconds < best.seconds) best = t;
}
let dbtLine = "";
if (values.dbt) {
  const d = await loadDbt();
  if (typeof d === "string") dbtLine = `  typevisor + translator: skipped (${d})`;
  else {
    const r = runTypevisor(d);
    dbtLine = `  typevisor + translator:  ${r.seconds.toFixed(2)} s  ${(r.instret / r.seconds / 1e6).toFixed(1)} MIPS  ${((r.seconds * 1e9) / r.instret).toFixed(2)} ns/insn  ratio to qemu ${(r.seconds / q.seconds).toFixed(1)}x  output ${r.out === q.out ? "matches" : "DIFFERS"}`;
  }
}
rmSync(dir, { recursive: true, force: true });
const t = best!;
const mips = t.instret / t.seconds / 1e6;
const qmips = t.instret / q.seconds / 1e6;
const same = t.out === q.out;
process.stdout.write(
  [
    `interp-mips: kernel.c, ${rounds} rounds, ${t.instret} instructions retired`,
    `  typevisor (interpreter): ${t.seconds.toFixed(2)} s  ${mips.toFixed(1)} MIPS  output ${JSON.stringify(t.out.trim())}`,
    `  qemu-riscv64 (JIT):      ${q.seconds.toFixed(2)} s  ${qmips.toFixed(1)} MIPS equivalent (wall time incl. start-up)  output ${JSON.stringify(q.out.trim())}`,
    `  ratio typevisor/qemu time: ${(t.seconds / q.seconds).toFixed(1)}x slower`,
    `  outputs ${same ? "match" : "DIFFER"}`,
    ...(dbtLine ? [dbtLine] : []),
    "",
  ].join("\n"),
);
process.exitCode = same ? 0 : 1;
