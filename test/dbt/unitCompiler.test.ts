// Translated units compiled elsewhere (src/dbt/UnitCompiler.ts, docs/DBT.md "Session 5: boot"): the
// page keeps running interpreted (or on its previous translation) until the module arrives, a page
// rewritten while its translation compiles never runs the stale code, and the result is the
// interpreter's, instruction by instruction. Once with a compiler that delivers after a delay on
// this thread (deterministic), once with the Node worker thread the CLI uses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lockstep } from "../../src/dbt/Lockstep.js";
import type { UnitCompiler } from "../../src/dbt/UnitCompiler.js";
import { CompileWorker } from "../../src/dbt/CompileWorker.js";
import { toolchainMissing } from "../riscv/asm.js";
import { pair, rewriteLoop } from "./machine.js";

const skip = toolchainMissing();

/** Compiles on this thread, but hands each module over only `delay` ready() calls later. */
class DeferredCompiler implements UnitCompiler {
  private readonly queue: { due: number; done: () => void }[] = [];
  private calls = 0;
  delivered = 0;
  constructor(private readonly delay: number) {}
  compile(bytes: Uint8Array, _pages: number, _shared: boolean, done: (m: WebAssembly.Module) => void): void {
    const m = new WebAssembly.Module(bytes);
    this.queue.push({ due: this.calls + this.delay, done: () => done(m) });
  }
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
  for (const delay of [1, 7, 50]) {
    const compiler = new DeferredCompiler(delay);
    const { a, b } = pair(rewriteLoop(500), { hotThreshold: 1, compiler });
    a.hart.exitMask = b.hart.exitMask = 1 << 3;
    const r = lockstep(a.hart, b.hart, { chunk: 300, compareRam: true });
    assert.equal(r.divergence, undefined, `delay ${delay}`);
    assert.equal(a.hart.getX(9), 500n + 1000n + 1000n);
    const st = a.dbt!.stats;
    assert.ok(st.compilesOffThread >= 2, `delay ${delay}: ${st.compilesOffThread} compiles`);
    assert.ok(compiler.delivered >= 1);
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
