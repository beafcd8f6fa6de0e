// Speed of a CPU-bound loop: Typevisor's hart (interpreter, or translated code with --dbt) against
// Debian's qemu-riscv64 (user mode, TCG) and, with --dbt, against the same loop written by hand in
// WebAssembly (guest registers in wasm locals, no TLB check: what a translator can at best reach in
// wasm) compiled with the same V8 tiering, all in the same run. Prints guest MIPS and ns per guest
// instruction (CPU time) for each, and the ratios.
// Usage: npx tsc -p . && node dist/bench/hart-loop.js [iterations] [--dbt] [--tier liftoff|hot|turbofan] [--calls] [--tailcalls]
// --tier: V8's wasm tiering for translated and hand-written wasm: liftoff (default) as VMs and run-elf
// run code at first, hot as VMs run a unit that stays hot (Liftoff, then TurboFan once the unit has
// run 10 M instructions: DbtOptions.hotTier; the hand-written loop gets TurboFan too), turbofan: V8's
// own tier-up, as exec runs it.
// --calls: a loop whose every iteration leaves its page three times (a call into a second page, a
// jump from there into a third, a return from there), 11 instructions per iteration: the cost of
// transitions between translated units (docs/DBT.md "Session 7: chaining"); no hand-written wasm.
// --tailcalls: units tail-call the next unit at every such exit instead of returning to the
// trampoline (DbtOptions.tailCalls), for comparing both in one build.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { assemble, machine } from "../test/riscv/asm.js";
import { attachDbt, DBT_ENGINE_BYTES } from "../src/dbt/Dbt.js";
import { setWasmTiering } from "../src/dbt/WasmTiering.js";
import { registeredTierUp } from "../src/dbt/TierUp.js";
import { CodeWriter, Op, ValType, WasmModuleBuilder } from "../src/dbt/WasmModuleBuilder.js";
import { GuestMemory } from "../src/memory/GuestMemory.js";
import { IoBus } from "../src/memory/IoBus.js";
import { Hart, PRIV_M } from "../src/riscv/Hart.js";
import { gpa } from "../src/memory/Address.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dbt: { type: "boolean", default: false },
    tier: { type: "string", default: "liftoff" },
    calls: { type: "boolean", default: false },
    tailcalls: { type: "boolean", default: false },
  },
});
const iters = Number(positionals[0] ?? 5_000_000);
const tier = values.tier;
if (tier !== "liftoff" && tier !== "hot" && tier !== "turbofan") throw new Error("--tier is liftoff, hot or turbofan");
setWasmTiering({ tierUp: tier === "turbofan" });
// 12 instructions per iteration: ALU, 64-bit shifts, mul, a load/store pair, compressed forms, a branch.
const loopBody = `
    li s0, ${iters}
    li s1, 0x12345
    la s2, buf
1:  add s1, s1, s0
    slli t0, s1, 13
    xor s1, s1, t0
    srli t0, s1, 7
    xor s1, s1, t0
    mul t1, s1, s0
    sd t1, 0(s2)
    ld t2, 0(s2)
    add s1, s1, t2
    andi t3, s1, 0xff
    addi s0, s0, -1
    bnez s0, 1b
`;
// --calls: 11 instructions (call = auipc + jalr) and three unit-to-unit transitions per iteration (JAL, JAL, JALR).
const callsBody = `
    li s0, ${iters}
    li s1, 0x12345
1:  add s1, s1, s0
    call f1
    addi s0, s0, -1
    bnez s0, 1b
`;
const callsFuncs = `
    .balign 4096
f1: slli t0, s1, 13
    xor s1, s1, t0
    j f2
    .balign 4096
f2: srli t0, s1, 7
    xor s1, s1, t0
    ret
`;
const body = values.calls ? callsBody : loopBody;
/** Code after the program's end (the --calls functions). */
const funcs = values.calls ? callsFuncs : "";
const PER_ITER = values.calls ? 11 : 12;

/** CPU seconds (user + sys) of this process spent in f. */
function cpu<T>(f: () => T): { secs: number; wall: number; r: T } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = f();
  const wall = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  return { secs: (cu.user + cu.system) / 1e6, wall, r };
}
const ns = (secs: number, n: number) => ((secs * 1e9) / n).toFixed(3);

const code = assemble(`${body}\n ebreak\n${funcs}\n.data\n.align 3\nbuf: .dword 0\n`);
let m: ReturnType<typeof machine>;
if (values.dbt) {
  // As a VM's hart: the translator attached with its default options (hot threshold included).
  const memory = new GuestMemory({ base: 0x8000_0000, size: 4 << 20, shared: true, engineBytes: DBT_ENGINE_BYTES });
  memory.write(gpa(0x8000_0000), code);
  const hart = new Hart({ memory, bus: new IoBus("bench"), hartId: 0 });
  attachDbt(hart, { hotTier: tier === "hot" ? 10_000_000 : 0, tailCalls: values.tailcalls });
  hart.priv = PRIV_M;
  hart.setPc(0x8000_0000n);
  m = { memory, hart } as ReturnType<typeof machine>;
} else m = machine(code);
m.hart.exitMask = 1 << 3;
const tv = cpu(() => m.hart.run(Number.MAX_SAFE_INTEGER));
if (tv.r !== 1) throw new Error(`unexpected exit ${tv.r}`);
const n = m.hart.instret;
const checksum = m.hart.getX(9);
console.log(
  `typevisor ${values.dbt ? `translated (${tier})` : "interpreter"}: ${n} instructions in ${tv.secs.toFixed(3)} s CPU (${tv.wall.toFixed(3)} s wall) = ${(n / tv.secs / 1e6).toFixed(1)} MIPS, ${ns(tv.secs, n)} ns/insn (checksum ${checksum.toString(16)})`,
);

if (values.dbt && !values.calls) {
  // The same loop by hand: s0, s1, t0..t3 in i64 locals, buf a fixed address of a wasm memory.
  const b = new WasmModuleBuilder();
  b.importMemory("e", "m", 1, 1, false);
  const c = new CodeWriter();
  const S0 = 1,
    S1 = 2,
    T0 = 3,
    T1 = 4,
    T2 = 5,
    T3 = 6;
  c.localGet(0).op(Op.I64ExtendI32U).localSet(S0).i64Const(0x12345, 0).localSet(S1);
  c.loop();
  c.localGet(S1).localGet(S0).op(Op.I64Add).localSet(S1);
  c.localGet(S1).i64Const(13, 0).op(Op.I64Shl).localSet(T0);
  c.localGet(S1).localGet(T0).op(Op.I64Xor).localSet(S1);
  c.localGet(S1).i64Const(7, 0).op(Op.I64ShrU).localSet(T0);
  c.localGet(S1).localGet(T0).op(Op.I64Xor).localSet(S1);
  c.localGet(S1).localGet(S0).op(Op.I64Mul).localSet(T1);
  c.i32Const(64).localGet(T1).mem(Op.I64Store, 3, 0);
  c.i32Const(64).mem(Op.I64Load, 3, 0).localSet(T2);
  c.localGet(S1).localGet(T2).op(Op.I64Add).localSet(S1);
  c.localGet(S1).i64Const(0xff, 0).op(Op.I64And).localSet(T3);
  c.localGet(S0).i64Const(-1, -1).op(Op.I64Add).localTee(S0).op(Op.I64Eqz).op(Op.I32Eqz).brIf(0);
  c.end();
  c.localGet(S1);
  b.addFunction([ValType.I32], [ValType.I64], Array<ValType>(6).fill(ValType.I64), c, "loop");
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(b.build()), { e: { m: mem } });
  const loop = inst.exports["loop"] as (n: number) => bigint;
  if (tier === "hot") registeredTierUp()?.(loop);
  loop(1000); // compiled (lazily) and run once, as the translated unit was before its hot loop
  const hw = cpu(() => loop(iters));
  const hn = iters * PER_ITER;
  if (BigInt.asUintN(64, hw.r) !== checksum) throw new Error("hand-written wasm computed another checksum");
  console.log(
    `hand-written wasm (${tier}):   ${hn} instructions in ${hw.secs.toFixed(3)} s CPU = ${(hn / hw.secs / 1e6).toFixed(1)} MIPS, ${ns(hw.secs, hn)} ns/insn`,
  );
  console.log(`ratio translated/hand-written wasm (ns per instruction): ${(tv.secs / n / (hw.secs / hn)).toFixed(2)}x`);
}

// The same loop as a Linux user program under qemu-riscv64.
const dir = mkdtempSync(join(tmpdir(), "tv-bench-"));
try {
  writeFileSync(
    join(dir, "b.S"),
    `.globl _start\n_start:\n${body}\n li a7, 93\n li a0, 0\n ecall\n${funcs}\n.data\n.align 3\nbuf: .dword 0\n`,
  );
  execFileSync("riscv64-linux-gnu-as", ["-march=rv64gc", "-o", join(dir, "b.o"), join(dir, "b.S")]);
  execFileSync("riscv64-linux-gnu-ld", ["-static", "-o", join(dir, "b"), join(dir, "b.o")]);
  // qemu's CPU time, as the child's rusage (includes its start-up).
  const out = execFileSync("bash", ["-c", `TIMEFORMAT=%U+%S; { time qemu-riscv64 ${join(dir, "b")}; } 2>&1`])
    .toString()
    .trim();
  const [u, sy] = out.split("+").map(Number);
  const qs = (u ?? 0) + (sy ?? 0);
  const qn = iters * PER_ITER;
  console.log(
    `qemu-riscv64:   ${qn} instructions in ${qs.toFixed(3)} s = ${(qn / qs / 1e6).toFixed(1)} MIPS CPU time, ${ns(qs, qn)} ns/insn (includes process start)`,
  );
  console.log(`ratio typevisor/qemu (MIPS): ${(n / tv.secs / (qn / qs)).toFixed(3)}`);
} catch (e) {
  console.log(`qemu-riscv64 comparison skipped: ${(e as Error).message.split("\n")[0]}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
