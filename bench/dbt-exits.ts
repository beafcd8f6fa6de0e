// Cost of the trap-and-emulate instructions Linux runs most inside translated code (docs/DBT.md
// "Session 7: exits"): an S-mode loop of local_irq_save/restore (csrrci/csrs sstatus), one of an
// LR/SC increment and one of rdtime, translated (DbtOptions defaults: the step import's fast paths)
// against the interpreter, in the same run. Prints CPU ns per loop iteration for each.
// Usage: npx tsc -p . && node dist/bench/dbt-exits.js [iterations]
import { attachDbt } from "../src/dbt/Dbt.js";
import { setWasmTiering } from "../src/dbt/WasmTiering.js";
import { ExitReason } from "../src/riscv/Hart.js";
import { assemble } from "../test/riscv/asm.js";
import { dbtMachine, mretToS } from "../test/dbt/machine.js";

const iters = Number(process.argv[2] ?? 2_000_000);
setWasmTiering({ tierUp: false }); // Liftoff only, as VMs run translated code

const loops: Record<string, string> = {
  "csrrci/csrs sstatus (irq save/restore)": "csrrci a0, sstatus, 2\n    addi s2, s2, 1\n    csrs sstatus, a0",
  "lr.d/sc.d increment": "lr.d a0, (s0)\n    addi a0, a0, 1\n    sc.d a1, a0, (s0)",
  rdtime: "rdtime a0\n    add s2, s2, a0",
};

function run(src: string, translated: boolean): number {
  const m = dbtMachine(assemble(src), false);
  m.hart.exitMask = 1 << 3; // the final ebreak
  if (translated) attachDbt(m.hart, { hotThreshold: 32 });
  const t0 = process.cpuUsage();
  while (m.hart.run(1_000_000) === ExitReason.Budget);
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / iters;
}

for (const [name, body] of Object.entries(loops)) {
  const src = `
    li t0, 2
    csrw mcounteren, t0    # S-mode may read time
${mretToS("kmain")}
kmain:
    csrsi sstatus, 2
    li s0, 0x80100000
    li s1, ${iters}
1:  ${body}
    addi s1, s1, -1
    bnez s1, 1b
    ebreak
`;
  const interp = run(src, false);
  const dbt = run(src, true);
  console.log(
    `${name}: translated ${dbt.toFixed(1)} ns/iteration, interpreter ${interp.toFixed(1)} ns/iteration (CPU time, ${iters} iterations)`,
  );
}
