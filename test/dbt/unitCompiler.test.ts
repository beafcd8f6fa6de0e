// Translated units compiled elsewhere (src/dbt/UnitCompiler.ts, docs/DBT.md "Session 5: boot"): the
// page keeps running interpreted (or on its previous translation) until the module arrives, a page
// rewritten while its translation compiles never runs the stale code, and the result is the
// interpreter's, instruction by instruction. Once with a compiler that delivers after a delay on
// this thread (deterministic), once with the Node worker thread the CLI uses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lockstep } from "../../src/dbt/Lockstep.js";
import type { CompiledUnit, UnitCompiler } from "../../src/dbt/UnitCompiler.js";
import { UnitTranslator, type TranslatorConfig } from "../../src/dbt/UnitTranslator.js";
import { CompileWorker } from "../../src/dbt/CompileWorker.js";
import { toolchainMissing } from "../riscv/asm.js";
import { pair, rewriteLoop, type DbtMachine } from "./machine.js";
import { ExitReason } from "../../src/riscv/Hart.js";
import { gpa } from "../../src/memory/Address.js";

const skip = toolchainMissing();

/**
 * Translates and compiles on this thread, and hands each unit over only `delay` ready() calls later.
 * It reads the page when the job is posted (`readAt` "post") or when it is delivered ("delivery"),
 * the two ends of what a worker thread may do.
 */
class DeferredCompiler implements UnitCompiler {
  private readonly queue: { due: number; done: () => void }[] = [];
  private readonly translators: UnitTranslator[] = [];
  private calls = 0;
  delivered = 0;
  constructor(
    private readonly delay: number,
    private readonly readAt: "post" | "delivery" = "post",
  ) {}
  addTranslator(memory: WebAssembly.Memory, config: TranslatorConfig): number {
    this.translators.push(new UnitTranslator(memory.buffer, config));
    return this.translators.length - 1;
  }
  translate(t: number, host: number, entries: number[], done: (u: CompiledUnit | undefined) => void): void {
    const make = (): CompiledUnit | undefined => {
      const code = this.translators[t]!.translate(host, entries);
      if (code === undefined) return undefined;
      return { ...code, module: new WebAssembly.Module(code.bytes), wasmBytes: code.bytes.length, ms: 0 };
    };
    const early = this.readAt === "post" ? make() : undefined;
    this.queue.push({ due: this.calls + this.delay, done: () => done(this.readAt === "post" ? early : make()) });
  }
  compile(bytes: Uint8Array, _pages: number, _shared: boolean, done: (m: WebAssembly.Module) => void): void {
    const m = new WebAssembly.Module(bytes);
    this.compiled++;
    this.queue.push({ due: this.calls + this.delay, done: () => done(m) });
  }
  compiled = 0;
  ready(): boolean {
    this.calls++;
    return this.queue.length > 0 && this.queue[0]!.due <= this.calls;
  }
  drain(): void {
    while (this.queue.length > 0 && this.queue[0]!.due <= this.calls) {
      this.delivered++;
      this.queue.shift()!.done();
    }
  }
}

test("units compiled after a delay: the interpreter's results, stale translations never run", { skip }, () => {
  for (const [delay, readAt] of [
    [1, "post"],
    [7, "post"],
    [50, "post"],
    [7, "delivery"],
    [50, "delivery"],
  ] as const) {
    const compiler = new DeferredCompiler(delay, readAt);
    // With "delivery", first translations are made here and only compiled by the compiler.
    const translateFirstHere = readAt === "delivery";
    const { a, b } = pair(rewriteLoop(500), { hotThreshold: 1, compiler, translateFirstHere });
    a.hart.exitMask = b.hart.exitMask = 1 << 3;
    const r = lockstep(a.hart, b.hart, { chunk: 300, compareRam: true });
    assert.equal(r.divergence, undefined, `delay ${delay}`);
    assert.equal(a.hart.getX(9), 500n + 1000n + 1000n);
    const st = a.dbt!.stats;
    assert.ok(st.compilesOffThread >= 2, `delay ${delay}: ${st.compilesOffThread} compiles`);
    assert.ok(compiler.delivered >= 1);
    assert.equal(compiler.compiled > 0, translateFirstHere);
    // With a long delay a rewritten loop finishes interpreted before its new translation arrives.
    assert.ok(
      st.translatedInsns > (delay < 10 ? 0.5 * a.hart.instret : 0),
      `delay ${delay}: ${st.translatedInsns} translated`,
    );
  }
});

test("units compiled on the worker thread run as the interpreter does", { skip, timeout: 60_000 }, async () => {
  const compiler = new CompileWorker();
  try {
    const { a, b } = pair(rewriteLoop(400_000), { hotThreshold: 1, compiler });
    a.hart.exitMask = b.hart.exitMask = 1 << 3;
    // The first dispatch posts the page's translation and starts the worker, whose start (loading the
    // translator) took seconds on a loaded host: wait for its first reply, so that the run below
    // checks translated code rather than how fast a thread starts (3 of 17 runs at load 14-16 ran
    // the whole program before the first unit arrived).
    for (const m of [a, b]) assert.equal(m.hart.run(16), ExitReason.Budget);
    const until = Date.now() + 30_000;
    while (!compiler.ready() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    const r = lockstep(a.hart, b.hart, { chunk: 5000 });
    assert.equal(r.divergence, undefined);
    assert.equal(a.hart.getX(9), 400_000n + 800_000n + 800_000n);
    const st = a.dbt!.stats;
    assert.ok(st.compilesOffThread >= 2, `${st.compilesOffThread} compiles`);
    // The worker's first module comes after its start (tens of ms): most of the rest runs translated.
    assert.ok(st.translatedInsns > 0.3 * a.hart.instret, `${st.translatedInsns} of ${a.hart.instret} translated`);
  } finally {
    await compiler.close();
  }
});

/** A loop of `n` iterations adding 1 to s1 (the instruction at `patch`, which the tests rewrite to add 2). */
const patchLoop = (n: number, storeEach: boolean): string => `
    li s1, 0
    li s0, ${n}
    la t1, patch
    li t2, 0x00248493      # addi s1, s1, 2
loop:
    .option push
    .option norvc
patch:
    addi s1, s1, 1
    .option pop
    ${storeEach ? "sw t2, 0(t1)" : "nop"}
    addi s0, s0, -1
    bnez s0, loop
    ebreak
`;
const ADDI_2 = new Uint8Array([0x93, 0x84, 0x24, 0x00]);

/** The page (patch's) is translated on the first dispatch and rewritten by the host before the unit arrives. */
function hostWriteInFlight(
  compiler: UnitCompiler,
  wait: () => void,
  hostWritesReported = false,
): { s1: bigint; a: DbtMachine; b: DbtMachine } {
  const { a, b } = pair(patchLoop(1000, false), { hotThreshold: 1, compiler, hostWritesReported });
  for (const m of [a, b]) {
    m.hart.exitMask = 1 << 3;
    // 16 interpreted instructions: the translation is posted at the first dispatch.
    assert.equal(m.hart.run(16), ExitReason.Budget);
  }
  assert.ok(a.dbt!.stats.compilesOffThread >= 1);
  // As a loader or a device's DMA would: between run() calls, not reported to the translator.
  for (const m of [a, b]) m.memory.write(gpa(Number(m.hart.getX(6))), ADDI_2); // t1 = patch
  wait();
  const r = lockstep(a.hart, b.hart, { chunk: 100, compareRam: true });
  assert.equal(r.divergence, undefined);
  return { s1: a.hart.getX(9), a, b };
}

test("a page the host writes while its translation is in flight never runs stale code", { skip }, () => {
  for (const readAt of ["post", "delivery"] as const)
    for (const reported of [false, true]) {
      const { s1, a } = hostWriteInFlight(new DeferredCompiler(3, readAt), () => {}, reported);
      // The first 16 instructions ran 3 iterations with +1 (4 set-up instructions, 4 per iteration).
      assert.equal(s1, 3n + 2n * 997n, `${readAt}, reported ${reported}`);
      // Compared and dropped when it arrived, or (GuestMemory reports the write) cancelled in flight.
      if (readAt === "post") assert.ok(a.dbt!.stats.invalidations >= 1, "the stale unit was dropped");
      if (reported) assert.ok(a.dbt!.stats.compilesDiscarded >= 1, "the job in flight was cancelled");
    }
});

/** Waits (blocking this thread) until the worker has posted a reply. */
function waitForWorker(c: CompileWorker): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 2000 && !c.ready(); i++) Atomics.wait(sleeper, 0, 0, 5);
  assert.ok(c.ready(), "the worker replied within 10 s");
}

test(
  "pages written while the worker translates them: host writes and the guest's own stores",
  { skip, timeout: 60_000 },
  async () => {
    const compiler = new CompileWorker();
    try {
      const { s1 } = hostWriteInFlight(compiler, () => waitForWorker(compiler));
      assert.equal(s1, 3n + 2n * 997n);
      // The loop stores to its own page every iteration: the store in the first 16 instructions (after
      // the job was posted, before the worker's reply can have been taken) cancels it.
      const { a, b } = pair(patchLoop(1000, true), { hotThreshold: 1, compiler });
      for (const m of [a, b]) {
        m.hart.exitMask = 1 << 3;
        assert.equal(m.hart.run(16), ExitReason.Budget);
      }
      assert.ok(a.dbt!.stats.compilesDiscarded >= 1, "the translation in flight was cancelled");
      waitForWorker(compiler);
      const r = lockstep(a.hart, b.hart, { chunk: 100, compareRam: true });
      assert.equal(r.divergence, undefined);
      assert.equal(a.hart.getX(9), 1n + 2n * 999n);
    } finally {
      await compiler.close();
    }
  },
);
